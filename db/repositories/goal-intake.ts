import type { Channel, Goal, ThreadRef } from '../../core/domain.ts';
import type { Queryable } from '../database.ts';
import { toGoal } from './goals.ts';

export interface GoalDelivery {
  channel: Channel;
  deliveryId: string;
  operatorId: number;
  thread: ThreadRef;
  text: string;
  requestedBy: string;
  /** The event's object, e.g. the quoted text. */
  eventObject: string;
}

/**
 * Record a delivered message as a goal exactly once, in ONE statement (so one round trip and one
 * commit — the ingress hot path): the inbox row (dedupe on channel + delivery id), the goal, and the
 * "asked" event. A second delivery of the same id inserts nothing and returns null.
 *
 * Data-modifying WITH clauses always run, referenced or not. The goal id is drawn first so the inbox row can carry it; foreign keys are checked at the end of
 * the statement, when the goal exists. A duplicate only burns a sequence number.
 */
export async function recordGoalOnce(db: Queryable, delivery: GoalDelivery): Promise<Goal | null> {
  const result = await db.query(
    `WITH next AS (SELECT nextval(pg_get_serial_sequence('goals', 'id')) AS id),
     accepted AS (
       INSERT INTO inbox (channel, delivery_id, goal_id) SELECT $1, $2, id FROM next
       ON CONFLICT DO NOTHING RETURNING goal_id
     ),
     goal AS (
       INSERT INTO goals (id, operator_id, channel, thread, text, requested_by) OVERRIDING SYSTEM VALUE
       SELECT goal_id, $3, $1, $4::jsonb, $5, $6 FROM accepted RETURNING *
     ),
     event AS (
       INSERT INTO events (operator_id, actor, verb, object, goal_id, channel)
       SELECT $3, 'operator', 'asked', $7, id, $1 FROM goal RETURNING id
     )
     SELECT * FROM goal`,
    [
      delivery.channel,
      delivery.deliveryId,
      delivery.operatorId,
      JSON.stringify(delivery.thread),
      delivery.text,
      delivery.requestedBy,
      delivery.eventObject,
    ],
  );
  return result.rows[0] ? toGoal(result.rows[0]) : null;
}
