/**
 * Job contracts shared by the in-process runner and BullMQ workers. A job id makes enqueueing
 * idempotent: enqueueing the same id while the earlier job still exists does nothing.
 */
export type SpineJob =
  | { name: 'run-goal'; data: { goalId: number } }
  | { name: 'resume-goal'; data: { goalId: number; approvalId: number } }
  | { name: 'reembed-memories'; data: { embedderId: string } }
  | { name: 'sweep-memories'; data: { at: string } };

export type JobName = SpineJob['name'];

/** The job id for a job: goal id for run-goal, approval id for resume-goal. */
export function jobIdFor(job: SpineJob): string {
  switch (job.name) {
    case 'run-goal':
      return `goal-${job.data.goalId}`;
    case 'resume-goal':
      return `approval-${job.data.approvalId}`;
    case 'reembed-memories':
      return `reembed-${job.data.embedderId}`;
    case 'sweep-memories':
      return `sweep-memories-${job.data.at}`;
  }
}

/** Where producers put jobs. */
export interface JobQueue {
  enqueue(job: SpineJob): Promise<void>;
}
