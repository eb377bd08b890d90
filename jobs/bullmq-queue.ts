import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { describeError } from '../core/errors.ts';
import { type JobQueue, jobIdFor, type SpineJob } from '../core/jobs.ts';
import { digestSchedulerId, MAINTENANCE_SCHEDULER_ID, QUEUE_NAME } from './queue-names.ts';

export interface BullJobQueueOptions {
  redisUrl: string;
  prefix: string;
  attempts: number;
  backoffMs: number;
  logger: Logger;
  /** An enqueue that Redis does not confirm in this time is left to recovery (default 2 s). */
  enqueueTimeoutMs?: number;
}

/** Job counts per state, and the failed jobs with their reasons (`spine queue`). */
export interface QueueReport {
  counts: Record<string, number>;
  failed: Array<{ id: string; name: string; reason: string; attempts: number; at: Date | null }>;
  workers: number;
  schedulers: Array<{ id: string; pattern: string | null; tz: string | null; next: Date | null }>;
}

/**
 * The producer side of queue mode. Enqueueing is idempotent by job id. Postgres is the source of
 * truth: when Redis is down, `enqueue` logs and returns (the work is already recorded, and recovery
 * re-enqueues it when Redis is back) so chat ingress keeps accepting messages.
 */
export class BullJobQueue implements JobQueue {
  readonly queue: Queue;
  readonly #options: BullJobQueueOptions;
  #probe: Redis | undefined;

  constructor(options: BullJobQueueOptions) {
    this.#options = options;
    this.queue = new Queue(QUEUE_NAME, {
      // Producers fail fast instead of buffering while Redis is away: recovery has the work.
      connection: { url: options.redisUrl, enableOfflineQueue: false, maxRetriesPerRequest: 1 },
      prefix: options.prefix,
      defaultJobOptions: {
        attempts: options.attempts,
        backoff: { type: 'exponential', delay: options.backoffMs },
        // Kept a day: a repeated job id within that time is ignored, not run again.
        removeOnComplete: { age: 86_400, count: 10_000 },
        removeOnFail: { age: 7 * 86_400, count: 10_000 },
      },
    });
    // Without a listener an unreachable Redis would crash the process with an unhandled 'error'.
    this.queue.on('error', (error) => {
      options.logger.debug({ err: describeError(error) }, 'queue connection error');
    });
  }

  async enqueue(job: SpineJob): Promise<void> {
    const jobId = jobIdFor(job);
    try {
      await withTimeout(
        this.queue.add(
          job.name,
          job.data,
          // Maintenance is a trigger, not a record: keep nothing, so the next trigger is not ignored.
          job.name === 'maintenance' ? { jobId, removeOnComplete: true, removeOnFail: true } : { jobId },
        ),
        this.#options.enqueueTimeoutMs ?? 2000,
      );
    } catch (error) {
      this.#options.logger.warn(
        { jobId, err: describeError(error) },
        'could not enqueue (Redis unavailable?); recovery re-enqueues it from Postgres',
      );
    }
  }

  /**
   * True when nothing waits or runs (tests and `spine chat` settle on it). Delayed jobs do not
   * count: the schedulers' next ticks are always there.
   */
  async isIdle(): Promise<boolean> {
    const counts = await this.queue.getJobCounts('waiting', 'active', 'prioritized');
    return Object.values(counts).every((count) => count === 0);
  }

  /** Resolve once the queue is idle (bounded). */
  async idle(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await this.isIdle().catch(() => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /**
   * One job scheduler per operator: a cron in the operator's time zone at their digest time. The
   * tick enqueues a `digest-due` check, which enqueues the digest under its dated job id.
   */
  async upsertDigestScheduler(operator: { id: number; timezone: string; digestTime: string }): Promise<void> {
    const [hour, minute] = operator.digestTime.split(':').map(Number) as [number, number];
    await this.queue.upsertJobScheduler(
      digestSchedulerId(operator.id),
      { pattern: `${minute} ${hour} * * *`, tz: operator.timezone },
      { name: 'maintenance', data: { task: 'digest-due', operatorId: operator.id } },
    );
  }

  /**
   * One job scheduler per enabled scheduled playbook: its cron in its time zone. The tick runs the
   * schedule check, which starts the due run once (unique per playbook and fire time).
   */
  async upsertPlaybookScheduler(
    playbookId: number,
    schedule: { pattern: string; tz: string } | null,
  ): Promise<void> {
    const id = `playbook-${playbookId}`;
    if (!schedule) {
      await this.queue.removeJobScheduler(id);
      return;
    }
    await this.queue.upsertJobScheduler(id, schedule, { name: 'playbook-due', data: { at: id } });
  }

  /** The periodic maintenance: recovery from Postgres and the digest check (catches missed ticks). */
  async upsertMaintenanceScheduler(everyMs: number): Promise<void> {
    await this.queue.upsertJobScheduler(
      MAINTENANCE_SCHEDULER_ID,
      { every: everyMs },
      { name: 'maintenance', data: { task: 'recover' } },
    );
    await this.queue.upsertJobScheduler(
      `${MAINTENANCE_SCHEDULER_ID}-digests`,
      { every: everyMs },
      { name: 'maintenance', data: { task: 'digest-due' } },
    );
  }

  /** Counts per state, failed jobs with reasons, live workers and schedulers. */
  async report(failedLimit = 20): Promise<QueueReport> {
    const counts = await this.queue.getJobCounts(
      'waiting',
      'active',
      'delayed',
      'prioritized',
      'completed',
      'failed',
    );
    const failedJobs = await this.queue.getFailed(0, failedLimit - 1);
    const workers = await this.queue.getWorkersCount();
    const schedulers = await this.queue.getJobSchedulers(0, 99, true);
    return {
      counts,
      failed: failedJobs.map((job) => ({
        id: String(job.id),
        name: job.name,
        reason: job.failedReason,
        attempts: job.attemptsMade,
        at: job.finishedOn ? new Date(job.finishedOn) : null,
      })),
      workers,
      schedulers: schedulers.map((scheduler) => ({
        id: String(scheduler.key),
        pattern: scheduler.pattern ?? null,
        tz: scheduler.tz ?? null,
        next: scheduler.next ? new Date(scheduler.next) : null,
      })),
    };
  }

  /** Redis' eviction policy (BullMQ needs `noeviction`) and the number of live workers. */
  async health(): Promise<{ redis: 'ok' | 'unreachable'; maxmemoryPolicy: string | null; workers: number }> {
    try {
      if (!this.#probe) {
        this.#probe = new Redis(this.#options.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 1000 });
        this.#probe.on('error', () => {});
      }
      const info = await withTimeout(this.#probe.info('memory'), 1000);
      const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1] ?? null;
      const workers = await withTimeout(this.queue.getWorkersCount(), 1000);
      return { redis: 'ok', maxmemoryPolicy: policy, workers };
    } catch {
      return { redis: 'unreachable', maxmemoryPolicy: null, workers: 0 };
    }
  }

  async close(): Promise<void> {
    this.#probe?.disconnect();
    await this.queue.close().catch(() => {});
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer from Redis in ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
