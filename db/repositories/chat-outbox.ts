import type { Channel, MessageRef, ThreadRef } from '../../core/domain.ts';
import type { OutboundMessage } from '../../core/message.ts';
import type { Queryable } from '../database.ts';

/** One outbound chat message waiting in the outbox (or delivered). */
export type OutboxRow =
  | (OutboxRowBase & { kind: 'post'; thread: ThreadRef })
  | (OutboxRowBase & { kind: 'update'; thread: null });

interface OutboxRowBase {
  id: number;
  channel: Channel;
  /** post: the relay name the worker returned; update: the message to replace. */
  ref: MessageRef;
  message: OutboundMessage;
  attempts: number;
  /** False while the back-off after a failed attempt runs. */
  due: boolean;
  /**
   * A console message older than CONSOLE_STALE_MINUTES: the console is a terminal session, and a
   * line shown there long after nobody was attached only confuses the next session.
   */
  stale: boolean;
}

/** How old a console message may be and still be shown. */
export const CONSOLE_STALE_MINUTES = 10;

/** What became of the post behind a relay name. */
export type RelayedPost =
  | { state: 'delivered'; platformRef: MessageRef }
  | { state: 'pending' }
  /** Given up, or no such post (swept, or never written). */
  | { state: 'gone' };

/** The chat outbox of queue mode (migration 016): workers insert, a main process delivers. */
export class ChatOutboxRepository {
  constructor(private readonly db: Queryable) {}

  async insertPost(thread: ThreadRef, ref: MessageRef, message: OutboundMessage): Promise<number> {
    const result = await this.db.query(
      `INSERT INTO chat_outbox (channel, kind, thread, ref, message) VALUES ($1, 'post', $2, $3, $4) RETURNING id`,
      [thread.channel, thread, ref, message],
    );
    return Number(result.rows[0].id);
  }

  async insertUpdate(ref: MessageRef, message: OutboundMessage): Promise<number> {
    const result = await this.db.query(
      `INSERT INTO chat_outbox (channel, kind, ref, message) VALUES ($1, 'update', $2, $3) RETURNING id`,
      [ref.channel, ref, message],
    );
    return Number(result.rows[0].id);
  }

  /**
   * True when a row of one of these channels waits — any row (the deliverer's cheap idle check), or
   * one up to `upToId` (flush: what was there when it was called).
   */
  async hasUndelivered(channels: readonly Channel[], upToId?: number): Promise<boolean> {
    const result = await this.db.query(
      `SELECT 1 FROM chat_outbox
        WHERE delivered_at IS NULL AND given_up_at IS NULL AND channel = ANY($1)
          AND ($2::bigint IS NULL OR id <= $2) LIMIT 1`,
      [channels, upToId ?? null],
    );
    return result.rows.length > 0;
  }

  /**
   * Undelivered rows of these channels after `afterId`, in id order. `due` is false while a failed
   * row's back-off (`backoffMs` doubling per attempt, at most `maxBackoffMs`) runs.
   */
  async undelivered(
    channels: readonly Channel[],
    afterId: number,
    limit: number,
    backoff: { backoffMs: number; maxBackoffMs: number },
  ): Promise<OutboxRow[]> {
    const result = await this.db.query(
      `SELECT id, channel, kind, thread, ref, message, attempts,
              (attempts = 0 OR claimed_at IS NULL OR claimed_at + make_interval(
                 secs => least($4::float8, $3::float8 * power(2, attempts - 1)) / 1000) <= now()) AS due,
              (channel = 'console' AND created_at < now() - make_interval(mins => $6)) AS stale
         FROM chat_outbox
        WHERE delivered_at IS NULL AND given_up_at IS NULL AND channel = ANY($1) AND id > $2
        ORDER BY id LIMIT $5`,
      [channels, afterId, backoff.backoffMs, backoff.maxBackoffMs, limit, CONSOLE_STALE_MINUTES],
    );
    return result.rows.map((row) => ({ ...row, id: Number(row.id) }) as OutboxRow);
  }

  /** Start an attempt; returns the attempt's number, or null when the row is no longer waiting. */
  async claim(id: number): Promise<number | null> {
    const result = await this.db.query(
      `UPDATE chat_outbox SET attempts = attempts + 1, claimed_at = now()
        WHERE id = $1 AND delivered_at IS NULL AND given_up_at IS NULL RETURNING attempts`,
      [id],
    );
    return result.rows[0] ? Number(result.rows[0].attempts) : null;
  }

  async markDelivered(id: number, platformRef: MessageRef | null): Promise<void> {
    await this.db.query(`UPDATE chat_outbox SET delivered_at = now(), platform_ref = $2 WHERE id = $1`, [
      id,
      platformRef,
    ]);
  }

  /** Record a failed attempt; `giveUp` ends the row's delivery for good. */
  async markFailed(id: number, error: string, giveUp: boolean): Promise<void> {
    await this.db.query(
      `UPDATE chat_outbox SET last_error = $2, given_up_at = CASE WHEN $3::boolean THEN now() END WHERE id = $1`,
      [id, error.slice(0, 2000), giveUp],
    );
  }

  /** The real message behind a worker's relay name, or why there is none (yet). */
  async relayedPost(relayMessageId: string): Promise<RelayedPost> {
    const result = await this.db.query(
      `SELECT delivered_at IS NOT NULL AS delivered, given_up_at IS NOT NULL AS given_up, platform_ref
         FROM chat_outbox WHERE kind = 'post' AND ref ->> 'messageId' = $1`,
      [relayMessageId],
    );
    const row = result.rows[0];
    if (!row || row.given_up) return { state: 'gone' };
    if (row.delivered && row.platform_ref) return { state: 'delivered', platformRef: row.platform_ref };
    return row.delivered ? { state: 'gone' } : { state: 'pending' };
  }

  /** The newest row's id (0 when the outbox is empty). */
  async lastId(): Promise<number> {
    const result = await this.db.query('SELECT coalesce(max(id), 0) AS id FROM chat_outbox');
    return Number(result.rows[0].id);
  }

  /** Delete rows created before `before` (the hourly sweep); returns how many. */
  async sweep(before: Date): Promise<number> {
    const result = await this.db.query('DELETE FROM chat_outbox WHERE created_at < $1', [before]);
    return result.rowCount ?? 0;
  }
}
