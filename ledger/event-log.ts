import type { SpineEvent } from '../core/domain.ts';
import type { Queryable } from '../db/database.ts';
import { toEvent } from '../db/repositories/events.ts';
import type { LogFilter, LogPage } from './log-filter.ts';

export interface EventLogPage {
  /** Oldest first, as the story is read. */
  events: SpineEvent[];
  /** Events matching the filter in all pages. */
  total: number;
  page: number;
  limit: number;
  /** The page of older events, or null on the last page. */
  nextPage: number | null;
  /** Cursor for the next (older) page that stays stable while new events arrive: pass as `beforeId`. */
  nextBeforeId: number | null;
}

const OPERATOR_NAMES = ['operator', 'you', 'me', 'i'];

/** The WHERE clause for a filter; `$1` is the operator. */
function whereClause(operatorId: number, filter: LogFilter): { sql: string; args: unknown[] } {
  const args: unknown[] = [operatorId];
  const arg = (value: unknown) => {
    args.push(value);
    return `$${args.length}`;
  };
  // Events with no operator (e.g. a stranger refused) belong to everyone's story.
  const where = ['(e.operator_id = $1 OR e.operator_id IS NULL)'];
  if (filter.goalId !== undefined) where.push(`e.goal_id = ${arg(filter.goalId)}`);
  if (filter.connector !== undefined) {
    // Events point at their action by action_id or only by the reference "action #id".
    where.push(`EXISTS (SELECT 1 FROM actions a WHERE a.connector = ${arg(filter.connector)}
      AND (a.id = e.action_id OR e.ref = 'action #' || a.id))`);
  }
  if (filter.actor !== undefined) {
    const actor = filter.actor.trim().toLowerCase();
    if (OPERATOR_NAMES.includes(actor)) where.push(`e.actor = 'operator'`);
    else if (actor === 'spine') where.push(`e.actor = 'spine'`);
    else where.push(`e.actor ILIKE ${arg(`%${escapeLike(actor)}%`)}`);
  }
  if (filter.since !== undefined) where.push(`e.at >= ${arg(filter.since)}`);
  if (filter.until !== undefined) where.push(`e.at < ${arg(filter.until)}`);
  if (filter.text !== undefined && filter.text.trim() !== '') {
    const pattern = arg(`%${escapeLike(filter.text.trim())}%`);
    where.push(
      `(e.verb ILIKE ${pattern} OR e.object ILIKE ${pattern} OR e.why ILIKE ${pattern} OR e.ref ILIKE ${pattern})`,
    );
  }
  return { sql: where.join(' AND '), args };
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

/**
 * One page of the operator's story: page 1 is the newest `limit` events, page 2 the ones before,
 * each page oldest first. `beforeId` (a cursor) replaces the page number when given.
 */
export async function readEventLog(
  db: Queryable,
  operatorId: number,
  filter: LogFilter,
  page: LogPage & { beforeId?: number },
): Promise<EventLogPage> {
  const where = whereClause(operatorId, filter);
  const total = Number(
    (await db.query(`SELECT count(*) AS n FROM events e WHERE ${where.sql}`, where.args)).rows[0]?.n ?? 0,
  );
  const args = [...where.args];
  let sql = where.sql;
  let offset = (page.page - 1) * page.limit;
  if (page.beforeId !== undefined) {
    args.push(page.beforeId);
    sql += ` AND e.id < $${args.length}`;
    offset = 0;
  }
  args.push(page.limit, offset);
  const rows = await db.query(
    `SELECT * FROM (SELECT e.* FROM events e WHERE ${sql} ORDER BY e.id DESC
       LIMIT $${args.length - 1} OFFSET $${args.length}) newest ORDER BY id`,
    args,
  );
  const events = rows.rows.map(toEvent);
  const oldest = events[0];
  const more =
    page.beforeId === undefined
      ? page.page * page.limit < total
      : events.length === page.limit && oldest !== undefined;
  return {
    events,
    total,
    page: page.page,
    limit: page.limit,
    nextPage: more ? page.page + 1 : null,
    nextBeforeId: more && oldest ? oldest.id : null,
  };
}
