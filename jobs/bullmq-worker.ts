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
    this.worker = new Worker(QUEUE_NAME, (job, token) => this.#process(job, token), {
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
        void options.onFailed({ name: job.name, data: job.data } as SpineJob, error).catch(() => {});
      }
    });
  }

  async #process(job: Job, token: string | undefined): Promise<void> {
    const spineJob = { name: job.name, data: job.data } as SpineJob;
    const lock = await this.#options.groupLock.tryAcquire(jobGroupOf(spineJob));
    if (!lock) {
      // Another worker runs this goal right now: try again shortly, without spending an attempt.
      const wait = (this.#options.busyRetryMs ?? 250) + Math.floor(Math.random() * 100);
      await job.moveToDelayed(Date.now() + wait, token);
      throw new DelayedError();
    }
    try {
      await this.#options.handler(spineJob, {
        progress: (value) => job.updateProgress(value),
      });
      if (this.#options.testHoldMs)
        await new Promise((resolve) => setTimeout(resolve, this.#options.testHoldMs));
    } catch (error) {
      const log = this.#options.logger.child({ jobId: job.id, job: job.name, attempt: job.attemptsMade + 1 });
      const attempts = job.opts.attempts ?? 1;
      const final = isUnrecoverable(error) || job.attemptsMade + 1 >= attempts;
      log.warn(
        { err: describeError(error), final },
        final ? 'job failed for good' : 'job failed; will retry',
      );
      if (final) {
        await this.#options.onFailed(spineJob, error).catch((inner: unknown) => {
          log.error({ err: describeError(inner) }, 'recording the job failure failed');
        });
        if (!(error instanceof UnrecoverableError)) throw new UnrecoverableError(describeError(error));
      }
      throw error;
    } finally {
      await lock.release();
    }
  }

  /** Stop taking jobs and wait for the running ones to finish (SIGTERM). */
  async close(): Promise<void> {
    await this.worker.close();
    await this.#options.groupLock.close();
  }
}
