import type { Queryable } from '../db/database.ts';
import type { Anchor } from './anchors.ts';
import { GENESIS_HASH } from './hash-chain.ts';
import type { LedgerKey } from './ledger-key.ts';

/** What `spine log --verify` found wrong, each kind told in plain words. */
export type LedgerProblemKind =
  /** The newest events were deleted (the anchor, or MACs left behind, remember more). */
  | 'truncated'
  /** Events in the middle were deleted (or inserted with chosen ids). */
  | 'deleted'
  /** A row's content no longer matches its hash: changed with the triggers disabled. */
  | 'edited'
  /** A row does not link to the one before it. */
  | 'unlinked'
  /** Several MACs fail from one event on: it was changed and the unkeyed chain recomputed. */
  | 'rechained'
  /** One event's MAC fails: a forged restore, or a row rewritten after it was sealed. */
  | 'forged'
  /** The anchor's head event has another hash now. */
  | 'rewritten'
  /** An event lacks the MAC it had (or that later events have). */
  | 'unsealed'
  /** The anchor itself does not verify with the key. */
  | 'anchor-invalid'
  /** The key here is not the one that signed the anchors. */
  | 'key-changed'
  /** Events carry MACs but no key is at hand to check them. */
  | 'key-missing';

export interface LedgerProblem {
  kind: LedgerProblemKind;
  /** The first event concerned, when there is one. */
  eventId: number | null;
  /** How many events it concerns. */
  events: number;
  message: string;
}

export interface LedgerAudit {
  ok: boolean;
  count: number;
  headId: number | null;
  head: string | null;
  /** Whether a ledger key was at hand (MACs and the anchor checked). */
  keyed: boolean;
  /** Events whose MAC verifies (or, without a key, that carry one). */
  sealed: number;
  /** The newest events that have no MAC yet: Spine seals them on its next pass. */
  unsealedTail: number;
  anchor: Pick<Anchor, 'at' | 'count' | 'headId' | 'reason'> | null;
  problems: LedgerProblem[];
}

export interface AuditOptions {
  key?: LedgerKey | undefined;
  /** The newest anchor for this schema, from outside the database. */
  anchor?: Anchor | undefined;
  /** Where the key is expected, for the message when it is missing. */
  keyFile?: string;
  pageSize?: number;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/**
 * Compare the ledger with an anchor written outside the database: the anchor must verify with the
 * key, its head event must still have the hash it recorded, and as many events must lead up to it.
 * With `sealedThrough`, the newest event sealed at that time must still carry a valid MAC.
 */
export async function compareWithAnchor(
  db: Queryable,
  anchor: Anchor,
  key: LedgerKey,
  options: { sealedThrough?: boolean } = {},
): Promise<LedgerProblem[]> {
  const of = `the anchor of ${anchor.at}`;
  if (anchor.keyId !== key.id)
    return [
      {
        kind: 'key-changed',
        eventId: null,
        events: 0,
        message: `the ledger key here (${key.id}) is not the one that signed ${of} (${anchor.keyId}): put the original key back to check the ledger`,
      },
    ];
  if (!key.matches(key.anchorMac(anchor), anchor.mac))
    return [
      {
        kind: 'anchor-invalid',
        eventId: null,
        events: 0,
        message: `${of} does not verify with the ledger key: the anchor file was edited`,
      },
    ];
  const state = (
    await db.query<{ count: string; head_id: string | null; anchored: string | null; up_to: string }>(
      `SELECT (SELECT count(*) FROM events) AS count,
              (SELECT max(id) FROM events) AS head_id,
              (SELECT hash FROM events WHERE id = $1) AS anchored,
              (SELECT count(*) FROM events WHERE id <= $1) AS up_to`,
      [anchor.headId],
    )
  ).rows[0];
  const count = Number(state?.count ?? 0);
  const headId = state?.head_id === null || state?.head_id === undefined ? 0 : Number(state.head_id);
  const upTo = Number(state?.up_to ?? 0);
  const problems: LedgerProblem[] = [];
  if (anchor.headId > 0 && (state?.anchored ?? null) === null) {
    if (headId < anchor.headId || count < anchor.count)
      problems.push({
        kind: 'truncated',
        eventId: anchor.headId,
        events: Math.max(anchor.count - count, 1),
        message:
          `the newest events were deleted: ${of} recorded ${plural(anchor.count, 'event')} ending at ` +
          `event #${anchor.headId}, and the ledger now has ${count}${headId ? ` ending at event #${headId}` : ''}`,
      });
    else
      problems.push({
        kind: 'deleted',
        eventId: anchor.headId,
        events: 1,
        message: `event #${anchor.headId}, the newest when ${of} was written, was deleted`,
      });
    return problems;
  }
  if (anchor.headId > 0 && state?.anchored !== anchor.head)
    problems.push({
      kind: 'rewritten',
      eventId: anchor.headId,
      events: 1,
      message: `event #${anchor.headId} no longer has the hash ${of} recorded (${anchor.head.slice(0, 16)}): events up to it were changed and the chain recomputed`,
    });
  if (upTo !== anchor.count)
    problems.push({
      kind: 'deleted',
      eventId: anchor.headId,
      events: Math.abs(anchor.count - upTo),
      message: `${of} counted ${plural(anchor.count, 'event')} up to event #${anchor.headId}; there are now ${upTo}: events were ${upTo < anchor.count ? 'deleted' : 'inserted with chosen ids'}`,
    });
  if (options.sealedThrough && anchor.sealedThrough > 0) {
    const sealed = (
      await db.query<{ mac: string | null; hash: string | null }>(
        `SELECT m.mac, e.hash FROM events e LEFT JOIN event_macs m ON m.event_id = e.id WHERE e.id = $1`,
        [anchor.sealedThrough],
      )
    ).rows[0];
    if (
      !sealed?.mac ||
      !sealed.hash ||
      !key.matches(key.eventMac(anchor.sealedThrough, sealed.hash), sealed.mac)
    )
      problems.push({
        kind: 'unsealed',
        eventId: anchor.sealedThrough,
        events: 1,
        message: `event #${anchor.sealedThrough} was sealed when ${of} was written, and its MAC is gone or no longer verifies`,
      });
  }
  return problems;
}

interface WalkRow {
  id: string | number;
  prev_hash: string;
  hash: string;
  recomputed: string;
  mac: string | null;
}

/** A run of events with one finding: where it starts and how many it concerns. */
class Finding {
  first: number | null = null;
  events = 0;
  add(eventId: number, events = 1): void {
    this.first ??= eventId;
    this.events += events;
  }
}

/**
 * The keyed check behind `spine log --verify`: walk every event in id order, recomputing its hash
 * (as the insert trigger does) and its link to the one before; check each MAC with the key; then
 * compare with the newest anchor. Unlike `verifyLedger` it does not stop at the first break: it
 * reports each kind of problem once, at its first event, with how many events it concerns.
 */
export async function auditLedger(db: Queryable, options: AuditOptions = {}): Promise<LedgerAudit> {
  const pageSize = options.pageSize ?? 1000;
  const { anchor } = options;
  const problems: LedgerProblem[] = [];
  let key = options.key;
  if (key && anchor) {
    const anchorProblems = await compareWithAnchor(db, anchor, key);
    problems.push(...anchorProblems);
    // Under another key every MAC would fail: say that once instead.
    if (anchorProblems.some((problem) => problem.kind === 'key-changed')) key = undefined;
  }
  const edited = new Finding();
  const unlinked = new Finding();
  const macFailed = new Finding();
  const unsealed = new Finding();
  let pendingUnsealed = new Finding();
  let previous = GENESIS_HASH;
  let afterId = 0;
  let count = 0;
  let sealed = 0;
  let macs = 0;
  for (;;) {
    const page = await db.query<WalkRow>(
      `SELECT e.id, e.prev_hash, e.hash, m.mac,
              ledger_event_hash(e.prev_hash, e.id, e.at, e.operator_id, e.actor, e.verb, e.object, e.why,
                                e.ref, e.goal_id, e.action_id, e.channel, e.payload) AS recomputed
         FROM events e LEFT JOIN event_macs m ON m.event_id = e.id
        WHERE e.id > $1 ORDER BY e.id LIMIT $2`,
      [afterId, pageSize],
    );
    for (const row of page.rows) {
      const eventId = Number(row.id);
      count += 1;
      if (row.prev_hash !== previous) unlinked.add(eventId);
      if (row.recomputed !== row.hash) edited.add(eventId);
      if (row.mac === null) {
        // Sealed when the anchor was written: its MAC was deleted since.
        if (anchor && options.key && eventId <= anchor.sealedThrough) unsealed.add(eventId);
        else pendingUnsealed.add(eventId);
      } else {
        macs += 1;
        // A MAC after events without one: those were inserted outside Spine, or lost their MAC.
        if (pendingUnsealed.first !== null) {
          unsealed.add(pendingUnsealed.first, pendingUnsealed.events);
          pendingUnsealed = new Finding();
        }
        if (!key) sealed += 1;
        else if (key.matches(key.eventMac(eventId, row.hash), row.mac)) sealed += 1;
        else macFailed.add(eventId);
      }
      previous = row.hash;
      afterId = eventId;
    }
    if (page.rows.length < pageSize) break;
  }
  const head = count === 0 ? null : previous;
  const headId = count === 0 ? null : afterId;

  const orphans = (
    await db.query<{ first: string | null; n: string; above: string }>(
      `SELECT min(m.event_id) AS first, count(*) AS n,
              count(*) FILTER (WHERE m.event_id > COALESCE((SELECT max(id) FROM events), 0)) AS above
         FROM event_macs m WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = m.event_id)`,
    )
  ).rows[0];
  const orphanCount = Number(orphans?.n ?? 0);
  const above = Number(orphans?.above ?? 0);
  if (above > 0 && !problems.some((problem) => problem.kind === 'truncated'))
    problems.push({
      kind: 'truncated',
      eventId: headId,
      events: above,
      message: `the newest events were deleted: MACs remain for ${plural(above, 'event')} after event #${headId ?? 0}, the newest left`,
    });
  if (orphanCount > above)
    problems.push({
      kind: 'deleted',
      eventId: Number(orphans?.first ?? 0),
      events: orphanCount - above,
      message: `${plural(orphanCount - above, 'sealed event')} from event #${Number(orphans?.first ?? 0)} on ${orphanCount - above === 1 ? 'is' : 'are'} gone: deleted`,
    });
  if (edited.first !== null)
    problems.push({
      kind: 'edited',
      eventId: edited.first,
      events: edited.events,
      message: `event #${edited.first} was changed with the ledger's triggers disabled: its content no longer matches its hash${edited.events > 1 ? ` (${plural(edited.events, 'event')} in all)` : ''}`,
    });
  if (unlinked.first !== null)
    problems.push({
      kind: 'unlinked',
      eventId: unlinked.first,
      events: unlinked.events,
      message: `event #${unlinked.first} does not follow the event before it: an event before it was deleted, or changed and its hash recomputed`,
    });
  if (macFailed.first !== null)
    problems.push(
      macFailed.events === 1
        ? {
            kind: 'forged',
            eventId: macFailed.first,
            events: 1,
            message: `event #${macFailed.first} carries a MAC that does not verify with the ledger key: it was inserted with forged hashes (a forged restore), or rewritten after it was sealed`,
          }
        : {
            kind: 'rechained',
            eventId: macFailed.first,
            events: macFailed.events,
            message: `${macFailed.events} events from #${macFailed.first} on no longer match the MACs written with the ledger key: event #${macFailed.first} was changed with the triggers disabled and the chain recomputed after it`,
          },
    );
  if (unsealed.first !== null)
    problems.push({
      kind: 'unsealed',
      eventId: unsealed.first,
      events: unsealed.events,
      message: `event #${unsealed.first} has no MAC though ${anchor && unsealed.first <= anchor.sealedThrough ? 'it had one when the anchor was written' : 'later events have one'}: it was inserted outside Spine, or its MAC was deleted${unsealed.events > 1 ? ` (${plural(unsealed.events, 'event')} in all)` : ''}`,
    });
  if (!options.key && macs > 0)
    problems.push({
      kind: 'key-missing',
      eventId: null,
      events: macs,
      message: `${plural(macs, 'event')} carry a MAC but there is no ledger key here${options.keyFile ? ` (${options.keyFile})` : ''}: the keyed check cannot run`,
    });
  return {
    ok: problems.length === 0,
    count,
    headId,
    head,
    keyed: key !== undefined,
    sealed,
    unsealedTail: pendingUnsealed.events,
    anchor: anchor
      ? { at: anchor.at, count: anchor.count, headId: anchor.headId, reason: anchor.reason }
      : null,
    problems,
  };
}

/** The audit in plain words for the CLI and chat: the verdict first, then one line per finding. */
export function describeAudit(audit: LedgerAudit): string {
  if (!audit.ok)
    return [
      `ledger BROKEN: ${plural(audit.problems.length, 'problem')} in ${plural(audit.count, 'event')}`,
      ...audit.problems.map((problem) => `  - ${problem.message}.`),
    ].join('\n');
  const lines = [
    `ledger intact: ${plural(audit.count, 'event')}${audit.head ? ` (head ${audit.head.slice(0, 16)})` : ''}`,
  ];
  if (audit.keyed) {
    const tail =
      audit.unsealedTail > 0
        ? `; the newest ${audit.unsealedTail === 1 ? 'is' : `${audit.unsealedTail} are`} not sealed yet (Spine seals each minute)`
        : '';
    lines.push(`  ${audit.sealed} sealed with the ledger key${tail}.`);
  } else lines.push('  no ledger key here: the MACs were not checked.');
  lines.push(
    audit.anchor
      ? `  consistent with the anchor of ${audit.anchor.at} (${plural(audit.anchor.count, 'event')} up to #${audit.anchor.headId}).`
      : '  no anchor yet: whether the newest events were deleted cannot be checked.',
  );
  return lines.join('\n');
}
