import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Channel, MessageRef, ThreadRef } from '../core/domain.ts';
import { describeError } from '../core/errors.ts';
import type { ChatSender, OutboundMessage } from '../core/message.ts';
import { ChatOutboxRepository, type OutboxRow } from '../db/repositories/chat-outbox.ts';

/** A worker names each message it posts with this prefix; the outbox maps it to the real message. */
const RELAY_PREFIX = 'relay-';

/** The back-off between attempts doubles up to this. */
const MAX_BACKOFF_MS = 5 * 60_000;

/** Rows read per query while delivering. */
const PAGE = 100;

/** The delivery loop of one channel in one process. */
interface ChannelLoop {
  running: Promise<void> | undefined;
  /** A ring came during the running pass: run one more. */
  again: boolean;
  /** The last pass's error, logged once until a pass succeeds. */
  lastError: string | undefined;
}

/** True when a ref is a worker's name for a message (not a platform's message id). */
export function isRelayName(ref: MessageRef): boolean {
  return ref.messageId.startsWith(RELAY_PREFIX);
}

/**
 * The ChatSender of a worker process. Chat adapters live in the main process (webhooks, the
 * console), so a worker writes each outbound message to the chat outbox in Postgres: once the
 * insert returns, the message is handed over durably, whatever happens to Redis or to the main
 * process. A post is named by the worker (`relay-…`) so the worker can update it later; the main
 * process that delivers it records the platform's message for that name. `ring` (the Redis
 * doorbell) only makes delivery prompt.
 */
export class OutboxChatSender implements ChatSender {
  readonly #outbox: ChatOutboxRepository;
  readonly #ring: () => void;

  constructor(options: { pool: pg.Pool; ring?: () => void }) {
    // Single statements on the pool: no transaction is held while anything else waits.
    this.#outbox = new ChatOutboxRepository(options.pool);
    this.#ring = options.ring ?? (() => {});
  }

  async post(thread: ThreadRef, message: OutboundMessage): Promise<MessageRef> {
    const ref: MessageRef = {
      channel: thread.channel,
      conversation: thread.conversation,
      messageId: `${RELAY_PREFIX}${randomUUID()}`,
    };
    await this.#outbox.insertPost(thread, ref, message);
    this.#ring();
    return ref;
  }

  async update(ref: MessageRef, message: OutboundMessage): Promise<void> {
    await this.#outbox.insertUpdate(ref, message);
    this.#ring();
  }
}

export interface ChatOutboxDelivererOptions {
  pool: pg.Pool;
  /** The schema: advisory locks are namespaced by it (Spines sharing a database never block each other). */
  schema: string;
  /** The process's own adapters (the ChatRouter). */
  target: ChatSender;
  /** The channels this process has an adapter for (asked on every pass: adapters register late). */
  channels: () => readonly Channel[];
  logger: Logger;
  /** How often to look for rows without a ring. */
  pollMs: number;
  /** Attempts per message before it is given up. */
  attempts: number;
  /** The first retry delay; doubles each attempt (at most 5 minutes). */
  backoffMs: number;
}

/**
 * The main-process half: delivers the outbox through the local adapters, in id order, and marks
 * each row delivered (a post with the real message it became). It runs a pass when the doorbell
 * rings and every `pollMs` anyway.
 *
 * Each channel has its own delivery loop, so a platform that is slow or failing delays only its
 * own messages. Of several main processes, one delivers a channel at a time: a pass holds a
 * Postgres advisory lock on the channel (on its own connection, released at the end of the pass;
 * a crashed process's locks vanish with its connection). Only processes with an adapter for a
 * channel take part, so a channel nobody serves leaves its rows waiting (delivered when such a
 * process starts) without holding up other channels.
 *
 * Order is kept per conversation: a row that failed (and waits for its retry) holds back the later
 * rows of its conversation, and an update of a worker's post waits until the post is delivered.
 * Delivery is at-least-once: a process that dies between the platform call and the delivered mark
 * has shown the message, and the next pass shows it again.
 */
export class ChatOutboxDeliverer {
  readonly #options: ChatOutboxDelivererOptions;
  readonly #outbox: ChatOutboxRepository;
  readonly #namespace: string;
  readonly #timer: NodeJS.Timeout;
  /** One delivery loop per channel: a slow or failing platform never holds up another. */
  readonly #loops = new Map<Channel, ChannelLoop>();
  #closed = false;
  #delivered = 0;

  constructor(options: ChatOutboxDelivererOptions) {
    this.#options = options;
    this.#outbox = new ChatOutboxRepository(options.pool);
    this.#namespace = `spine-chat-outbox:${options.schema}`;
    this.#timer = setInterval(() => this.wake(), options.pollMs);
    this.#timer.unref();
  }

  /** How many messages this process delivered (tests, benchmarks). */
  get delivered(): number {
    return this.#delivered;
  }

  /** Run a pass of every channel now (or right after its running one): the doorbell rang. */
  wake(): void {
    for (const channel of this.#options.channels()) void this.#run(channel);
  }

  /**
   * Wait until every message in the outbox when called is delivered — here or by another main
   * process — or cannot be: given up, or for a channel this process has no adapter for.
   */
  async flush(): Promise<void> {
    try {
      const upTo = await this.#outbox.lastId();
      for (;;) {
        const channels = this.#options.channels();
        await Promise.all(channels.map((channel) => this.#run(channel)));
        if (this.#closed || channels.length === 0) return;
        if (!(await this.#outbox.hasUndelivered(channels, upTo))) return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    } catch (error) {
      this.#options.logger.warn({ err: describeError(error) }, 'could not wait for the chat outbox');
    }
  }

  /**
   * A ChatSender for the main process's own intake: posts go straight to the adapters; an update
   * of a worker's message (a relay name) edits the message it became, or, when that post is not
   * shown yet, waits in the outbox behind it.
   */
  translating(): ChatSender {
    const { target } = this.#options;
    return {
      post: (thread, message) => target.post(thread, message),
      update: async (ref, message) => {
        if (!isRelayName(ref)) return target.update(ref, message);
        const post = await this.#outbox.relayedPost(ref.messageId);
        if (post.state === 'delivered') return target.update(post.platformRef, message);
        await this.#outbox.insertUpdate(ref, message);
        this.wake();
      },
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await Promise.all([...this.#loops.values()].map((loop) => loop.running));
  }

  /**
   * One pass of a channel now, or one more after its running pass (rings during a pass are not
   * lost). Each channel has its own loop, so a platform that is slow to answer delays only itself.
   */
  #run(channel: Channel): Promise<void> {
    if (this.#closed) return Promise.resolve();
    let loop = this.#loops.get(channel);
    if (!loop) {
      loop = { running: undefined, again: false, lastError: undefined };
      this.#loops.set(channel, loop);
    }
    const current = loop;
    current.again = true;
    current.running ??= (async () => {
      try {
        while (current.again && !this.#closed) {
          current.again = false;
          await this.#pass(channel).then(
            () => {
              current.lastError = undefined;
            },
            (error: unknown) => {
              // Postgres away: say so once, keep polling.
              const text = describeError(error);
              if (text !== current.lastError)
                this.#options.logger.warn(
                  { err: text, channel },
                  'could not deliver from the chat outbox; will retry',
                );
              current.lastError = text;
            },
          );
        }
      } finally {
        current.running = undefined;
      }
    })();
    return current.running;
  }

  async #pass(channel: Channel): Promise<void> {
    if (!(await this.#outbox.hasUndelivered([channel]))) return;
    const client = await this.#options.pool.connect();
    let broken = false;
    try {
      const result = await client.query('SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS locked', [
        this.#namespace,
        channel,
      ]);
      if (!result.rows[0]?.locked) return;
      await this.#deliverRows(new ChatOutboxRepository(client), channel);
      await client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [this.#namespace, channel]);
    } catch (error) {
      broken = true;
      throw error;
    } finally {
      // After an error the connection is closed rather than reused: that drops its locks.
      client.release(broken);
    }
  }

  /** Deliver the waiting rows of `channel` in id order, skipping conversations held back. */
  async #deliverRows(outbox: ChatOutboxRepository, channel: Channel): Promise<void> {
    const heldBack = new Set<string>();
    const backoff = { backoffMs: this.#options.backoffMs, maxBackoffMs: MAX_BACKOFF_MS };
    // Ids are given at insert and rows commit in any order, so a row may become visible behind
    // one already delivered: it is delivered by the next pass (only concurrent messages of
    // different jobs, which have no order of their own, can swap places).
    for (let after = 0; !this.#closed; ) {
      const rows = await outbox.undelivered([channel], after, PAGE, backoff);
      if (rows.length === 0) return;
      for (const row of rows) {
        after = row.id;
        const conversation = `${row.channel}:${row.ref.conversation}`;
        if (heldBack.has(conversation)) continue;
        if (!row.due || !(await this.#deliver(outbox, row))) heldBack.add(conversation);
        if (this.#closed) return;
      }
    }
  }

  /** Deliver one row; false when it must wait (a retry later, or its post not shown yet). */
  async #deliver(outbox: ChatOutboxRepository, row: OutboxRow): Promise<boolean> {
    const { logger, target } = this.#options;
    if (row.stale) {
      await outbox.markFailed(row.id, 'a console message nobody was there to read in time', true);
      logger.info({ id: row.id }, 'stale console message not shown');
      return true;
    }
    let ref = row.ref;
    if (row.kind === 'update' && isRelayName(row.ref)) {
      const post = await outbox.relayedPost(row.ref.messageId);
      if (post.state === 'pending') return false;
      if (post.state === 'gone') {
        await outbox.markFailed(row.id, 'the message it updates was never shown', true);
        logger.warn(
          { id: row.id, channel: row.channel },
          'chat update dropped: the message it updates was never shown',
        );
        return true;
      }
      ref = post.platformRef;
    }
    const attempt = await outbox.claim(row.id);
    if (attempt === null) return true;
    let shown: MessageRef | null = null;
    try {
      if (row.kind === 'post') shown = await target.post(row.thread, row.message);
      else await target.update(ref, row.message);
    } catch (error) {
      const giveUp = attempt >= this.#options.attempts;
      await outbox.markFailed(row.id, describeError(error), giveUp);
      const fields = { id: row.id, channel: row.channel, kind: row.kind, attempt, err: describeError(error) };
      if (giveUp) logger.error(fields, 'gave up delivering a chat message');
      else logger.warn(fields, 'could not deliver a chat message; will retry');
      return giveUp;
    }
    // A crash right here shows the message again on the next pass (at-least-once).
    await outbox.markDelivered(row.id, shown);
    this.#delivered += 1;
    return true;
  }
}
