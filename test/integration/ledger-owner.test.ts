import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { auditSpineLedger } from '../../app/ledger-setup.ts';
import { createSpine } from '../../app/spine.ts';
import { openDatabase } from '../../db/database.ts';
import { loadMigrations, migrate } from '../../db/migrate.ts';
import { TEST_DATABASE_URL } from '../support/databases.ts';
import { REPO_ROOT } from '../support/spine-process.ts';

/**
 * README.md, "Deployment": Spine connects as a role that does not own `events`. The three SQL
 * blocks are taken from the README as written, with this test's own role, schema and database.
 */

const suffix = `${process.pid}_${Date.now().toString(36)}`;
const names = {
  app: `spine_app_${suffix}`,
  ledger: `spine_ledger_${suffix}`,
  schema: `spine_owner_${suffix}`,
  database: new URL(TEST_DATABASE_URL).pathname.slice(1),
};

/** The README's SQL blocks of the section, with the names of this test. */
function readmeSteps(): string[][] {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('**A database role that does not own `events`.**'));
  const blocks = [...section.matchAll(/```sql\n([\s\S]*?)```/g)].slice(0, 3).map((match) => match[1] ?? '');
  return blocks.map((block) =>
    block
      .replaceAll('spine_app', names.app)
      .replaceAll('spine_ledger', names.ledger)
      .replaceAll('spine_db', names.database)
      .replace(/\bspine\b/g, names.schema)
      .replace(/PASSWORD '[^']*'/, '')
      .split('\n')
      .filter((line) => !line.trim().startsWith('--') && line.trim() !== '')
      .join('\n')
      .split(/;\s*(?:\n|$)/)
      .map((statement) => statement.trim())
      .filter(Boolean),
  );
}

const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
const dataDir = mkdtempSync(join(tmpdir(), 'spine-ledger-owner-'));
const appUrl = (() => {
  const url = new URL(TEST_DATABASE_URL);
  url.username = names.app;
  url.password = '';
  return url.toString();
})();

async function asSuperuser(statements: string[]): Promise<void> {
  for (const statement of statements) await admin.query(statement);
}

afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${names.schema} CASCADE`).catch(() => {});
  for (const role of [names.app, names.ledger]) {
    await admin.query(`DROP OWNED BY ${role}`).catch(() => {});
    await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
  }
  await admin.end().catch(() => {});
  rmSync(dataDir, { recursive: true, force: true });
});

describe('Spine on a Postgres server, connected as a role that does not own events', () => {
  it('runs, seals and anchors as that role, which cannot disable, edit, drop or replace the ledger', {
    timeout: 180_000,
  }, async () => {
    const [once = [], handOver = [], upgrade = []] = readmeSteps();
    expect(handOver.some((statement) => statement.startsWith('ALTER TABLE events OWNER TO'))).toBe(true);
    await admin.connect();
    await asSuperuser(once);

    // `spine migrate` as the app role.
    const migrating = await openDatabase({ url: appUrl, dataDir: '', schema: names.schema });
    expect((await migrate(migrating.pool, names.schema)).length).toBeGreaterThan(20);
    await migrating.close();
    await asSuperuser(handOver);

    const config = loadConfig({
      DATABASE_URL: appUrl,
      SPINE_DB_SCHEMA: names.schema,
      SPINE_DATA_DIR: dataDir,
      SPINE_OPERATOR_NAME: 'Ada',
      SPINE_TIMEZONE: 'UTC',
    });
    const spine = await createSpine(config, { logger: pino({ level: 'silent' }) });
    try {
      await spine.startBackground();
      await spine.repos.events.append({ operatorId: null, actor: 'spine', verb: 'did', object: 'work' });
      expect(await spine.ledgerWitness.seal()).toMatchObject({ kind: 'sealed', events: 1 });

      const refusals: Record<string, string> = {};
      for (const statement of [
        'ALTER TABLE events DISABLE TRIGGER events_append_only',
        `UPDATE events SET object = 'nothing'`,
        'DELETE FROM event_macs',
        'DROP TABLE events',
        `CREATE OR REPLACE FUNCTION ledger_genesis_hash() RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$`,
        'SET session_replication_role = replica',
      ])
        refusals[statement] = await spine.db.pool.query(statement).then(
          () => 'ok',
          (error: Error) => error.message,
        );
      expect(refusals).toEqual({
        'ALTER TABLE events DISABLE TRIGGER events_append_only': 'must be owner of table events',
        [`UPDATE events SET object = 'nothing'`]: 'permission denied for table events',
        'DELETE FROM event_macs': 'permission denied for table event_macs',
        'DROP TABLE events': 'must be owner of table events',
        [`CREATE OR REPLACE FUNCTION ledger_genesis_hash() RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$`]:
          'must be owner of function ledger_genesis_hash',
        'SET session_replication_role = replica':
          'permission denied to set parameter "session_replication_role"',
      });
      expect(await auditSpineLedger(config, spine.db)).toMatchObject({ ok: true, count: 1, sealed: 1 });
    } finally {
      await spine.close();
    }

    // An upgrade whose migration changes the ledger: refused as the app role, done with the loan.
    const upgradeMigration = [
      ...loadMigrations(),
      { version: 999, name: '999_ledger_upgrade', sql: `COMMENT ON TABLE events IS 'the ledger'` },
    ];
    const db = await openDatabase({ url: appUrl, dataDir: '', schema: names.schema });
    try {
      await expect(migrate(db.pool, names.schema, upgradeMigration)).rejects.toThrow(
        'Migration 999_ledger_upgrade failed: must be owner of table events',
      );
      await asSuperuser(upgrade.slice(0, 1));
      expect(await migrate(db.pool, names.schema, upgradeMigration)).toEqual(['999_ledger_upgrade']);
      await asSuperuser(upgrade.slice(1));
      await asSuperuser(handOver);
    } finally {
      await db.close();
    }
    const again = await openDatabase({ url: appUrl, dataDir: '', schema: names.schema });
    try {
      await expect(again.pool.query('ALTER TABLE events DISABLE TRIGGER USER')).rejects.toThrow(
        'must be owner of table events',
      );
    } finally {
      await again.close();
    }
  });
});
