import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { describeError } from '../core/errors.ts';
import { chatDoorbellKey } from './queue-names.ts';

/**
 * The chat outbox's doorbell, on Redis pub/sub: a worker rings after it wrote a chat message to
 * the outbox, so a main process delivers it at once instead of at its next poll. Only a hint: a
 * ring lost while Redis or the main process is away costs at most one poll interval, never a
 * message (the message is a row in Postgres).
 */
export class DoorbellRinger {
  readonly #redis: Redis;
  readonly #key: string;

  constructor(options: { redisUrl: string; prefix: string }) {
    // No offline queue: a ring while Redis is away fails at once instead of piling up.
    this.#redis = new Redis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.#redis.on('error', () => {});
    this.#key = chatDoorbellKey(options.prefix);
  }

  /** Ring; never waits and never fails. */
  ring(): void {
    this.#redis.publish(this.#key, '1').catch(() => {});
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}

/** The main process's ear for the doorbell (ioredis subscribes again after a reconnect). */
export class DoorbellListener {
  readonly #redis: Redis;
  readonly #subscribed: Promise<void>;

  constructor(options: { redisUrl: string; prefix: string; onRing: () => void; logger: Logger }) {
    this.#redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
    this.#redis.on('error', () => {});
    this.#redis.on('message', () => options.onRing());
    this.#subscribed = this.#redis
      .subscribe(chatDoorbellKey(options.prefix))
      .then(() => {})
      .catch((error: unknown) => {
        options.logger.warn({ err: describeError(error) }, 'no chat doorbell: delivering on the poll only');
      });
  }

  /** Resolves once subscribed (or once subscribing failed). */
  ready(): Promise<void> {
    return this.#subscribed;
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
