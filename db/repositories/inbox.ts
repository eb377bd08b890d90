import type { Channel } from '../../core/domain.ts';
import type { Queryable } from '../database.ts';

/** Dedupe of deliveries from chat platforms: the first delivery of an id wins. */
export class InboxRepository {
  constructor(private readonly db: Queryable) {}

  /** True when this delivery is new; false when it was seen before (a retry or re-delivery). */
  async accept(channel: Channel, deliveryId: string): Promise<boolean> {
    const result = await this.db.query(
      'INSERT INTO inbox (channel, delivery_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING delivery_id',
      [channel, deliveryId],
    );
    return (result.rowCount ?? 0) > 0;
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
