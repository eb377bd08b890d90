import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.ts';
import type { Database } from '../../db/database.ts';
import { migrate } from '../../db/migrate.ts';
import { EventRepository } from '../../db/repositories/events.ts';
import { FileAnchorStore, parseAnchor } from '../../ledger/anchors.ts';
import { verifyLedger } from '../../ledger/hash-chain.ts';
import { auditLedger, describeAudit } from '../../ledger/ledger-audit.ts';
import { LedgerKey } from '../../ledger/ledger-key.ts';
import { type Every, LedgerWitness } from '../../ledger/ledger-witness.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { createTestSpine } from '../support/test-spine.ts';

/**
 * The ledger against its own database owner (issue #22, point 6): a superuser who disables the
 * triggers, edits rows, recomputes the unkeyed chain, deletes the newest events, or inserts a row
 * through the restore path. Each is named by the keyed audit behind `spine log --verify`.
 */

const KEY = new LedgerKey('the-ledger-key-of-these-tests');

/** A statement's error (SQLSTATE and message) or `ok`, caught inside Postgres (the embedded bridge needs it). */
async function attempt(db: Database, sql: string): Promise<string> {
  await db.pool.query(`CREATE OR REPLACE FUNCTION pg_temp.attempt(statement text) RETURNS text
    LANGUAGE plpgsql AS $$ BEGIN EXECUTE statement; RETURN 'ok';
    EXCEPTION WHEN others THEN RETURN SQLSTATE || ' ' || SQLERRM; END $$`);
  const result = await db.pool.query('SELECT pg_temp.attempt($1) AS outcome', [sql]);
  return String(result.rows[0]?.outcome);
}

/** As a superuser (or the owner of `events`) would: with every trigger on the ledger disabled. */
async function asSuperuser(db: Database, sql: string): Promise<void> {
  await db.pool.query('ALTER TABLE events DISABLE TRIGGER USER');
  await db.pool.query('ALTER TABLE event_macs DISABLE TRIGGER USER');
  await db.pool.query(sql);
  await db.pool.query('ALTER TABLE events ENABLE TRIGGER USER');
  await db.pool.query('ALTER TABLE event_macs ENABLE TRIGGER USER');
}

/** Recompute every hash and link in id order, as the database owner can (the key is not needed). */
const RECHAIN = `DO $$
DECLARE previous text := ledger_genesis_hash(); row_ record;
BEGIN
  FOR row_ IN SELECT * FROM events ORDER BY id LOOP
    UPDATE events SET prev_hash = previous,
      hash = ledger_event_hash(previous, row_.id, row_.at, row_.operator_id, row_.actor, row_.verb,
        row_.object, row_.why, row_.ref, row_.goal_id, row_.action_id, row_.channel, row_.payload)
      WHERE id = row_.id RETURNING hash INTO previous;
  END LOOP;
END $$`;

async function appendEvents(db: Database, count: number): Promise<void> {
  const events = new EventRepository(db.pool);
  for (let index = 1; index <= count; index += 1)
    await events.append({ operatorId: null, actor: 'spine', verb: 'did', object: `thing ${index}` });
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A witness writing anchors to a file of its own, with a fake timer whose callbacks the test runs. */
function witnessOf(db: Database, clock = new ManualClock('2026-07-01T08:00:00Z')) {
  const dir = mkdtempSync(join(tmpdir(), 'spine-ledger-tamper-'));
  dirs.push(dir);
  const anchors = new FileAnchorStore(join(dir, 'ledger-anchors.jsonl'));
  const timers: Array<{ ms: number; run: () => void; cancelled: boolean }> = [];
  const every: Every = (ms, run) => {
    const timer = { ms, run, cancelled: false };
    timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  };
  const witness = new LedgerWitness({
    db: db.pool,
    schema: db.schema,
    key: () => KEY,
    anchors,
    clock,
    logger: pino({ level: 'silent' }),
    every,
  });
  /** The audit `spine log --verify` runs; `null`: without a key at hand. */
  const audit = async (key: LedgerKey | null = KEY) =>
    auditLedger(db.pool, { key: key ?? undefined, anchor: await anchors.latest(db.schema), pageSize: 3 });
  const lines = () =>
    readFileSync(anchors.file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => parseAnchor(line));
  return { witness, anchors, audit, timers, lines, clock };
}

describe.each(DATABASE_KINDS)('the keyed ledger against its database owner on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);

  async function migrated(): Promise<Database> {
    const db = await databases.open();
    await migrate(db.pool, db.schema);
    return db;
  }

  afterAll(async () => {
    await databases.closeAll();
  });

  it('verifies a clean ledger: events written before the key are sealed as found, the newest wait for the next pass', async () => {
    const db = await migrated();
    await appendEvents(db, 5);
    const { witness, audit } = witnessOf(db);
    expect(await witness.anchor('start')).toMatchObject({ kind: 'written' });
    await appendEvents(db, 2);

    const clean = await audit();
    expect(clean).toMatchObject({ ok: true, count: 7, sealed: 5, unsealedTail: 2, problems: [] });
    expect(describeAudit(clean)).toMatch(
      /^ledger intact: 7 events \(head [0-9a-f]{16}\)\n {2}5 sealed with the ledger key; the newest 2 are not sealed yet \(Spine seals each minute\)\.\n {2}consistent with the anchor of 2026-07-01T08:00:00\.000Z \(5 events up to #5\)\.$/,
    );
    expect(await witness.seal()).toEqual({ kind: 'sealed', events: 2, through: 7 });
    expect(await audit()).toMatchObject({ ok: true, sealed: 7, unsealedTail: 0 });
  });

  it('reports an event edited with the trigger disabled', async () => {
    const db = await migrated();
    await appendEvents(db, 4);
    const { witness, audit } = witnessOf(db);
    await witness.anchor('start');
    await asSuperuser(db, `UPDATE events SET object = 'nothing to see' WHERE id = 2`);

    const found = await audit();
    expect(found.ok).toBe(false);
    expect(found.problems).toEqual([
      {
        kind: 'edited',
        eventId: 2,
        events: 1,
        message:
          "event #2 was changed with the ledger's triggers disabled: its content no longer matches its hash",
      },
    ]);
    expect(describeAudit(found)).toBe(
      "ledger BROKEN: 1 problem in 4 events\n  - event #2 was changed with the ledger's triggers disabled: its content no longer matches its hash.",
    );
  });

  it('reports an edit after which the unkeyed chain was recomputed with SQL, which the hash chain alone misses', async () => {
    const db = await migrated();
    await appendEvents(db, 5);
    const { witness, audit, lines } = witnessOf(db);
    await witness.anchor('start');
    await asSuperuser(db, `UPDATE events SET object = 'rewritten' WHERE id = 3`);
    await asSuperuser(db, RECHAIN);

    // The unkeyed chain is whole again: only the key tells.
    expect(await verifyLedger(db.pool)).toMatchObject({ intact: true, count: 5 });
    const withoutAnchor = await auditLedger(db.pool, { key: KEY });
    expect(withoutAnchor.problems).toEqual([
      expect.objectContaining({
        kind: 'rechained',
        eventId: 3,
        events: 3,
        message:
          '3 events from #3 on no longer match the MACs written with the ledger key: event #3 was changed with the triggers disabled and the chain recomputed after it',
      }),
    ]);
    const found = await audit();
    expect(found.problems.map((problem) => problem.kind)).toEqual(['rewritten', 'rechained']);
    expect(found.problems[0]?.message).toMatch(
      /^event #5 no longer has the hash the anchor of 2026-07-01T08:00:00\.000Z recorded \([0-9a-f]{16}\)/,
    );
    // The witness does not anchor (or seal) the rewritten ledger.
    expect(await witness.anchor('hourly')).toMatchObject({ kind: 'refused' });
    expect(lines()).toHaveLength(1);
  });

  it('reports the newest events deleted, by the anchor and by the MACs they leave behind', async () => {
    const db = await migrated();
    await appendEvents(db, 6);
    const { witness, audit, lines } = witnessOf(db);
    await witness.anchor('start');
    await asSuperuser(db, 'DELETE FROM events WHERE id > 4');

    // A shorter chain is still a valid chain.
    expect(await verifyLedger(db.pool)).toMatchObject({ intact: true, count: 4 });
    // Without the anchor, the MACs left behind tell.
    expect((await auditLedger(db.pool, { key: KEY })).problems).toEqual([
      {
        kind: 'truncated',
        eventId: 4,
        events: 2,
        message: 'the newest events were deleted: MACs remain for 2 events after event #4, the newest left',
      },
    ]);
    // A careful owner deletes the MACs too: the anchor outside the database still tells.
    await asSuperuser(db, 'DELETE FROM event_macs WHERE event_id > 4');
    const found = await audit();
    expect(found.problems).toEqual([
      {
        kind: 'truncated',
        eventId: 6,
        events: 2,
        message:
          'the newest events were deleted: the anchor of 2026-07-01T08:00:00.000Z recorded 6 events ending at event #6, and the ledger now has 4 ending at event #4',
      },
    ]);
    // Nor does a restart write an anchor that would forget them.
    expect(await witness.anchor('start')).toMatchObject({ kind: 'refused' });
    expect(lines()).toHaveLength(1);
  });

  it('refuses a restored row without its MAC, and reports one that came with a forged MAC', async () => {
    const db = await migrated();
    await appendEvents(db, 3);
    const { witness, audit } = witnessOf(db);
    await witness.anchor('start');
    const restore = `INSERT INTO events (id, actor, verb, object, prev_hash, hash)
      SELECT 4, 'spine', 'paid', 'a forged invoice', hash,
             ledger_event_hash(hash, 4, now(), NULL, 'spine', 'paid', 'a forged invoice', NULL, NULL, NULL,
                               NULL, NULL, '{}') FROM events WHERE id = 3`;

    expect(await attempt(db, restore)).toBe(
      '42501 event #4 arrives with its own hashes (a restore) but without its MAC',
    );
    // Any role that may INSERT can try, triggers enabled: a MAC first, then the row through the restore branch.
    await db.pool.query(`INSERT INTO event_macs (event_id, mac) VALUES (4, repeat('f', 64))`);
    expect(await attempt(db, restore)).toBe('ok');

    // The row hashes and links correctly: only its MAC gives it away.
    expect(await verifyLedger(db.pool)).toMatchObject({ intact: true, count: 4 });
    expect((await audit()).problems).toEqual([
      {
        kind: 'forged',
        eventId: 4,
        events: 1,
        message:
          'event #4 carries a MAC that does not verify with the ledger key: it was inserted with forged hashes (a forged restore), or rewritten after it was sealed',
      },
    ]);
    // New events are not sealed on top of it.
    await db.pool.query(`SELECT setval('events_id_seq', 4)`);
    await appendEvents(db, 1);
    expect(await witness.seal()).toMatchObject({
      kind: 'refused',
      problems: [{ kind: 'forged', eventId: 4 }],
    });
  });

  it('reports an edited anchor and a key that is missing or not the one that signed the anchors', async () => {
    const db = await migrated();
    await appendEvents(db, 2);
    const { witness, audit, anchors } = witnessOf(db);
    await witness.anchor('start');

    expect((await audit(null)).problems).toEqual([
      expect.objectContaining({
        kind: 'key-missing',
        message: '2 events carry a MAC but there is no ledger key here: the keyed check cannot run',
      }),
    ]);
    const other = await audit(new LedgerKey('another-key-altogether'));
    // One problem, not one per event.
    expect(other.problems.map((problem) => problem.kind)).toEqual(['key-changed']);

    const line = readFileSync(anchors.file, 'utf8');
    writeFileSync(anchors.file, line.replace('"count":2', '"count":1'));
    expect((await audit()).problems).toEqual([
      expect.objectContaining({
        kind: 'anchor-invalid',
        message:
          'the anchor of 2026-07-01T08:00:00.000Z does not verify with the ledger key: the anchor file was edited',
      }),
    ]);
  });

  it('writes a signed anchor at start, on the hourly timer and at shutdown, to an append-only file of mode 0600', async () => {
    const db = await migrated();
    await appendEvents(db, 2);
    const { witness, timers, lines, anchors, clock } = witnessOf(db);
    await witness.start();
    expect(lines().map((anchor) => anchor?.reason)).toEqual(['start']);

    const hourly = timers.find((timer) => timer.ms === 3_600_000);
    const sealing = timers.find((timer) => timer.ms === 60_000);
    expect(hourly).toBeDefined();
    expect(sealing).toBeDefined();
    await appendEvents(db, 3);
    clock.advance(3_600_000);
    hourly?.run();
    // Seals and anchors run one at a time: this one ends after the hourly anchor the timer began.
    await witness.seal();
    expect(lines().map((anchor) => [anchor?.reason, anchor?.count, anchor?.sealedThrough])).toEqual([
      ['start', 2, 2],
      ['hourly', 5, 5],
    ]);

    await appendEvents(db, 1);
    sealing?.run();
    await witness.stop();
    expect(timers.every((timer) => timer.cancelled)).toBe(true);
    const written = lines();
    expect(written.map((anchor) => [anchor?.reason, anchor?.count, anchor?.at])).toEqual([
      ['start', 2, '2026-07-01T08:00:00.000Z'],
      ['hourly', 5, '2026-07-01T09:00:00.000Z'],
      ['shutdown', 6, '2026-07-01T09:00:00.000Z'],
    ]);
    for (const anchor of written) expect(anchor && KEY.matches(KEY.anchorMac(anchor), anchor.mac)).toBe(true);
    expect(statSync(anchors.file).mode & 0o777).toBe(0o600);
    // Stopped: the timers do nothing more, and a second stop writes nothing.
    await witness.stop();
    expect(lines()).toHaveLength(3);
  });

  it('a running Spine keeps its key in the data directory and anchors at start and at shutdown', {
    timeout: 180_000,
  }, async () => {
    const { spine } = await createTestSpine(await databases.open());
    const dataDir = spine.config.database.dataDir;
    dirs.push(dataDir);
    await spine.startBackground();
    await spine.repos.events.append({ operatorId: null, actor: 'spine', verb: 'did', object: 'work' });
    await spine.close();

    const anchors = readFileSync(join(dataDir, 'ledger-anchors.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => parseAnchor(line));
    expect(anchors.map((anchor) => [anchor?.reason, anchor?.schema])).toEqual([
      ['start', spine.db.schema],
      ['shutdown', spine.db.schema],
    ]);
    expect(anchors[1]?.count).toBe((anchors[0]?.count ?? 0) + 1);
    expect(statSync(join(dataDir, 'ledger.key')).mode & 0o777).toBe(0o600);
    const key = new LedgerKey(readFileSync(join(dataDir, 'ledger.key'), 'utf8').trim());
    expect(anchors[1]?.keyId).toBe(key.id);
    expect(
      await auditLedger(spine.db.pool, {
        key,
        anchor: await new FileAnchorStore(join(dataDir, 'ledger-anchors.jsonl')).latest(spine.db.schema),
      }),
    ).toMatchObject({ ok: true, unsealedTail: 0 });
  });
});
