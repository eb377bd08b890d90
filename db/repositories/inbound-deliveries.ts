import type pg from 'pg';
import type { Channel, NewEvent } from '../../core/domain.ts';
import type { Queryable } from '../database.ts';
import { withTransaction } from '../transaction.ts';
import { EventRepository } from './events.ts';

/** Dedupe of inbound deliveries (e-mail Message-IDs, Stripe event ids), recorded once handed on. */
export class InboundDeliveryRepository {
  constructor(private readonly db: Queryable) {}

  /** True when a delivery with this id was handed on before. */
  async seen(source: string, deliveryId: string): Promise<boolean> {
    const result = await this.db.query(
      'SELECT 1 FROM inbound_deliveries WHERE source = $1 AND delivery_id = $2',
      [source, deliveryId],
    );
    return (result.rowCount ?? 0) > 0;
  }

  /** Record a delivery as handed on; true when it was new. */
  async record(
    source: string,
    deliveryId: string,
    type: string,
    memoryId: number | null = null,
  ): Promise<boolean> {
    const result = await this.db.query(
      `INSERT INTO inbound_deliveries (source, delivery_id, type, memory_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING RETURNING delivery_id`,
      [source, deliveryId, type, memoryId],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async count(source: string): Promise<number> {
    const result = await this.db.query(
      'SELECT count(*)::int AS count FROM inbound_deliveries WHERE source = $1',
      [source],
    );
    return Number(result.rows[0]?.count ?? 0);
  }
}

/** An IMAP mailbox's cursor: its UIDVALIDITY and the last UID handed on. */
export interface MailboxCursor {
  uidValidity: string;
  lastUid: number;
}

/** Where reading each IMAP mailbox resumes after a restart. */
export class ImapMailboxRepository {
  constructor(private readonly db: Queryable) {}

  async get(mailboxKey: string): Promise<MailboxCursor | null> {
    const result = await this.db.query(
      'SELECT uid_validity, last_uid FROM imap_mailboxes WHERE mailbox_key = $1',
      [mailboxKey],
    );
    const row = result.rows[0];
    return row ? { uidValidity: String(row.uid_validity), lastUid: Number(row.last_uid) } : null;
  }

  /** Save the cursor; a new UIDVALIDITY replaces the old one and its UIDs. */
  async save(mailboxKey: string, cursor: MailboxCursor): Promise<void> {
    await this.db.query(
      `INSERT INTO imap_mailboxes (mailbox_key, uid_validity, last_uid, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (mailbox_key) DO UPDATE SET uid_validity = EXCLUDED.uid_validity,
         last_uid = EXCLUDED.last_uid, updated_at = now()`,
      [mailboxKey, cursor.uidValidity, cursor.lastUid],
    );
  }
}

/** A day's refusals of one stranger, after counting one more. */
export interface StrangerRefusalCount {
  /** Refusals of this stranger on this day, the one just counted included. */
  refusals: number;
  /** The day's event, appended by the first refusal of the day. */
  eventId: number | null;
}

/** How long a stranger's daily counts are kept (pruned by the first refusal of a day). */
const STRANGER_REFUSAL_DAYS = 90;

/**
 * Refusals of people who are not the operator, one row per stranger per day: the first of the day
 * appends one event (the event log is append-only, so it must not take one per message); later
 * ones only bump the day's count, in one statement.
 */
export class StrangerRefusalRepository {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Count a refusal on `day` (YYYY-MM-DD). The day's first appends `event` in the same transaction
   * as its counter row, so a crash leaves neither (the retried delivery writes both) and any number
   * of concurrent refusals append exactly one event.
   */
  async record(input: {
    channel: Channel;
    userId: string;
    day: string;
    attempted: string;
    event: NewEvent;
  }): Promise<StrangerRefusalCount> {
    const key = [input.channel, input.userId, input.day, input.attempted];
    // The flood's path: one statement, no transaction.
    const bumped = await this.pool.query(
      `UPDATE stranger_refusals SET refusals = refusals + 1, last_attempt = $4, last_at = now()
       WHERE channel = $1 AND user_id = $2 AND day = $3::date RETURNING refusals, event_id`,
      key,
    );
    if (bumped.rows[0]) return countOf(bumped.rows[0]);
    return withTransaction(this.pool, async (client) => {
      // The row lock taken here makes a concurrent first refusal wait, then count 2.
      const inserted = await client.query(
        `INSERT INTO stranger_refusals (channel, user_id, day, last_attempt) VALUES ($1, $2, $3::date, $4)
         ON CONFLICT (channel, user_id, day) DO UPDATE SET refusals = stranger_refusals.refusals + 1,
           last_attempt = EXCLUDED.last_attempt, last_at = now()
         RETURNING refusals, event_id`,
        key,
      );
      const row = inserted.rows[0] ?? {};
      if (Number(row.refusals) !== 1) return countOf(row);
      const event = await new EventRepository(client).append(input.event);
      await client.query(
        'UPDATE stranger_refusals SET event_id = $4 WHERE channel = $1 AND user_id = $2 AND day = $3::date',
        [input.channel, input.userId, input.day, event.id],
      );
      await client.query(`DELETE FROM stranger_refusals WHERE day < $1::date - ${STRANGER_REFUSAL_DAYS}`, [
        input.day,
      ]);
      return { refusals: 1, eventId: event.id };
    });
  }

  /** A stranger's count on a day (0 when they were not refused that day). */
  async count(channel: Channel, userId: string, day: string): Promise<number> {
    const result = await this.pool.query(
      'SELECT refusals FROM stranger_refusals WHERE channel = $1 AND user_id = $2 AND day = $3::date',
      [channel, userId, day],
    );
    return Number(result.rows[0]?.refusals ?? 0);
  }
}

function countOf(row: Record<string, unknown>): StrangerRefusalCount {
  return {
    refusals: Number(row.refusals),
    eventId: row.event_id === null || row.event_id === undefined ? null : Number(row.event_id),
  };
}
