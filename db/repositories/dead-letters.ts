import type pg from 'pg';
import type { Channel } from '../../core/domain.ts';
import { withTransaction } from '../transaction.ts';
import { EventRepository } from './events.ts';

/** A chat delivery set aside after its last failed attempt. */
export interface DeadLetter {
  id: number;
  channel: Channel;
  deliveryId: string;
  /** The delivery as received, without secrets. */
  payload: Record<string, unknown>;
  error: string;
  attempts: number;
  createdAt: Date;
}

export interface NewDeadLetter {
  channel: Channel;
  deliveryId: string;
  payload: Record<string, unknown>;
  error: string;
  attempts: number;
}

/** Longest error text kept: enough for a stack's first lines, not a whole HTML error page. */
const MAX_ERROR_CHARS = 2_000;
/** A failed attempt counted this long ago belongs to a delivery that has since worked or expired. */
const STALE_ATTEMPTS = '1 day';

const PLATFORM: Record<string, string> = { telegram: 'Telegram update', slack: 'Slack event' };

/**
 * Chat deliveries that kept failing (a poisoned Telegram update, a Slack event whose listener always
 * throws), set aside so their channel moves on, and the failed attempts of deliveries whose platform
 * does not count them for us (the Telegram webhook).
 */
export class DeadLetterRepository {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Set a delivery aside, and append its event, in one transaction. A delivery already set aside
   * (a platform re-sent it) keeps its first row and event; `created` tells which happened.
   */
  async record(letter: NewDeadLetter): Promise<{ id: number; created: boolean }> {
    const error = letter.error.slice(0, MAX_ERROR_CHARS);
    return withTransaction(this.pool, async (client) => {
      const inserted = await client.query(
        `INSERT INTO dead_letters (channel, delivery_id, payload, error, attempts) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (channel, delivery_id) DO NOTHING RETURNING id`,
        [letter.channel, letter.deliveryId, JSON.stringify(letter.payload), error, letter.attempts],
      );
      await client.query('DELETE FROM delivery_attempts WHERE channel = $1 AND delivery_id = $2', [
        letter.channel,
        letter.deliveryId,
      ]);
      const row = inserted.rows[0];
      if (!row) {
        const existing = await client.query(
          'SELECT id FROM dead_letters WHERE channel = $1 AND delivery_id = $2',
          [letter.channel, letter.deliveryId],
        );
        return { id: Number(existing.rows[0]?.id), created: false };
      }
      const id = Number(row.id);
      await new EventRepository(client).append({
        operatorId: null,
        actor: 'spine',
        verb: 'set aside',
        object: `${PLATFORM[letter.channel] ?? `${letter.channel} delivery`} ${letter.deliveryId} after ${letter.attempts} failed attempts`,
        why: `handling it kept failing (${error.slice(0, 200)}), and the channel must move on`,
        ref: `dead letter #${id}`,
        channel: letter.channel,
        payload: { deadLetterId: id, deliveryId: letter.deliveryId, attempts: letter.attempts },
      });
      return { id, created: true };
    });
  }

  /** Count one more failed attempt of a delivery; returns the attempts so far. */
  async countAttempt(channel: Channel, deliveryId: string): Promise<number> {
    // Only the failure path pays for the pruning: a delivery that failed once and then worked
    // leaves its row behind, and it goes here a day later.
    await this.pool.query(
      `DELETE FROM delivery_attempts WHERE updated_at < now() - interval '${STALE_ATTEMPTS}'`,
    );
    const result = await this.pool.query(
      `INSERT INTO delivery_attempts (channel, delivery_id, attempts) VALUES ($1, $2, 1)
       ON CONFLICT (channel, delivery_id)
       DO UPDATE SET attempts = delivery_attempts.attempts + 1, updated_at = now()
       RETURNING attempts`,
      [channel, deliveryId],
    );
    return Number(result.rows[0]?.attempts ?? 1);
  }

  /** Dead letters of a channel (all when none is given), newest first. */
  async list(channel?: Channel, limit = 50): Promise<DeadLetter[]> {
    const result = await this.pool.query(
      `SELECT * FROM dead_letters ${channel ? 'WHERE channel = $2' : ''} ORDER BY id DESC LIMIT $1`,
      channel ? [limit, channel] : [limit],
    );
    return result.rows.map((row) => ({
      id: Number(row.id),
      channel: row.channel as Channel,
      deliveryId: String(row.delivery_id),
      payload: row.payload as Record<string, unknown>,
      error: String(row.error),
      attempts: Number(row.attempts),
      createdAt: new Date(row.created_at as string | Date),
    }));
  }
}
