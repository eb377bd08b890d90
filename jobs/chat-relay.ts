import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Channel, MessageRef, ThreadRef } from '../core/domain.ts';
import { describeError } from '../core/errors.ts';
import type { ChatSender, OutboundMessage } from '../core/message.ts';
import { chatChannelKey } from './queue-names.ts';

/** `id` is unique per relayed message: of several main processes, exactly one delivers it. */
type RelayedMessage =
  | { kind: 'post'; id: string; thread: ThreadRef; message: OutboundMessage; ref: MessageRef }
  | { kind: 'update'; id: string; ref: MessageRef; message: OutboundMessage };

const CHANNELS: Channel[] = ['console', 'slack', 'telegram', 'web', 'system'];

/**
 * The ChatSender of a worker process: chat adapters live in the main process (webhooks, the
 * console), so a worker publishes each outbound message on Redis (one pub/sub channel per chat
 * channel) and the main process delivers it. The worker names each message itself (`relay-…`)
 * so it can update it later; the main process maps that name to the platform's message id.
 */
export class RedisChatPublisher implements ChatSender {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #logger: Logger;

  constructor(options: { redisUrl: string; prefix: string; logger: Logger }) {
    this.#redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
    this.#redis.on('error', () => {});
    this.#prefix = options.prefix;
    this.#logger = options.logger;
  }

  async post(thread: ThreadRef, message: OutboundMessage): Promise<MessageRef> {
    const ref: MessageRef = {
      channel: thread.channel,
      conversation: thread.conversation,
      messageId: `relay-${randomUUID()}`,
    };
    await this.#publish(thread.channel, { kind: 'post', id: randomUUID(), thread, message, ref });
    return ref;
  }

  async update(ref: MessageRef, message: OutboundMessage): Promise<void> {
    await this.#publish(ref.channel, { kind: 'update', id: randomUUID(), ref, message });
  }

  async #publish(channel: Channel, payload: RelayedMessage): Promise<void> {
    const receivers = await this.#redis.publish(
      chatChannelKey(this.#prefix, channel),
      JSON.stringify(payload),
    );
    if (receivers === 0) {
      // Like ChatRouter with no adapter: the event log still tells the story.
      this.#logger.info(
        { channel, text: payload.message.text },
        'no chat process is listening; message not shown',
      );
    }
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}

/**
 * The main-process half: subscribes to the relayed messages and delivers them through the local
 * adapters, in order. Keeps the map relay name → real message (also in Redis, so a restarted
 * main process can still update a card a worker posted).
 */
export class RedisChatSubscriber {
  readonly #subscriber: Redis;
  readonly #store: Redis;
  readonly #target: ChatSender;
  readonly #logger: Logger;
  readonly #refsKey: string;
  readonly #refs = new Map<string, MessageRef>();
  #chain: Promise<void> = Promise.resolve();
  #delivered = 0;
  readonly #subscribed: Promise<unknown>;

  readonly #canDeliver: (channel: Channel) => boolean;
  readonly #prefix: string;

  /**
   * `canDeliver` says whether this process has an adapter for a channel: only such a process
   * takes a message, and of those exactly one (a Redis SET NX claim per message).
   */
  constructor(options: {
    redisUrl: string;
    prefix: string;
    target: ChatSender;
    canDeliver: (channel: Channel) => boolean;
    logger: Logger;
  }) {
    this.#canDeliver = options.canDeliver;
    this.#prefix = options.prefix;
    this.#subscriber = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
    this.#store = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
    this.#subscriber.on('error', () => {});
    this.#store.on('error', () => {});
    this.#target = options.target;
    this.#logger = options.logger;
    this.#refsKey = `${options.prefix}:chat:refs`;
    const keys = CHANNELS.map((channel) => chatChannelKey(options.prefix, channel));
    this.#subscriber.on('message', (_key: string, raw: string) => {
      this.#chain = this.#chain.then(() => this.#deliver(raw));
    });
    this.#subscribed = this.#subscriber.subscribe(...keys).catch((error: unknown) => {
      this.#logger.warn({ err: describeError(error) }, 'could not subscribe to relayed chat messages');
    });
  }

  /** Resolves once subscribed (so nothing published after it is missed). */
  async ready(): Promise<void> {
    await this.#subscribed;
  }

  /** How many relayed messages were delivered (tests, benchmarks). */
  get delivered(): number {
    return this.#delivered;
  }

  /** Wait until every message received so far is delivered. */
  async flush(): Promise<void> {
    await this.#chain;
  }

  /** The real message behind a relay name (or the ref itself when it is not a relay name). */
  async resolve(ref: MessageRef): Promise<MessageRef> {
    if (!ref.messageId.startsWith('relay-')) return ref;
    const known = this.#refs.get(ref.messageId);
    if (known) return known;
    const stored = await this.#store.hget(this.#refsKey, ref.messageId).catch(() => null);
    return stored ? (JSON.parse(stored) as MessageRef) : ref;
  }

  /** A ChatSender for the main process that understands relay names in `update`. */
  translating(): ChatSender {
    return {
      post: (thread, message) => this.#target.post(thread, message),
      update: async (ref, message) => this.#target.update(await this.resolve(ref), message),
    };
  }

  async #deliver(raw: string): Promise<void> {
    try {
      const payload = JSON.parse(raw) as RelayedMessage;
      const channel = payload.kind === 'post' ? payload.thread.channel : payload.ref.channel;
      if (!this.#canDeliver(channel)) return;
      const claimed = await this.#store.set(
        `${this.#prefix}:chat:claimed:${payload.id}`,
        '1',
        'EX',
        3600,
        'NX',
      );
      if (claimed !== 'OK') return;
      if (payload.kind === 'post') {
        const real = await this.#target.post(payload.thread, payload.message);
        this.#refs.set(payload.ref.messageId, real);
        if (this.#refs.size > 10_000) this.#refs.delete(this.#refs.keys().next().value as string);
        await this.#store
          .multi()
          .hset(this.#refsKey, payload.ref.messageId, JSON.stringify(real))
          .expire(this.#refsKey, 30 * 86_400)
          .exec()
          .catch(() => {});
      } else {
        await this.#target.update(await this.resolve(payload.ref), payload.message);
      }
      this.#delivered += 1;
    } catch (error) {
      this.#logger.warn({ err: describeError(error) }, 'could not deliver a relayed chat message');
    }
  }

  async close(): Promise<void> {
    await this.#chain;
    await this.#subscriber.quit().catch(() => this.#subscriber.disconnect());
    await this.#store.quit().catch(() => this.#store.disconnect());
  }
}
