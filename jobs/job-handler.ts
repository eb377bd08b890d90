import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { JobQueue, SpineJob } from '../core/jobs.ts';
import type { ChatSender } from '../core/message.ts';
import type { Repositories } from '../db/repositories/index.ts';
import type { DigestGraph } from '../graphs/digest/graph.ts';
import type { GoalGraph } from '../graphs/goal/graph.ts';
import { sendDigest } from './digest-jobs.ts';
import { enqueueDueDigests } from './digest-schedule.ts';
import { handleJob as handleGoalJob } from './goal-jobs.ts';
import type { PlaybookJobs } from './playbook-jobs.ts';
import { ProgressReporter } from './progress-reporter.ts';
import { recoverUnfinishedWork } from './recovery.ts';

export interface JobHandlerDeps {
  goalGraph: GoalGraph;
  digestGraph: DigestGraph;
  repos: Repositories;
  chat: ChatSender;
  /** Where maintenance puts the work it finds. */
  queue: () => JobQueue;
  clock: Clock;
  logger: Logger;
  /** Show progress in the thread for goal jobs running longer than this. */
  progressAfterMs: number;
  /** Test hook (crash tests): pause this long after the named step of a goal's graph. */
  testHold?: { step: string; ms: number } | undefined;
  /** Playbook runs: their goals' jobs go to the playbook graph. */
  playbooks?: PlaybookJobs | undefined;
}

/** What a runner offers a job: progress reporting (BullMQ: job.updateProgress), and a stop. */
export interface JobContext {
  progress?: (value: { step: string }) => Promise<void>;
  /**
   * Aborts when the job must stop: its group lock (or BullMQ's job lock) was lost, so another run
   * of the job or its group may start. The runner fails the job either way; stopping at once keeps
   * the work done unguarded small.
   */
  signal?: AbortSignal;
}

/** One handler for every job name, shared by the in-process runner and the BullMQ workers. */
export function createJobHandler(deps: JobHandlerDeps) {
  return async (job: SpineJob, context: JobContext = {}): Promise<void> => {
    context.signal?.throwIfAborted();
    switch (job.name) {
      case 'run-goal':
      case 'resume-goal': {
        // A playbook run is a goal too (recovery and approvals name its goal): its graph is the playbook's.
        if (deps.playbooks && (await deps.playbooks.owns(job.data.goalId))) {
          if (job.name === 'resume-goal') await deps.playbooks.resume(job.data.goalId, job.data.approvalId);
          else await deps.playbooks.run({ goalId: job.data.goalId });
          return;
        }
        const goal = await deps.repos.goals.get(job.data.goalId);
        const reporter = new ProgressReporter({
          chat: deps.chat,
          clock: deps.clock,
          afterMs: deps.progressAfterMs,
        });
        try {
          await handleGoalJob(
            {
              graph: deps.goalGraph,
              repos: deps.repos,
              logger: deps.logger,
              onStep: async (goalId, step) => {
                // Between steps (each checkpointed) is where a goal can stop cleanly and resume.
                context.signal?.throwIfAborted();
                await context.progress?.({ step });
                if (goal) await reporter.step(goal.thread, goalId, step);
                if (deps.testHold?.step === step)
                  await new Promise((resolve) => setTimeout(resolve, deps.testHold?.ms));
              },
            },
            job,
          );
        } catch (error) {
          await reporter.finish(job.data.goalId, 'failed').catch(() => {});
          throw error;
        }
        const after = await deps.repos.goals.get(job.data.goalId);
        await reporter.finish(job.data.goalId, after?.status === 'awaiting_approval' ? 'waiting' : 'done');
        return;
      }
      case 'run-playbook':
        await deps.playbooks?.run(job.data);
        return;
      case 'playbook-due':
        await deps.playbooks?.due();
        return;
      case 'send-digest':
        await sendDigest(
          { graph: deps.digestGraph, repos: deps.repos, clock: deps.clock, logger: deps.logger },
          job.data,
        );
        return;
      case 'maintenance':
        if (job.data.task === 'recover') {
          await recoverUnfinishedWork(deps.repos, deps.queue(), deps.logger);
        } else {
          await enqueueDueDigests({
            repos: deps.repos,
            queue: deps.queue(),
            clock: deps.clock,
            logger: deps.logger,
            ...(job.data.operatorId === undefined ? {} : { operatorId: job.data.operatorId }),
          });
        }
        return;
    }
  };
}
