import type { ThreadRef } from './domain.ts';

/**
 * Job contracts shared by the in-process runner and BullMQ workers. A job id makes enqueueing
 * idempotent: enqueueing the same id while the earlier job still exists does nothing.
 */
export type SpineJob =
  | { name: 'run-goal'; data: { goalId: number; retryOf?: number } }
  | { name: 'resume-goal'; data: { goalId: number; approvalId: number; retryOf?: number } }
  | { name: 'send-digest'; data: SendDigestData }
  | { name: 'maintenance'; data: MaintenanceData }
  | { name: 'reembed-memories'; data: { embedderId: string } }
  | { name: 'sweep-memories'; data: { at: string } }
  | { name: 'run-playbook'; data: RunPlaybookData }
  | { name: 'playbook-due'; data: { at: string } };

/** Run (or continue) a playbook run; `wake` (epoch ms) resumes a `wait` step whose time has come. */
export interface RunPlaybookData {
  goalId: number;
  wake?: number;
}

/**
 * A digest for one operator. `localDate` set: the daily digest of that date (exactly one per date).
 * `requestId` set instead: an on-demand digest (`digest`, `spine digest --now`), not the daily one.
 */
export interface SendDigestData {
  operatorId: number;
  /** Where to post an on-demand digest (the thread that asked); daily ones go to the operator's home thread. */
  thread?: ThreadRef;
  localDate?: string;
  requestId?: string;
  /** Sent after its time (Spine was down at digest time): the digest says so. */
  late?: boolean;
}

/**
 * Housekeeping: `recover` re-enqueues unfinished work from Postgres; `digest-due` checks which
 * digests are due (every operator, or one) and enqueues them under their idempotent job ids.
 */
export interface MaintenanceData {
  task: 'recover' | 'digest-due';
  operatorId?: number;
}

/** Jobs that work on a goal. */
export type GoalJob = Extract<SpineJob, { name: 'run-goal' | 'resume-goal' }>;

export function isGoalJob(job: SpineJob): job is GoalJob {
  return job.name === 'run-goal' || job.name === 'resume-goal';
}

export type JobName = SpineJob['name'];

/** The job id for a job: goal id for run-goal, approval id for resume-goal. */
export function jobIdFor(job: SpineJob): string {
  switch (job.name) {
    case 'run-goal':
      return `goal-${job.data.goalId}${job.data.retryOf ? `-retry-${job.data.retryOf}` : ''}`;
    case 'resume-goal':
      return `approval-${job.data.approvalId}${job.data.retryOf ? `-retry-${job.data.retryOf}` : ''}`;
    case 'send-digest':
      // `digest:<operator>:<date>` in spirit; BullMQ reserves ':' in custom ids, so '-' it is.
      return job.data.localDate
        ? `digest-${job.data.operatorId}-${job.data.localDate}`
        : `digest-${job.data.operatorId}-now-${job.data.requestId ?? 'unnamed'}`;
    case 'maintenance':
      return `maintenance-${job.data.task}${job.data.operatorId ? `-${job.data.operatorId}` : ''}`;
    case 'reembed-memories':
      return `reembed-${job.data.embedderId}`;
    case 'sweep-memories':
      return `sweep-memories-${job.data.at}`;
    case 'run-playbook':
      return `playbook-run-${job.data.goalId}${job.data.wake ? `-wake-${job.data.wake}` : ''}`;
    case 'playbook-due':
      return `playbook-due-${job.data.at}`;
  }
}

/**
 * Jobs with the same group key never run at the same time: one goal, one job at a time; one
 * operator's digests one at a time.
 */
export function jobGroupOf(job: SpineJob): string {
  switch (job.name) {
    case 'run-goal':
    case 'resume-goal':
      return `goal-${job.data.goalId}`;
    case 'send-digest':
      return `digest-${job.data.operatorId}`;
    case 'maintenance':
      return `maintenance-${job.data.task}`;
    case 'reembed-memories':
    case 'sweep-memories':
      return 'memory';
    case 'run-playbook':
      return `goal-${job.data.goalId}`;
    case 'playbook-due':
      return 'playbook-due';
  }
}

/** Where producers put jobs. */
export interface JobQueue {
  enqueue(job: SpineJob): Promise<void>;
}
