import type { Logger } from 'pino';
import type { ChatRouter } from '../bot/chat-router.ts';
import type { Channel } from '../core/domain.ts';
import type { SpineJob } from '../core/jobs.ts';
import type { ChatSender } from '../core/message.ts';
import type { Database } from '../db/database.ts';
import type { Repositories } from '../db/repositories/index.ts';
import { BullJobQueue } from '../jobs/bullmq-queue.ts';
import { BullWorker } from '../jobs/bullmq-worker.ts';
import { RedisChatPublisher, RedisChatSubscriber } from '../jobs/chat-relay.ts';
import { PostgresGroupLock } from '../jobs/group-lock.ts';
import type { JobContext } from '../jobs/job-handler.ts';
import { RedisGroupLock } from '../jobs/redis-group-lock.ts';
import type { Config, QueueConfig } from './config.ts';

const CHANNELS: Channel[] = ['console', 'slack', 'telegram', 'web', 'system'];

/** Which half of queue mode this process is: chat + HTTP (enqueues), or a worker (runs jobs). */
export type ProcessRole = 'main' | 'worker';

export interface QueueModeOptions {
  config: Config;
  queueConfig: QueueConfig;
  role: ProcessRole;
  db: Database;
  repos: Repositories;
  /** The process's chat router: in a worker every channel is routed to the Redis publisher. */
  chat: ChatRouter;
  handler: (job: SpineJob, context: JobContext) => Promise<void>;
  onFailed: (job: SpineJob, error: unknown) => Promise<void>;
  logger: Logger;
}

/**
 * The Redis side of a Spine process in queue mode. Main: a producer and the subscriber that
 * delivers workers' chat messages through the local adapters. Worker: a producer (maintenance
 * enqueues), the BullMQ worker, and a publisher for every chat channel.
 */
export class QueueMode {
  readonly role: ProcessRole;
  readonly queue: BullJobQueue;
  readonly subscriber: RedisChatSubscriber | undefined;
  readonly publisher: RedisChatPublisher | undefined;
  readonly worker: BullWorker | undefined;
  /** What the main process's intake uses to post and update (understands workers' message names). */
  readonly intakeChat: ChatSender;
  #timer: NodeJS.Timeout | undefined;
  readonly #shutdownGraceMs: number;

  constructor(options: QueueModeOptions) {
    const { queueConfig: q, logger } = options;
    this.role = options.role;
    this.#shutdownGraceMs = Math.max(60_000, 2 * q.lockDurationMs);
    this.queue = new BullJobQueue({
      redisUrl: q.redisUrl,
      prefix: q.prefix,
      attempts: options.config.jobs.attempts,
      backoffMs: options.config.jobs.backoffMs,
      logger,
    });
    if (options.role === 'main') {
      this.subscriber = new RedisChatSubscriber({
        redisUrl: q.redisUrl,
        prefix: q.prefix,
        target: options.chat,
        canDeliver: (channel) => options.chat.channels().includes(channel),
        logger,
      });
      this.intakeChat = this.subscriber.translating();
    } else {
      const publisher = new RedisChatPublisher({ redisUrl: q.redisUrl, prefix: q.prefix, logger });
      this.publisher = publisher;
      for (const channel of CHANNELS) options.chat.register(channel, publisher);
      this.intakeChat = publisher;
      this.worker = new BullWorker({
        redisUrl: q.redisUrl,
        prefix: q.prefix,
        concurrency: q.concurrency,
        lockDurationMs: q.lockDurationMs,
        stalledIntervalMs: q.stalledIntervalMs,
        maxStalledCount: q.maxStalledCount,
        handler: options.handler,
        onFailed: options.onFailed,
        groupLock:
          q.groupLock === 'postgres'
            ? new PostgresGroupLock(options.db.pool, options.db.schema)
            : new RedisGroupLock({ redisUrl: q.redisUrl, prefix: q.prefix, leaseMs: q.lockDurationMs }),
        logger,
        testHoldMs: q.testHoldStep ? 0 : q.testHoldMs,
      });
    }
  }

  /**
   * Wait (a few seconds at most) until Redis answers, so the first messages are enqueued rather
   * than left to recovery. Never fails: with Redis down, Spine starts and recovery catches up.
   */
  async ready(): Promise<void> {
    await within(5000, this.queue.queue.waitUntilReady());
    await within(5000, this.subscriber?.ready());
  }

  /** Run `tick` now and every `everyMs` until closed (the main process's recovery loop). */
  every(everyMs: number, tick: () => Promise<unknown>, logger: Logger): void {
    const run = () => {
      tick().catch((error: unknown) => logger.warn({ err: String(error) }, 'periodic recovery failed'));
    };
    this.#timer = setInterval(run, everyMs);
    this.#timer.unref();
  }

  /** Wait until no job waits or runs, and every relayed chat message is shown. */
  async settle(): Promise<void> {
    await this.queue.idle();
    await this.subscriber?.flush();
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    // The worker first: it finishes the running jobs (which may still publish and enqueue). A
    // worker cut off from Redis cannot close politely: after the grace period it is forced (its
    // jobs are then re-run elsewhere once their locks expire).
    if (this.worker) {
      const closed = await within(
        this.#shutdownGraceMs,
        this.worker.close().then(() => true),
      );
      if (closed !== true) await within(5000, this.worker.worker.close(true));
    }
    // With Redis away, a polite QUIT never gets an answer: give up waiting after a few seconds.
    await within(5000, this.publisher?.close());
    await within(5000, this.subscriber?.close());
    await within(5000, this.queue.close());
  }
}

function within(ms: number, promise: Promise<unknown> | undefined): Promise<unknown> {
  if (!promise) return Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.catch(() => {}),
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
