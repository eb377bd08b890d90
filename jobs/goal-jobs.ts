import { Command } from '@langchain/langgraph';
import type { Logger } from 'pino';
import type { SpineJob } from '../core/jobs.ts';
import type { Repositories } from '../db/repositories/index.ts';
import type { GoalGraph } from '../graphs/goal/graph.ts';

export interface GoalJobDeps {
  graph: GoalGraph;
  repos: Repositories;
  logger: Logger;
}

function threadConfig(goalId: number) {
  return { configurable: { thread_id: String(goalId) } };
}

/** Where a goal's graph stands, from its latest checkpoint. */
async function graphPosition(graph: GoalGraph, goalId: number) {
  const snapshot = await graph.getState(threadConfig(goalId));
  const started = Boolean(snapshot.config?.configurable?.checkpoint_id);
  const waiting = snapshot.tasks.some((task) => (task.interrupts?.length ?? 0) > 0);
  return { started, waiting, finished: started && snapshot.next.length === 0 };
}

/**
 * Run (or continue) a goal's graph. At-least-once safe: a second run of the same job finds the
 * checkpoint and either continues where the first stopped or does nothing.
 */
export async function runGoal(deps: GoalJobDeps, goalId: number): Promise<void> {
  const goal = await deps.repos.goals.get(goalId);
  if (!goal) {
    deps.logger.warn({ goalId }, 'run-goal for a goal that does not exist');
    return;
  }
  const position = await graphPosition(deps.graph, goalId);
  if (!position.started) {
    await deps.graph.invoke(
      {
        goalId: goal.id,
        operatorId: goal.operatorId,
        text: goal.text,
        channel: goal.channel,
        requestedBy: goal.requestedBy,
      },
      threadConfig(goalId),
    );
  } else if (!position.waiting && !position.finished) {
    // A crash stopped it mid-way: continue from the last checkpoint.
    await deps.graph.invoke(null, threadConfig(goalId));
  }
}

/** Resume a goal after an approval was decided. A second resume of the same approval does nothing. */
export async function resumeGoal(deps: GoalJobDeps, goalId: number, approvalId: number): Promise<void> {
  const position = await graphPosition(deps.graph, goalId);
  if (position.waiting) {
    await deps.graph.invoke(new Command({ resume: { approvalId } }), threadConfig(goalId));
  } else if (position.started && !position.finished) {
    await deps.graph.invoke(null, threadConfig(goalId));
  } else if (!position.started) {
    await runGoal(deps, goalId);
  }
}

/** Dispatch a job to its handler. */
export async function handleJob(deps: GoalJobDeps, job: SpineJob): Promise<void> {
  switch (job.name) {
    case 'run-goal':
      return runGoal(deps, job.data.goalId);
    case 'resume-goal':
      return resumeGoal(deps, job.data.goalId, job.data.approvalId);
    default:
      throw new Error(`the goal job handler cannot run a ${job.name} job`);
  }
}

/** The goal a job works on: jobs of one goal never run at the same time. */
export function goalOf(job: SpineJob): number | string {
  return 'goalId' in job.data ? job.data.goalId : job.name;
}
