import type { Logger } from 'pino';
import { describeError } from '../core/errors.ts';
import { type JobQueue, jobIdFor, type SpineJob } from '../core/jobs.ts';

export interface InProcessRunnerOptions {
  handler: (job: SpineJob) => Promise<void>;
  /** Jobs with the same group key never run concurrently (one goal, one job at a time). */
  groupOf: (job: SpineJob) => string | number;
  /** Called once a job has failed all its attempts. */
  onFailed?: (job: SpineJob, error: unknown) => Promise<void>;
  logger: Logger;
  concurrency?: number;
  attempts?: number;
  backoffMs?: number;
}

interface Entry {
  id: string;
  job: SpineJob;
  attempt: number;
  notBefore: number;
}

/**
 * Runs jobs inside this process with the same contracts as the BullMQ workers: a job id makes
 * enqueueing idempotent while the job exists, failures retry with exponential backoff, and jobs
 * of one goal run one at a time.
 */
export class InProcessRunner implements JobQueue {
  readonly #options: Required<Omit<InProcessRunnerOptions, 'onFailed'>> &
    Pick<InProcessRunnerOptions, 'onFailed'>;
  readonly #waiting: Entry[] = [];
  readonly #known = new Set<string>();
  readonly #runningGroups = new Set<string | number>();
  #running = 0;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #idleWaiters: Array<() => void> = [];

  constructor(options: InProcessRunnerOptions) {
    this.#options = { concurrency: 4, attempts: 3, backoffMs: 500, onFailed: undefined, ...options };
  }

  async enqueue(job: SpineJob): Promise<void> {
    if (this.#closed) throw new Error('the job runner is closed');
    const id = jobIdFor(job);
    if (this.#known.has(id)) return;
    this.#known.add(id);
    this.#waiting.push({ id, job, attempt: 1, notBefore: 0 });
    this.#pump();
  }

  /** Resolves when no job is waiting or running. */
  idle(): Promise<void> {
    if (this.#known.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  get size(): number {
    return this.#known.size;
  }

  /** Stop taking jobs, and wait for the running ones to finish. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#waiting.length = 0;
    if (this.#timer) clearTimeout(this.#timer);
    while (this.#running > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    this.#known.clear();
    this.#settleIdle();
  }

  #pump(): void {
    if (this.#closed) return;
    const now = Date.now();
    for (let index = 0; index < this.#waiting.length && this.#running < this.#options.concurrency; ) {
      const entry = this.#waiting[index]!;
      const group = this.#options.groupOf(entry.job);
      if (entry.notBefore > now || this.#runningGroups.has(group)) {
        index += 1;
        continue;
      }
      this.#waiting.splice(index, 1);
      this.#start(entry, group);
    }
    const nextDue = Math.min(...this.#waiting.map((entry) => entry.notBefore).filter((at) => at > now));
    if (Number.isFinite(nextDue)) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#pump(), nextDue - now);
    }
  }

  #start(entry: Entry, group: string | number): void {
    this.#running += 1;
    this.#runningGroups.add(group);
    const log = this.#options.logger.child({ jobId: entry.id, job: entry.job.name, attempt: entry.attempt });
    this.#options
      .handler(entry.job)
      .then(
        () => {
          this.#known.delete(entry.id);
        },
        async (error: unknown) => {
          if (entry.attempt < this.#options.attempts && !this.#closed) {
            const delay = this.#options.backoffMs * 2 ** (entry.attempt - 1);
            log.warn({ err: describeError(error), retryInMs: delay }, 'job failed; will retry');
            this.#waiting.push({ ...entry, attempt: entry.attempt + 1, notBefore: Date.now() + delay });
            return;
          }
          log.error({ err: describeError(error) }, 'job failed for good');
          this.#known.delete(entry.id);
          await this.#options.onFailed?.(entry.job, error).catch((inner: unknown) => {
            log.error({ err: describeError(inner) }, 'recording the job failure failed');
          });
        },
      )
      .finally(() => {
        this.#running -= 1;
        this.#runningGroups.delete(group);
        this.#pump();
        this.#settleIdle();
      });
  }

  #settleIdle(): void {
    if (this.#known.size > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
