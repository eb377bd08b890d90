import type { Queryable } from '../db/database.ts';

/** Where the chain first breaks: the event whose stored hashes do not match. */
export interface ChainBreak {
  eventId: number;
  /** `hash`: the row was changed after it was written; `link`: an event before it was removed or changed. */
  kind: 'hash' | 'link';
  expected: string;
  found: string;
}

export type ChainVerdict =
  | { intact: true; count: number; head: string | null }
  | { intact: false; count: number; broken: ChainBreak };

/** The first event's predecessor (`ledger_genesis_hash()` in the database). */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Walk the events in id order, a page at a time, recomputing each hash in the database (the same
 * function the insert trigger uses) and checking that each event links to its predecessor.
 * `count` is the number of events checked, up to and including a break. This is the unkeyed check:
 * the keyed one, with MACs and anchors, is `auditLedger` (ledger-audit.ts, `spine log --verify`).
 */
export async function verifyLedger(
  db: Queryable,
  options: { pageSize?: number } = {},
): Promise<ChainVerdict> {
  const pageSize = options.pageSize ?? 1000;
  let previous = GENESIS_HASH;
  let afterId = 0;
  let count = 0;
  for (;;) {
    const page = await db.query<{ id: number; prev_hash: string; hash: string; recomputed: string }>(
      `SELECT id, prev_hash, hash,
              ledger_event_hash(prev_hash, id, at, operator_id, actor, verb, object, why, ref, goal_id,
                                action_id, channel, payload) AS recomputed
         FROM events WHERE id > $1 ORDER BY id LIMIT $2`,
      [afterId, pageSize],
    );
    for (const row of page.rows) {
      count += 1;
      const eventId = Number(row.id);
      if (row.prev_hash !== previous)
        return {
          intact: false,
          count,
          broken: { eventId, kind: 'link', expected: previous, found: row.prev_hash },
        };
      if (row.recomputed !== row.hash)
        return {
          intact: false,
          count,
          broken: { eventId, kind: 'hash', expected: row.recomputed, found: row.hash },
        };
      previous = row.hash;
      afterId = eventId;
    }
    if (page.rows.length < pageSize) return { intact: true, count, head: count === 0 ? null : previous };
  }
}

/** The verdict as one or two lines for the CLI and chat. */
export function describeVerdict(verdict: ChainVerdict): string {
  if (verdict.intact)
    return `ledger intact: ${verdict.count} event${verdict.count === 1 ? '' : 's'}${
      verdict.head ? ` (head ${verdict.head.slice(0, 16)})` : ''
    }`;
  const { eventId, kind, expected, found } = verdict.broken;
  const what =
    kind === 'hash'
      ? `event #${eventId} was changed after it was written`
      : `event #${eventId} does not follow the event before it (an event was removed or changed)`;
  return `ledger BROKEN at event #${eventId}: ${what}.\n  expected ${expected}\n  found    ${found}`;
}
