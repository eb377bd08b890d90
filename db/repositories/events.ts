import type { Channel, NewEvent, SpineEvent } from '../../core/domain.ts';
import type { Queryable } from '../database.ts';
import { toDate } from './rows.ts';

export function toEvent(row: Record<string, unknown>): SpineEvent {
  return {
    id: Number(row.id),
    at: toDate(row.at),
    operatorId: row.operator_id === null ? null : Number(row.operator_id),
    actor: String(row.actor),
    verb: String(row.verb),
    object: String(row.object),
    why: (row.why as string | null) ?? null,
    ref: (row.ref as string | null) ?? null,
    goalId: row.goal_id === null ? null : Number(row.goal_id),
    actionId: row.action_id === null ? null : Number(row.action_id),
    channel: (row.channel as Channel | null) ?? null,
    payload: (row.payload as Record<string, unknown>) ?? {},
  };
}

export interface EventFilter {
  operatorId?: number;
  goalId?: number;
  /** The newest `limit` events (returned oldest first). */
  limit?: number;
}

/** The append-only business event log. */
export class EventRepository {
  constructor(private readonly db: Queryable) {}

  async append(event: NewEvent): Promise<SpineEvent> {
    const result = await this.db.query(
      `INSERT INTO events (at, operator_id, actor, verb, object, why, ref, goal_id, action_id, channel, payload)
       VALUES (COALESCE($1, now()), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
      [
        event.at ?? null,
        event.operatorId,
        event.actor,
        event.verb,
        event.object,
        event.why ?? null,
        event.ref ?? null,
        event.goalId ?? null,
        event.actionId ?? null,
        event.channel ?? null,
        JSON.stringify(event.payload ?? {}),
      ],
    );
    return toEvent(result.rows[0]);
  }

  /** Events, oldest first. */
  async list(filter: EventFilter = {}): Promise<SpineEvent[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.operatorId !== undefined) {
      args.push(filter.operatorId);
      // Events with no operator (e.g. a stranger refused) belong to everyone's story.
      where.push(`(operator_id = $${args.length} OR operator_id IS NULL)`);
    }
    if (filter.goalId !== undefined) {
      args.push(filter.goalId);
      where.push(`goal_id = $${args.length}`);
    }
    args.push(filter.limit ?? 50);
    const result = await this.db.query(
      `SELECT * FROM (SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id DESC LIMIT $${args.length}) newest ORDER BY id`,
      args,
    );
    return result.rows.map(toEvent);
  }
}
