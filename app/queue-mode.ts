import type { Logger } from 'pino';
import type { ChatRouter } from '../bot/chat-router.ts';
import type { Channel } from '../core/domain.ts';
import type { SpineJob } from '../core/jobs.ts';
import type { ChatSender } from '../core/message.ts';
import type { Database } from '../db/database.ts';
import type { Repositories } from '../db/repositories/index.ts';
import { BullJobQueue } from '../jobs/bullmq-queue.ts';
import { BullWorker } from '../jobs/bullmq-worker.ts';
import { DoorbellListener, DoorbellRinger } from '../jobs/chat-doorbell.ts';
import { ChatOutboxDeliverer, OutboxChatSender } from '../jobs/chat-outbox.ts';
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
  /** The process's chat router: in a worker every channel is routed to the chat outbox. */
  chat: ChatRouter;
  handler: (job: SpineJob, context: JobContext) => Promise<void>;
  onFailed: (job: SpineJob, error: unknown) => Promise<void>;
  logger: Logger;
}

/**
 * The queue-mode side of a Spine process. Main: a producer, and the deliverer of the chat outbox
 * (workers' chat messages, shown through the local adapters; woken by the Redis doorbell). Worker:
 * a producer (maintenance enqueues), the BullMQ worker, and the chat outbox as every channel's
 * sender (README.md, "How replies reach the chat").
 */
export class QueueMode {
  readonly role: ProcessRole;
  readonly queue: BullJobQueue;
  /** Main: delivers the chat outbox. */
  readonly chatOutbox: ChatOutboxDeliverer | undefined;
  readonly #doorbellListener: DoorbellListener | undefined;
  readonly #doorbellRinger: DoorbellRinger | undefined;
  readonly worker: BullWorker | undefined;
  /** What the main process's intake uses to post and update (understands workers' message names). */
  readonly intakeChat: ChatSender;
  readonly #recovery: RecoveryLoop;
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
    this.#recovery = new RecoveryLoop(logger);
    watchReconnections(this.queue, this.#recovery);
    if (options.role === 'main') {
      const deliverer = new ChatOutboxDeliverer({
        pool: options.db.pool,
        schema: options.db.schema,
        target: options.chat,
        channels: () => options.chat.channels(),
        logger,
        pollMs: q.chatPollMs,
        attempts: q.chatDeliveryAttempts,
        backoffMs: q.chatRetryMs,
      });
      this.chatOutbox = deliverer;
      this.#doorbellListener = new DoorbellListener({
        redisUrl: q.redisUrl,
        prefix: q.prefix,
        onRing: () => deliverer.wake(),
        logger,
      });
      this.intakeChat = deliverer.translating();
    } else {
      const ringer = new DoorbellRinger({ redisUrl: q.redisUrl, prefix: q.prefix });
      this.#doorbellRinger = ringer;
      const sender = new OutboxChatSender({ pool: options.db.pool, ring: () => ringer.ring() });
      for (const channel of CHANNELS) options.chat.register(channel, sender);
      this.intakeChat = sender;
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
    await within(5000, this.#doorbellListener?.ready());
  }

  /**
   * Run `tick` (the main process's recovery) every `everyMs` until closed, and as soon as Redis
   * is back after its connection dropped; never twice at once.
   */
  every(everyMs: number, tick: () => Promise<unknown>, logger: Logger): void {
    this.#recovery.start(everyMs, tick, logger);
  }

  async close(): Promise<void> {
    // A sweep under way finishes first: it uses the database and the queue closed below.
    await within(5000, this.#recovery.close());
    // The worker first: it finishes the running jobs (which may still post and enqueue). A
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
    await within(5000, this.#doorbellRinger?.close());
    await within(5000, this.#doorbellListener?.close());
    // A delivery under way finishes (or, stuck on a platform call, is shown again by the next process).
    await within(10_000, this.chatOutbox?.close());
    await within(5000, this.queue.close());
  }
}

/**
 * A restarted Redis comes back empty, and a decided approval whose resume it lost would otherwise
 * wait for the next periodic sweep: recovery runs once the connection has stayed ready this long.
 * The pause lets a flapping connection settle instead of starting a sweep on every reconnect.
 */
const RECONNECT_SETTLE_MS = 1000;

/**
 * The main process's recovery sweeps: on a timer, and after Redis reconnects (debounced). One
 * sweep at a time; a reconnection during a sweep asks for one more after it, because the sweep
 * under way may have started while Redis was away and its enqueues failed.
 */
export class RecoveryLoop {
  #logger: Logger;
  readonly #settleMs: number;
  #tick: (() => Promise<unknown>) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #settle: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  /** Redis came back before the sweeps were started: the first start sweeps at once. */
  #missed = false;
  #closed = false;

  constructor(logger: Logger, settleMs = RECONNECT_SETTLE_MS) {
    this.#logger = logger;
    this.#settleMs = settleMs;
  }

  /** Sweep with `tick` every `everyMs` from now on, and after each reconnection. */
  start(everyMs: number, tick: () => Promise<unknown>, logger: Logger): void {
    this.#tick = tick;
    this.#logger = logger;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = setInterval(() => void this.#sweep('timer'), everyMs);
    this.#timer.unref();
    if (this.#missed) {
      this.#missed = false;
      void this.#sweep('reconnect');
    }
  }

  /** The connection is ready again: sweep once it has stayed up for the settle time. */
  reconnected(): void {
    if (this.#closed) return;
    clearTimeout(this.#settle);
    this.#settle = setTimeout(() => {
      this.#settle = undefined;
      if (this.#tick) void this.#sweep('reconnect');
      else this.#missed = true;
    }, this.#settleMs);
    this.#settle.unref();
  }

  /** The connection dropped: a pending reconnection sweep waits for the next `ready`. */
  disconnected(): void {
    clearTimeout(this.#settle);
    this.#settle = undefined;
  }

  #sweep(reason: 'timer' | 'reconnect'): Promise<void> {
    if (this.#closed || !this.#tick) return Promise.resolve();
    if (this.#running) {
      if (reason === 'reconnect') this.#again = true;
      return this.#running;
    }
    this.#running = this.#sweepUntilQuiet(reason, this.#tick).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #sweepUntilQuiet(first: 'timer' | 'reconnect', tick: () => Promise<unknown>): Promise<void> {
    const logger = this.#logger;
    let reason = first;
    do {
      this.#again = false;
      if (reason === 'reconnect') logger.info('Redis connection is back: recovering unfinished work now');
      try {
        await tick();
      } catch (error) {
        logger.warn({ err: String(error), reason }, 'recovery sweep failed; the next one retries');
      }
      reason = 'reconnect';
    } while (this.#again && !this.#closed);
  }

  /** Stop sweeping; resolves when a sweep under way has finished. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    clearTimeout(this.#settle);
    await this.#running;
  }
}

/**
 * Tell the recovery loop when the queue's Redis connection comes back. ioredis emits `ready` on
 * every (re)connection: a `ready` after an earlier `ready` or a `close` is a reconnection (the
 * first `ready` of a process that found Redis up is not; startup runs its own recovery).
 */
function watchReconnections(queue: BullJobQueue, recovery: RecoveryLoop): void {
  const connection = queue.queue.getBackend();
  let connectedBefore = false;
  connection.on('ready', () => {
    if (connectedBefore) recovery.reconnected();
    connectedBefore = true;
  });
  connection.on('close', () => {
    connectedBefore = true;
    recovery.disconnected();
  });
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
