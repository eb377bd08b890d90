import type { Channel, Goal, Identity, ThreadRef } from '../../core/domain.ts';
import type { Queryable } from '../database.ts';
import { toGoal } from './goals.ts';
import { toIdentity } from './operators.ts';

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
 * The inbox row (dedupe on channel + delivery id), the goal and its "asked" event, written from a
 * CTE `next (id, operator_id)` that draws the goal's id: no row in `next`, nothing written.
 * Parameters: $1 channel, $2 delivery id, $4 thread, $5 text, $6 requested by, $7 event object.
 *
 * Data-modifying WITH clauses always run, referenced or not. The goal id is drawn first so the
 * inbox row can carry it; foreign keys are checked at the end of the statement, when the goal
 * exists. A duplicate only burns a sequence number.
 */
const RECORD_FROM_NEXT = `accepted AS (
       INSERT INTO inbox (channel, delivery_id, goal_id) SELECT $1, $2, id FROM next
       ON CONFLICT DO NOTHING RETURNING goal_id
     ),
     goal AS (
       INSERT INTO goals (id, operator_id, channel, thread, text, requested_by) OVERRIDING SYSTEM VALUE
       SELECT accepted.goal_id, next.operator_id, $1, $4::jsonb, $5, $6
       FROM accepted JOIN next ON next.id = accepted.goal_id RETURNING *
     ),
     event AS (
       INSERT INTO events (operator_id, actor, verb, object, goal_id, channel)
       SELECT operator_id, 'operator', 'asked', $7, id, $1 FROM goal RETURNING id
     )`;

const NEXT_GOAL_ID = `nextval(pg_get_serial_sequence('goals', 'id'))`;

/**
 * Record a delivered message as a goal exactly once, in ONE statement (so one round trip and one
 * commit): the inbox row, the goal, and the "asked" event. A second delivery of the same id
 * inserts nothing and returns null.
 */
export async function recordGoalOnce(db: Queryable, delivery: GoalDelivery): Promise<Goal | null> {
  const result = await db.query({
    name: 'spine.record-goal',
    text: `WITH next AS (SELECT ${NEXT_GOAL_ID} AS id, $3::bigint AS operator_id),
     ${RECORD_FROM_NEXT}
     SELECT * FROM goal`,
    values: [
      delivery.channel,
      delivery.deliveryId,
      delivery.operatorId,
      JSON.stringify(delivery.thread),
      delivery.text,
      delivery.requestedBy,
      delivery.eventObject,
    ],
  });
  return result.rows[0] ? toGoal(result.rows[0]) : null;
}

export interface RequestDelivery extends Omit<GoalDelivery, 'operatorId'> {
  /** The sender's id on the platform: the statement looks up their identity. */
  userId: string;
  /**
   * Whether a chat-triggered playbook could answer this text (null: none can, e.g. it is long).
   * `notMatching` lists the playbook versions already known not to answer it.
   */
  chatTriggers: { notMatching: readonly number[] } | null;
}

/** An enabled playbook whose current version might answer the text with its chat trigger. */
export interface UnsurePlaybook {
  name: string;
  versionId: number;
}

export type RequestRecord =
  | { kind: 'stranger' }
  /** Nothing written: these playbooks must be checked first (their versions are not known yet). */
  | { kind: 'unsure'; identity: Identity; playbooks: UnsurePlaybook[] }
  | { kind: 'recorded'; identity: Identity; goal: Goal }
  | { kind: 'duplicate'; identity: Identity };

/**
 * The ingress hot path for an ordinary request, in ONE statement (one round trip, one commit): look
 * up the sender's identity, make sure no enabled playbook of theirs might be triggered by the
 * text, then record it as {@link recordGoalOnce} does. A stranger, or a playbook that still needs a
 * look, writes nothing; the caller then refuses, or checks the playbooks and records or triggers.
 */
export async function recordRequestOnce(db: Queryable, delivery: RequestDelivery): Promise<RequestRecord> {
  const result = await db.query({
    name: 'spine.record-request',
    text: `WITH who AS (SELECT * FROM identities WHERE channel = $1 AND external_id = $3),
     unsure AS (
       SELECT p.name, p.current_version_id FROM playbooks p JOIN who ON p.operator_id = who.operator_id
       WHERE $8::boolean AND p.enabled AND NOT (p.current_version_id = ANY ($9::bigint[]))
     ),
     next AS (SELECT ${NEXT_GOAL_ID} AS id, who.operator_id FROM who WHERE NOT EXISTS (SELECT FROM unsure)),
     ${RECORD_FROM_NEXT}
     SELECT who.channel AS who_channel, who.external_id AS who_external_id,
            who.operator_id AS who_operator_id, who.display_name AS who_display_name,
            (SELECT json_agg(json_build_object('name', name, 'versionId', current_version_id) ORDER BY name)
               FROM unsure) AS unsure,
            goal.*
     FROM (SELECT) AS one LEFT JOIN who ON true LEFT JOIN goal ON true`,
    values: [
      delivery.channel,
      delivery.deliveryId,
      delivery.userId,
      JSON.stringify(delivery.thread),
      delivery.text,
      delivery.requestedBy,
      delivery.eventObject,
      delivery.chatTriggers !== null,
      delivery.chatTriggers?.notMatching ?? [],
    ],
  });
  const row = result.rows[0] as Record<string, unknown>;
  if (row.who_operator_id === null || row.who_operator_id === undefined) return { kind: 'stranger' };
  const identity = toIdentity({
    channel: row.who_channel,
    external_id: row.who_external_id,
    operator_id: row.who_operator_id,
    display_name: row.who_display_name,
  });
  const unsure = row.unsure as Array<{ name: string; versionId: number | string }> | null;
  if (unsure && unsure.length > 0)
    return {
      kind: 'unsure',
      identity,
      playbooks: unsure.map((playbook) => ({ name: playbook.name, versionId: Number(playbook.versionId) })),
    };
  if (row.id === null || row.id === undefined) return { kind: 'duplicate', identity };
  return { kind: 'recorded', identity, goal: toGoal(row) };
}
