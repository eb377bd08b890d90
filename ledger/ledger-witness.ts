import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Queryable } from '../db/database.ts';
import type { Anchor, AnchorStore } from './anchors.ts';
import { GENESIS_HASH } from './hash-chain.ts';
import { compareWithAnchor, type LedgerProblem } from './ledger-audit.ts';
import type { LedgerKey } from './ledger-key.ts';

/** Why an anchor was written: at start, by the hourly timer, or at shutdown. */
export type AnchorReason = 'start' | 'hourly' | 'shutdown';

export type SealOutcome =
  | { kind: 'sealed'; events: number; through: number }
  | { kind: 'refused'; problems: LedgerProblem[] };

export type AnchorOutcome =
  | { kind: 'written'; anchor: Anchor }
  | { kind: 'refused'; problems: LedgerProblem[] };

/** Runs `run` every `ms` until the returned function is called. */
export type Every = (ms: number, run: () => void) => () => void;

/** Timers that do not keep the process alive. */
export const realTimers: Every = (ms, run) => {
  const timer = setInterval(run, ms);
  timer.unref();
  return () => clearInterval(timer);
};

export interface LedgerWitnessDeps {
  db: Queryable;
  /** The schema the ledger lives in: anchors of other schemas in the same file are not this one's. */
  schema: string;
  /** The ledger key, asked for once at `start` (it may be generated then). */
  key: () => LedgerKey;
  anchors: AnchorStore;
  clock: Clock;
  logger: Logger;
  every?: Every;
  /** How often new events get their MAC (default a minute). */
  sealEveryMs?: number;
  /** How often an anchor is written (default an hour). */
  anchorEveryMs?: number;
  pageSize?: number;
}

interface PageRow {
  id: string | number;
  prev_hash: string;
  hash: string;
  recomputed: string;
}

/**
 * Spine's witness of its own ledger, outside the database: it writes each new event's MAC with the
 * ledger key (`seal`) and, hourly and at shutdown, a signed anchor of the head (`anchor`).
 *
 * It vouches only for what it has checked: before sealing it recomputes the new events' hashes
 * and links and checks the newest MAC, and before anchoring it compares the ledger with the last
 * anchor. When anything is off it writes nothing and logs an error, so a tampered ledger is never
 * sealed or anchored as it is; `spine log --verify` then says what is wrong.
 */
export class LedgerWitness {
  readonly #deps: LedgerWitnessDeps;
  #key: LedgerKey | undefined;
  #cancel: Array<() => void> = [];
  #started = false;
  /** Seals and anchors run one at a time (a timer may fire during shutdown's anchor). */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(deps: LedgerWitnessDeps) {
    this.#deps = deps;
  }

  /** Write an anchor now (sealing first), then seal each minute and anchor each hour. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.anchor('start');
    const every = this.#deps.every ?? realTimers;
    this.#cancel = [
      every(this.#deps.sealEveryMs ?? 60_000, () => void this.seal().catch((error) => this.#failed(error))),
      every(
        this.#deps.anchorEveryMs ?? 3_600_000,
        () => void this.anchor('hourly').catch((error) => this.#failed(error)),
      ),
    ];
  }

  /** Stop the timers and write the shutdown anchor (only if started). */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    for (const cancel of this.#cancel.splice(0)) cancel();
    await this.anchor('shutdown').catch((error) => this.#failed(error));
  }

  /** Give every event after the newest sealed one its MAC, after checking they chain from it. */
  seal(): Promise<SealOutcome> {
    return this.#serially(async () => {
      const key = this.#ledgerKey();
      const previous = await this.#deps.anchors.latest(this.#deps.schema);
      if (previous) {
        const problems = await compareWithAnchor(this.#deps.db, previous, key, { sealedThrough: true });
        if (problems.length > 0) return this.#refuse('seal', problems);
      }
      return this.#seal(key);
    });
  }

  /** Seal, then append a signed anchor of the head to the anchor store. */
  anchor(reason: AnchorReason): Promise<AnchorOutcome> {
    return this.#serially(async () => {
      const key = this.#ledgerKey();
      const { db, schema } = this.#deps;
      const previous = await this.#deps.anchors.latest(schema);
      if (previous) {
        const problems = await compareWithAnchor(db, previous, key, { sealedThrough: true });
        if (problems.length > 0) return this.#refuse(`write the ${reason} anchor`, problems);
      }
      const sealed = await this.#seal(key);
      if (sealed.kind === 'refused') return sealed;
      // One statement, one snapshot: the count and the head agree.
      const head = (
        await db.query<{ count: string; head_id: string | null; head: string | null; sealed: string | null }>(
          `SELECT (SELECT count(*) FROM events) AS count, newest.id AS head_id, newest.hash AS head,
                  (SELECT max(event_id) FROM event_macs) AS sealed
             FROM (SELECT 1) one
             LEFT JOIN (SELECT id, hash FROM events ORDER BY id DESC LIMIT 1) newest ON true`,
        )
      ).rows[0];
      const fields = {
        schema,
        at: this.#deps.clock.now().toISOString(),
        count: Number(head?.count ?? 0),
        headId: head?.head_id ? Number(head.head_id) : 0,
        head: head?.head ?? GENESIS_HASH,
        sealedThrough: head?.sealed ? Number(head.sealed) : 0,
        reason,
      };
      const anchor: Anchor = { v: 1, ...fields, keyId: key.id, mac: key.anchorMac(fields) };
      await this.#deps.anchors.append(anchor);
      this.#deps.logger.debug({ anchor: { ...fields } }, 'ledger anchor written');
      return { kind: 'written', anchor };
    });
  }

  async #seal(key: LedgerKey): Promise<SealOutcome> {
    const { db } = this.#deps;
    const pageSize = this.#deps.pageSize ?? 500;
    const newest = (
      await db.query<{ event_id: string; mac: string; hash: string | null }>(
        `SELECT m.event_id, m.mac, e.hash FROM event_macs m LEFT JOIN events e ON e.id = m.event_id
          ORDER BY m.event_id DESC LIMIT 1`,
      )
    ).rows[0];
    let afterId = newest ? Number(newest.event_id) : 0;
    let previous = newest?.hash ?? GENESIS_HASH;
    if (newest && (newest.hash === null || !key.matches(key.eventMac(afterId, newest.hash), newest.mac)))
      return this.#refuse('seal', [
        {
          kind: newest.hash === null ? 'truncated' : 'forged',
          eventId: afterId,
          events: 1,
          message:
            newest.hash === null
              ? `event #${afterId}, the newest sealed, was deleted`
              : `event #${afterId}, the newest sealed, does not verify with the ledger key`,
        },
      ]);
    let sealed = 0;
    for (;;) {
      const page = await db.query<PageRow>(
        `SELECT id, prev_hash, hash,
                ledger_event_hash(prev_hash, id, at, operator_id, actor, verb, object, why, ref, goal_id,
                                  action_id, channel, payload) AS recomputed
           FROM events WHERE id > $1 ORDER BY id LIMIT $2`,
        [afterId, pageSize],
      );
      const ids: number[] = [];
      const macs: string[] = [];
      let broken: LedgerProblem | undefined;
      for (const row of page.rows) {
        const eventId = Number(row.id);
        if (row.prev_hash !== previous || row.recomputed !== row.hash) {
          broken = {
            kind: row.prev_hash !== previous ? 'unlinked' : 'edited',
            eventId,
            events: 1,
            message: `event #${eventId} does not ${row.prev_hash !== previous ? 'follow the event before it' : 'match its hash'}`,
          };
          break;
        }
        ids.push(eventId);
        macs.push(key.eventMac(eventId, row.hash));
        previous = row.hash;
        afterId = eventId;
      }
      if (ids.length > 0) {
        // Another process may seal the same events at the same moment: the same MACs, kept once.
        await db.query(
          `INSERT INTO event_macs (event_id, mac) SELECT * FROM unnest($1::bigint[], $2::text[])
           ON CONFLICT (event_id) DO NOTHING`,
          [ids, macs],
        );
        sealed += ids.length;
      }
      if (broken) return this.#refuse('seal', [broken]);
      if (page.rows.length < pageSize) return { kind: 'sealed', events: sealed, through: afterId };
    }
  }

  #refuse(what: string, problems: LedgerProblem[]): { kind: 'refused'; problems: LedgerProblem[] } {
    this.#deps.logger.error(
      { problems: problems.map((problem) => problem.message) },
      `the ledger does not match what Spine sealed and anchored, so it did not ${what}: run spine log --verify`,
    );
    return { kind: 'refused', problems };
  }

  #ledgerKey(): LedgerKey {
    this.#key ??= this.#deps.key();
    return this.#key;
  }

  #serially<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => {});
    return next;
  }

  #failed(error: unknown): void {
    this.#deps.logger.warn({ err: String(error) }, 'ledger seal or anchor failed; it is tried again');
  }
}
