import { Command } from '@langchain/langgraph';
import type { Logger } from 'pino';
import type { Approval, Goal } from '../core/domain.ts';
import { type GoalJob, jobGroupOf, type SpineJob } from '../core/jobs.ts';
import type { Repositories } from '../db/repositories/index.ts';
import type { GoalGraph } from '../graphs/goal/graph.ts';

export interface GoalJobDeps {
  graph: GoalGraph;
  repos: Repositories;
  logger: Logger;
  /** Told after each step of a goal's graph (progress for long jobs). */
  onStep?: (goalId: number, step: string) => Promise<void> | void;
}

type GraphInput = Parameters<GoalGraph['invoke']>[0];

/** Run the graph to its next stop, reporting each finished step. */
async function advance(deps: GoalJobDeps, goalId: number, input: GraphInput): Promise<void> {
  if (!deps.onStep) {
    await deps.graph.invoke(input, threadConfig(goalId));
    return;
  }
  const stream = await deps.graph.stream(input, { ...threadConfig(goalId), streamMode: 'updates' });
  for await (const update of stream) {
    for (const step of Object.keys(update as Record<string, unknown>)) await deps.onStep(goalId, step);
  }
}

function threadConfig(goalId: number) {
  return { configurable: { thread_id: String(goalId) } };
}

/** Where a goal's graph stands, from its latest checkpoint. */
async function graphPosition(graph: GoalGraph, goalId: number) {
  const snapshot = await graph.getState(threadConfig(goalId));
  const started = Boolean(snapshot.config?.configurable?.checkpoint_id);
  const waiting = snapshot.tasks.some((task) => (task.interrupts?.length ?? 0) > 0);
  const outcomes = (snapshot.values as { outcomes?: Array<{ status: string }> } | undefined)?.outcomes ?? [];
  return {
    started,
    waiting,
    // At the end no task is left. A task that ran but whose next checkpoint was never written (a
    // crash in between) is no longer in `next` but still in `tasks`, with its writes: not finished,
    // and invoking again applies those writes and carries on.
    finished: started && snapshot.next.length === 0 && snapshot.tasks.length === 0,
    failed: outcomes.some((outcome) => outcome.status === 'failed'),
  };
}

/**
 * A goal whose graph finished but whose row still says it runs (an older build, or a crash between
 * the last checkpoint and the status): the checkpoint is the truth, so the row is closed to match.
 * Without this, recovery would re-enqueue it forever and every run would find nothing to do.
 */
async function closeFinished(deps: GoalJobDeps, goal: { id: number; status: string }, failed: boolean) {
  if (goal.status !== 'received' && goal.status !== 'running') return;
  await deps.repos.goals.setStatus(goal.id, failed ? 'failed' : 'done');
  deps.logger.warn({ goalId: goal.id, was: goal.status }, 'closed a goal whose graph had finished');
}

/**
 * The approval a graph parked at `interrupt()` should be woken with, or null when it truly waits.
 * A decision not yet carried onto its action (a crash between the decision and the resume) wakes
 * it; so does a wait with nothing left pending (a crash inside the resume, after the decisions
 * were carried): the await-approval node re-runs from its top and its writes are compare-and-sets.
 */
async function approvalToResume(deps: GoalJobDeps, goalId: number): Promise<Approval | null> {
  const approvals = await deps.repos.approvals.listForGoal(goalId);
  const decided = approvals.filter((approval) => approval.status !== 'pending');
  for (const approval of decided) {
    const action = await deps.repos.actions.get(approval.actionId);
    if (action?.status === 'awaiting_approval') return approval;
  }
  const pending = approvals.length - decided.length;
  return pending === 0 ? (decided.at(-1) ?? null) : null;
}

/**
 * A goal parked at an approval, found by a run-goal job whatever its row says (recovery enqueues
 * run-goal for every goal whose row says received or running). If a decision waits to be carried,
 * resume the graph exactly as resume-goal would; if the operator has not decided yet, the row is
 * corrected to `awaiting_approval` so the status and digest say so, and nothing else happens.
 */
async function settleWaiting(deps: GoalJobDeps, goal: Goal): Promise<void> {
  // A cancelled (or otherwise closed) goal stays parked: only an explicit resume-goal wakes it.
  if (goal.status !== 'received' && goal.status !== 'running' && goal.status !== 'awaiting_approval') return;
  const approval = await approvalToResume(deps, goal.id);
  if (approval) {
    deps.logger.info(
      { goalId: goal.id, approvalId: approval.id, was: goal.status },
      'resuming a goal whose decided approval was never resumed',
    );
    await advance(deps, goal.id, new Command({ resume: { approvalId: approval.id } }));
    return;
  }
  if (await deps.repos.goals.markAwaitingApproval(goal.id))
    deps.logger.warn({ goalId: goal.id, was: goal.status }, 'corrected a waiting goal whose row said it ran');
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
  if (
    !position.started &&
    (goal.status === 'done' || goal.status === 'failed' || goal.status === 'cancelled')
  ) {
    // A settled goal whose checkpoints retention pruned: a late job must not start it again.
    deps.logger.info({ goalId, status: goal.status }, 'run-goal for a settled goal: nothing to do');
    return;
  }
  if (!position.started) {
    await advance(deps, goalId, {
      goalId: goal.id,
      operatorId: goal.operatorId,
      text: goal.text,
      channel: goal.channel,
      requestedBy: goal.requestedBy,
    });
  } else if (position.waiting) {
    await settleWaiting(deps, goal);
  } else if (!position.finished) {
    // A crash stopped it mid-way: continue from the last checkpoint.
    await advance(deps, goalId, null);
  } else {
    await closeFinished(deps, goal, position.failed);
  }
}

/** Resume a goal after an approval was decided. A second resume of the same approval does nothing. */
export async function resumeGoal(deps: GoalJobDeps, goalId: number, approvalId: number): Promise<void> {
  const position = await graphPosition(deps.graph, goalId);
  if (position.waiting) {
    await advance(deps, goalId, new Command({ resume: { approvalId } }));
  } else if (position.started && !position.finished) {
    await advance(deps, goalId, null);
  } else if (!position.started) {
    await runGoal(deps, goalId);
  }
}

/** Dispatch a goal job to its handler. */
export async function handleJob(deps: GoalJobDeps, job: GoalJob): Promise<void> {
  switch (job.name) {
    case 'run-goal':
      return runGoal(deps, job.data.goalId);
    case 'resume-goal':
      return resumeGoal(deps, job.data.goalId, job.data.approvalId);
  }
}

/** The goal a job works on: jobs of one goal never run at the same time. */
export function goalOf(job: SpineJob): string {
  return jobGroupOf(job);
}
