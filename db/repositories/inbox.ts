import type { Channel } from '../../core/domain.ts';
import type { Queryable } from '../database.ts';

/** Dedupe of deliveries from chat platforms: the first delivery of an id wins. */
export class InboxRepository {
  constructor(private readonly db: Queryable) {}

  /**
   * True when this delivery is new; false when it was seen before (a retry or re-delivery). The
   * delivery counts as done at once: only for work that cannot fail after this call (work that
   * can fail uses `claim`, then `finish` or `release`, so a retry after a failure is not dropped).
   */
  async accept(channel: Channel, deliveryId: string): Promise<boolean> {
    const result = await this.db.query(
      'INSERT INTO inbox (channel, delivery_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING delivery_id',
      [channel, deliveryId],
    );
    return (result.rowCount ?? 0) > 0;
  }

  /**
   * Claim a delivery for long work under a lease (`renew` it while working, `finish` when done).
   * Null when it is done or another claim's lease still runs; `takenOver` when a lapsed lease (a
   * crash mid-work) was taken over.
   */
  async claim(channel: Channel, deliveryId: string, leaseMs: number): Promise<{ takenOver: boolean } | null> {
    const result = await this.db.query(
      `INSERT INTO inbox (channel, delivery_id, lease_until) VALUES ($1, $2, now() + make_interval(secs => $3))
       ON CONFLICT (channel, delivery_id) DO UPDATE SET lease_until = EXCLUDED.lease_until
         WHERE inbox.lease_until IS NOT NULL AND inbox.lease_until < now()
       RETURNING (xmax <> 0) AS taken_over`,
      [channel, deliveryId, leaseMs / 1000],
    );
    const row = result.rows[0];
    return row ? { takenOver: row.taken_over === true } : null;
  }

  /** Extend a claim's lease (the work goes on). */
  async renew(channel: Channel, deliveryId: string, leaseMs: number): Promise<void> {
    await this.db.query(
      `UPDATE inbox SET lease_until = now() + make_interval(secs => $3)
       WHERE channel = $1 AND delivery_id = $2 AND lease_until IS NOT NULL`,
      [channel, deliveryId, leaseMs / 1000],
    );
  }

  /** The claimed work is done: later deliveries of the id are duplicates. */
  async finish(channel: Channel, deliveryId: string): Promise<void> {
    await this.db.query('UPDATE inbox SET lease_until = NULL WHERE channel = $1 AND delivery_id = $2', [
      channel,
      deliveryId,
    ]);
  }

  /** The claimed work failed unexpectedly: let the platform's next redelivery try again. */
  async release(channel: Channel, deliveryId: string): Promise<void> {
    await this.db.query(
      `UPDATE inbox SET lease_until = now() - interval '1 second'
       WHERE channel = $1 AND delivery_id = $2 AND lease_until IS NOT NULL`,
      [channel, deliveryId],
    );
  }

  async linkGoal(channel: Channel, deliveryId: string, goalId: number): Promise<void> {
    await this.db.query('UPDATE inbox SET goal_id = $3 WHERE channel = $1 AND delivery_id = $2', [
      channel,
      deliveryId,
      goalId,
    ]);
  }

  async goalFor(channel: Channel, deliveryId: string): Promise<number | null> {
    const result = await this.db.query('SELECT goal_id FROM inbox WHERE channel = $1 AND delivery_id = $2', [
      channel,
      deliveryId,
    ]);
    const goalId = result.rows[0]?.goal_id;
    return goalId === null || goalId === undefined ? null : Number(goalId);
  }
}
