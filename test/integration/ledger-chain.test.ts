import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/database.ts';
import { loadMigrations, migrate } from '../../db/migrate.ts';
import { EventRepository } from '../../db/repositories/events.ts';
import { verifyLedger } from '../../ledger/hash-chain.ts';
import { LedgerKey } from '../../ledger/ledger-key.ts';
import { DATABASE_KINDS, TEST_DATABASE_URL, TestDatabases } from '../support/databases.ts';

/**
 * Runs a statement in the database and returns its error (SQLSTATE and message), or `ok`. The
 * embedded database's node-postgres bridge loses its place after a failed query, so statements
 * expected to fail are caught inside Postgres.
 */
async function attempt(db: Database, sql: string): Promise<string> {
  await db.pool.query(`CREATE OR REPLACE FUNCTION pg_temp.attempt(statement text) RETURNS text
    LANGUAGE plpgsql AS $$ BEGIN EXECUTE statement; RETURN 'ok';
    EXCEPTION WHEN others THEN RETURN SQLSTATE || ' ' || SQLERRM; END $$`);
  const result = await db.pool.query('SELECT pg_temp.attempt($1) AS outcome', [sql]);
  return String(result.rows[0]?.outcome);
}

async function appendEvents(db: Database, count: number): Promise<void> {
  const events = new EventRepository(db.pool);
  for (let index = 1; index <= count; index += 1)
    await events.append({
      operatorId: null,
      actor: 'spine',
      verb: 'did',
      object: `thing ${index}`,
      payload: { index },
    });
}

/** Change a row behind the triggers' back, as a superuser with the append-only trigger disabled. */
async function tamper(db: Database, sql: string): Promise<void> {
  await db.pool.query('ALTER TABLE events DISABLE TRIGGER events_append_only');
  await db.pool.query(sql);
  await db.pool.query('ALTER TABLE events ENABLE TRIGGER events_append_only');
}

describe.each(DATABASE_KINDS)('the hash-chained event ledger on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);

  async function migrated(): Promise<Database> {
    const db = await databases.open();
    await migrate(db.pool, db.schema);
    return db;
  }

  afterAll(async () => {
    await databases.closeAll();
  });

  it('refuses UPDATE, DELETE and TRUNCATE on events, saying events are append-only', async () => {
    const db = await migrated();
    await appendEvents(db, 2);
    expect(await attempt(db, `UPDATE events SET object = 'changed'`)).toBe(
      '42501 events are append-only: UPDATE on events is not allowed',
    );
    expect(await attempt(db, 'DELETE FROM events')).toBe(
      '42501 events are append-only: DELETE on events is not allowed',
    );
    expect(await attempt(db, 'TRUNCATE events')).toBe(
      '42501 events are append-only: TRUNCATE on events is not allowed',
    );
    if (kind === 'server') {
      // The error reaches the caller as a refusal it can report.
      await expect(db.pool.query(`DELETE FROM events WHERE id = 1`)).rejects.toMatchObject({
        code: '42501',
        message: 'events are append-only: DELETE on events is not allowed',
      });
    }
    const rows = await db.pool.query('SELECT object FROM events ORDER BY id');
    expect(rows.rows.map((row) => row.object)).toEqual(['thing 1', 'thing 2']);
  });

  it('chains each event to the one before, and appends keep working through the repository', async () => {
    const db = await migrated();
    await appendEvents(db, 3);
    const rows = (await db.pool.query('SELECT id, prev_hash, hash FROM events ORDER BY id')).rows;
    expect(rows.map((row) => row.id)).toEqual([1, 2, 3]);
    expect(rows[0]?.prev_hash).toBe('0'.repeat(64));
    expect(rows[1]?.prev_hash).toBe(rows[0]?.hash);
    expect(rows[2]?.prev_hash).toBe(rows[1]?.hash);
    expect(await verifyLedger(db.pool, { pageSize: 2 })).toEqual({
      intact: true,
      count: 3,
      head: rows[2]?.hash,
    });
  });

  it('detects a changed event, naming it with the expected and found hash', async () => {
    const db = await migrated();
    await appendEvents(db, 5);
    const stored = (await db.pool.query('SELECT hash FROM events WHERE id = 3')).rows[0]?.hash;
    await tamper(db, `UPDATE events SET object = 'nothing to see' WHERE id = 3`);
    const verdict = await verifyLedger(db.pool, { pageSize: 2 });
    expect(verdict.intact).toBe(false);
    if (verdict.intact) return;
    expect(verdict.broken).toMatchObject({ eventId: 3, kind: 'hash', found: stored });
    expect(verdict.broken.expected).toMatch(/^[0-9a-f]{64}$/);
    expect(verdict.broken.expected).not.toBe(stored);
    expect(verdict.count).toBe(3);
  });

  it('detects a rewritten event whose own hash was recomputed, at the event after it', async () => {
    const db = await migrated();
    await appendEvents(db, 4);
    await tamper(
      db,
      `UPDATE events SET object = 'rewritten', hash = ledger_event_hash(prev_hash, id, at, operator_id, actor,
         verb, 'rewritten', why, ref, goal_id, action_id, channel, payload) WHERE id = 2`,
    );
    const verdict = await verifyLedger(db.pool);
    expect(verdict).toMatchObject({ intact: false, broken: { eventId: 3, kind: 'link' } });
  });

  it('detects a deleted event', async () => {
    const db = await migrated();
    await appendEvents(db, 4);
    await tamper(db, 'DELETE FROM events WHERE id = 2');
    expect(await verifyLedger(db.pool)).toMatchObject({
      intact: false,
      broken: { eventId: 3, kind: 'link' },
    });
  });

  it('backfills the hashes of events written before the migration, in id order', async () => {
    const db = await databases.open();
    const before = loadMigrations().filter((migration) => migration.version < 7);
    await migrate(db.pool, db.schema, before);
    await db.pool.query(`INSERT INTO events (actor, verb, object, at) VALUES
      ('spine', 'did', 'first', '2026-01-01T10:00:00Z'), ('operator', 'approved', 'second', '2026-01-01T09:00:00Z')`);
    await migrate(db.pool, db.schema);
    await appendEvents(db, 1);
    const verdict = await verifyLedger(db.pool);
    expect(verdict).toMatchObject({ intact: true, count: 3 });
    const ids = (await db.pool.query('SELECT id FROM events ORDER BY id')).rows.map((row) => row.id);
    expect(ids).toEqual([1, 2, 3]);
  });

  it('keeps restored rows that bring their MACs (a dump reloaded through the trigger), and verification still checks them', async () => {
    const source = await migrated();
    await appendEvents(source, 3);
    // The MACs Spine would have written with its key (ledger/ledger-witness.ts).
    const key = new LedgerKey('a-key-for-the-restore-test');
    for (const row of (await source.pool.query('SELECT id, hash FROM events')).rows)
      await source.pool.query('INSERT INTO event_macs (event_id, mac) VALUES ($1, $2)', [
        row.id,
        key.eventMac(Number(row.id), row.hash),
      ]);
    const target = await migrated();
    const copy = (table: string, order: string) =>
      `INSERT INTO ${target.schema}.${table} SELECT * FROM ${source.schema}.${table} ORDER BY ${order} DESC`;
    // Without its MAC a restored row is refused; MACs first, then the events, newest first (a
    // reload need not follow id order); the copy keeps Postgres' microseconds.
    expect(await attempt(target, copy('events', 'id'))).toBe(
      '42501 event #3 arrives with its own hashes (a restore) but without its MAC',
    );
    await target.pool.query(copy('event_macs', 'event_id'));
    await target.pool.query(copy('events', 'id'));
    await target.pool.query(`SELECT setval('events_id_seq', 3)`);
    await appendEvents(target, 1);
    expect(await verifyLedger(target.pool)).toMatchObject({ intact: true, count: 4 });
    // A row forged with made-up hashes (and a made-up MAC to get in) is kept, and verification names it.
    await target.pool.query(`INSERT INTO event_macs (event_id, mac) VALUES (5, repeat('f', 64))`);
    await target.pool.query(
      `INSERT INTO events (id, actor, verb, object, prev_hash, hash)
       SELECT 5, 'spine', 'did', 'forged', hash, repeat('f', 64) FROM events WHERE id = 4`,
    );
    expect(await verifyLedger(target.pool)).toMatchObject({
      intact: false,
      broken: { eventId: 5, kind: 'hash', found: 'f'.repeat(64) },
    });
  });

  it('hashes the time as an instant: the session time zone and date style do not change it', async () => {
    const db = await migrated();
    await appendEvents(db, 2);
    // One connection, so the settings apply to the queries that verify.
    const client = await db.pool.connect();
    try {
      await client.query(`SET TimeZone = 'Asia/Kolkata'`);
      await client.query(`SET DateStyle = 'SQL, DMY'`);
      expect(await verifyLedger(client)).toMatchObject({ intact: true, count: 2 });
      await client.query('RESET TimeZone');
      await client.query('RESET DateStyle');
    } finally {
      client.release();
    }
  });

  it('appends an event from a session whose search_path does not name the schema (psql with qualified names)', async () => {
    const db = await migrated();
    await appendEvents(db, 1);
    const client = await db.pool.connect();
    let outcome: string;
    try {
      await client.query(`CREATE OR REPLACE FUNCTION pg_temp.attempt(statement text) RETURNS text
        LANGUAGE plpgsql AS $$ BEGIN EXECUTE statement; RETURN 'ok';
        EXCEPTION WHEN others THEN RETURN SQLSTATE || ' ' || SQLERRM; END $$`);
      await client.query('BEGIN');
      await client.query('SET LOCAL search_path TO public');
      const result = await client.query('SELECT pg_temp.attempt($1) AS outcome', [
        `INSERT INTO "${db.schema}".events (operator_id, actor, verb, object) VALUES (NULL, 'psql', 'fixed', 'a typo')`,
      ]);
      outcome = String(result.rows[0]?.outcome);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(outcome).toBe('ok');
    expect(await verifyLedger(db.pool)).toMatchObject({ intact: true, count: 2 });
  });

  it('keeps one valid chain when many appends run at once', async () => {
    const db = await migrated();
    // On a server, more connections than the test pool's five, so the appends really overlap.
    const pool =
      kind === 'server'
        ? new pg.Pool({
            connectionString: TEST_DATABASE_URL,
            max: 25,
            options: `-c search_path=${db.schema},public`,
          })
        : db.pool;
    const events = new EventRepository(pool);
    await Promise.all(
      Array.from({ length: 50 }, (_, index) =>
        events.append({ operatorId: null, actor: 'spine', verb: 'did', object: `parallel ${index}` }),
      ),
    );
    if (pool !== db.pool) await pool.end();
    expect(await verifyLedger(db.pool, { pageSize: 7 })).toMatchObject({ intact: true, count: 50 });
  });
});
