import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../db/database.ts';
import { migrate } from '../../db/migrate.ts';
import { TEST_DATABASE_URL, uniqueSchema } from '../support/databases.ts';
import { REPO_ROOT } from '../support/spine-process.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

/**
 * Processes that start at the same moment on one database (a chat and its workers after a deploy)
 * all start, and what start-up writes exists once. Three Spines in this process, each on its own
 * pool, look to Postgres like three processes.
 */
describe('processes starting at the same moment on one database (server Postgres)', () => {
  let spines: TestSpine[] = [];
  let databases: Database[] = [];
  let dataDir: string | undefined;

  afterEach(async () => {
    for (const each of spines) await each.spine.close();
    const [first] = databases;
    if (first) await first.pool.query(`DROP SCHEMA IF EXISTS ${first.schema} CASCADE`).catch(() => {});
    for (const db of databases) await db.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    spines = [];
    databases = [];
    dataDir = undefined;
  });

  /** Three pools on `schema`, and one data directory (with a playbook file) they share. */
  async function openThree(schema: string): Promise<Database[]> {
    dataDir = mkdtempSync(join(tmpdir(), 'spine-start-'));
    mkdirSync(join(dataDir, 'playbooks'));
    copyFileSync(
      join(REPO_ROOT, 'playbooks', 'examples', 'weekly-newsletter.yaml'),
      join(dataDir, 'playbooks', 'weekly-newsletter.yaml'),
    );
    databases = await Promise.all(
      [1, 2, 3].map(() => openDatabase({ url: TEST_DATABASE_URL, dataDir: '', schema, maxConnections: 5 })),
    );
    return databases;
  }

  async function startAll(): Promise<void> {
    const env = { SPINE_DATA_DIR: dataDir ?? '', SPINE_OWNER: 'telegram:42' };
    const results = await Promise.allSettled(databases.map((db) => createTestSpine(db, { env })));
    spines = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const errors = results.flatMap((result) => (result.status === 'rejected' ? [String(result.reason)] : []));
    expect(errors).toEqual([]);
  }

  async function counts(db: Database): Promise<Record<string, number>> {
    const count = async (sql: string) => Number((await db.pool.query(sql)).rows[0]?.n);
    return {
      operators: await count('SELECT count(*) AS n FROM operators'),
      identities: await count('SELECT count(*) AS n FROM identities'),
      playbooks: await count('SELECT count(*) AS n FROM playbooks'),
      playbookVersions: await count('SELECT count(*) AS n FROM playbook_versions'),
      embedders: await count('SELECT count(*) AS n FROM memory_embedders'),
      checkpointMigrations: await count('SELECT count(DISTINCT v) AS n FROM checkpoint_migrations'),
    };
  }

  const expected = {
    operators: 1,
    // The console's `local` and SPINE_OWNER's Telegram account.
    identities: 2,
    playbooks: 1,
    playbookVersions: 1,
    embedders: 1,
    checkpointMigrations: 5,
  };

  it('on a fresh schema: all start, and every start-up row exists once', async () => {
    const [db] = await openThree(uniqueSchema('start'));
    await startAll();
    expect(spines).toHaveLength(3);
    expect(await counts(db as Database)).toEqual(expected);
    // Every process acts for the same owner.
    expect(new Set(spines.map((each) => each.spine.operator.id)).size).toBe(1);
  });

  it('on a schema `spine migrate` prepared: all start, with one owner', async () => {
    const [db] = await openThree(uniqueSchema('start'));
    const first = db as Database;
    await migrate(first.pool, first.schema);
    await new PostgresSaver(first.pool, undefined, { schema: first.schema }).setup();
    await startAll();
    expect(await counts(first)).toEqual(expected);
    expect(new Set(spines.map((each) => each.spine.operator.id)).size).toBe(1);
  });
});
