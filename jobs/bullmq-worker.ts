import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { describeError, SpineError } from '../core/errors.ts';
import { jobGroupOf, type SpineJob } from '../core/jobs.ts';
import type { GroupLock } from './group-lock.ts';
import type { JobContext } from './job-handler.ts';
import { QUEUE_NAME } from './queue-names.ts';

export interface BullWorkerOptions {
  redisUrl: string;
  prefix: string;
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  handler: (job: SpineJob, context: JobContext) => Promise<void>;
  /** Called once when a job has failed for good (last attempt, or not retryable). */
  onFailed: (job: SpineJob, error: unknown) => Promise<void>;
  groupLock: GroupLock;
  logger: Logger;
  /** Test hook: hold each finished job this long before completing it. */
  testHoldMs?: number;
  /** How long to wait before trying a job whose group is busy on another worker. */
  busyRetryMs?: number;
}

/** The failure of a job stopped because its lock was lost: retryable, whatever the handler threw. */
function lockLost(reason: unknown): SpineError {
  if (reason instanceof SpineError && reason.retryable) return reason;
  return new SpineError('lease.lost', `the job's lock was lost: ${describeError(reason)}`, {
    retryable: true,
    cause: reason,
  });
}

/** Failures no retry can fix: the operator's input is wrong, or Spine said so explicitly. */
export function isUnrecoverable(error: unknown): boolean {
  if (error instanceof UnrecoverableError) return true;
  return error instanceof SpineError && error.category === 'user' && !error.retryable;
}

/**
 * A BullMQ worker running Spine's jobs. At-least-once: a job whose worker died is re-run after
 * its lock expires (stalled-job check), and every handler is idempotent. Jobs of one group never
 * run at the same time on any worker (the group lock): a busy group's job goes back to
 * the delayed set without using up an attempt.
 */
export class BullWorker {
  readonly worker: Worker;
  readonly #options: BullWorkerOptions;

  constructor(options: BullWorkerOptions) {
    this.#options = options;
    // Three parameters: BullMQ then hands each job an AbortSignal (cancelJob, used on lost job locks).
    this.worker = new Worker(QUEUE_NAME, (job, token, signal) => this.#process(job, token, signal), {
      // Workers block on Redis and must retry forever while it is away (BullMQ requires null here).
      connection: { url: options.redisUrl, maxRetriesPerRequest: null },
      prefix: options.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      maxStalledCount: options.maxStalledCount,
    });
    this.worker.on('error', (error) => {
      options.logger.warn({ err: describeError(error) }, 'worker connection error');
    });
    this.worker.on('failed', (job, error) => {
      // A job that stalled too often fails outside the processor: record it here.
      if (job && /stalled more than allowable limit/.test(error.message)) {
        const log = options.logger.child({ jobId: job.id, job: job.name });
        log.error({ err: describeError(error) }, 'job failed for good: it stalled too often');
        void this.#recordFailure(job, error, log);
      }
    });
    // BullMQ could not extend a running job's own lock: another worker may take the job over.
    this.worker.on('lockRenewalFailed', (jobIds) => {
      for (const jobId of jobIds) {
        options.logger.error({ jobId }, 'the job lock could not be renewed: stopping the job');
        this.worker.cancelJob(jobId, 'the job lock could not be renewed');
      }
    });
  }

  async #process(job: Job, token: string | undefined, jobLock: AbortSignal | undefined): Promise<void> {
    const spineJob = { name: job.name, data: job.data } as SpineJob;
    const lock = await this.#options.groupLock.tryAcquire(jobGroupOf(spineJob));
    if (!lock) {
      // Another worker runs this goal right now: try again shortly, without spending an attempt.
      const wait = (this.#options.busyRetryMs ?? 250) + Math.floor(Math.random() * 100);
      await job.moveToDelayed(Date.now() + wait, token);
      throw new DelayedError();
    }
    const log = this.#options.logger.child({ jobId: job.id, job: job.name, attempt: job.attemptsMade + 1 });
    const signal = jobLock ? AbortSignal.any([lock.signal, jobLock]) : lock.signal;
    const onLost = () =>
      log.error({ err: describeError(signal.reason) }, 'the job lost its lock: stopping it, to be retried');
    signal.addEventListener('abort', onLost, { once: true });
    try {
      await this.#options.handler(spineJob, { progress: (value) => job.updateProgress(value), signal });
      if (this.#options.testHoldMs)
        await new Promise((resolve) => setTimeout(resolve, this.#options.testHoldMs));
      // A handler that ignored the signal ran on unguarded: it does not count as done.
      signal.throwIfAborted();
    } catch (error) {
      const failure = signal.aborted ? lockLost(signal.reason) : error;
      const attempts = job.opts.attempts ?? 1;
      const final = isUnrecoverable(failure) || job.attemptsMade + 1 >= attempts;
      log.warn(
        { err: describeError(failure), final },
        final ? 'job failed for good' : 'job failed; will retry',
      );
      if (final) {
        const unrecorded = await this.#recordFailure(job, failure, log);
        // BullMQ's failed reason says so too when the operator could not be told.
        if (unrecorded)
          throw new UnrecoverableError(
            `${describeError(failure)} (recording the failure failed: ${unrecorded})`,
          );
        if (!(failure instanceof UnrecoverableError)) throw new UnrecoverableError(describeError(failure));
      }
      throw failure;
    } finally {
      signal.removeEventListener('abort', onLost);
      await lock.release();
    }
  }

  /**
   * Record a job's final failure (`onFailed`). When that fails too, the job's failure reaches
   * nobody in chat: say so at error level, and return why (for BullMQ's failed reason).
   */
  async #recordFailure(job: Job, error: unknown, log: Logger): Promise<string | undefined> {
    try {
      await this.#options.onFailed({ name: job.name, data: job.data } as SpineJob, error);
      return undefined;
    } catch (inner) {
      log.error(
        { err: describeError(inner), jobError: describeError(error) },
        'recording the job failure failed: the operator was not told',
      );
      return describeError(inner);
    }
  }

  /** Stop taking jobs and wait for the running ones to finish (SIGTERM). */
  async close(): Promise<void> {
    await this.worker.close();
    await this.#options.groupLock.close();
  }
}
