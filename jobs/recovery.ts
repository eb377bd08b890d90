import type { Logger } from 'pino';
import type { JobQueue } from '../core/jobs.ts';
import type { Repositories } from '../db/repositories/index.ts';

/**
 * Postgres is the source of truth: re-enqueue every goal a crash left mid-run and every decided
 * approval whose goal has not resumed. Job ids make this safe to run at any time. A goal whose row
 * says it runs while its graph is parked at an approval is found by both: its run-goal job resumes
 * it if a decision waits, or corrects its row to `awaiting_approval` (jobs/goal-jobs.ts).
 */
export async function recoverUnfinishedWork(
  repos: Repositories,
  queue: JobQueue,
  logger: Logger,
): Promise<number> {
  let count = 0;
  for (const goal of await repos.goals.listInterrupted()) {
    await queue.enqueue({ name: 'run-goal', data: { goalId: goal.id } });
    count += 1;
  }
  for (const approval of await repos.approvals.listDecidedAwaitingResume()) {
    await queue.enqueue({ name: 'resume-goal', data: { goalId: approval.goalId, approvalId: approval.id } });
    count += 1;
  }
  if (count > 0) logger.info({ count }, 'recovered unfinished work');
  return count;
}
