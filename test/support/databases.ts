import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Database, openDatabase } from '../../db/database.ts';

/** The Postgres server the setup script prepares (scripts/setup-services.sh). */
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/spine_test';

export type DatabaseKind = 'embedded' | 'server';
export const DATABASE_KINDS: DatabaseKind[] = ['embedded', 'server'];

let counter = 0;
/** A schema name no other test uses. */
export function uniqueSchema(prefix = 't'): string {
  counter += 1;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter}`;
}

/**
 * A source of isolated databases of one kind: every `open()` gets its own schema. Embedded ones
 * share one PGlite data directory per test file (a fresh PGlite takes seconds to initialise).
 */
export class TestDatabases {
  readonly kind: DatabaseKind;
  #embedded: Database | undefined;
  #dataDir: string | undefined;
  readonly #opened: Database[] = [];

  constructor(kind: DatabaseKind) {
    this.kind = kind;
  }

  async open(): Promise<Database> {
    const schema = uniqueSchema();
    if (this.kind === 'server') {
      const db = await openDatabase({ url: TEST_DATABASE_URL, dataDir: '', schema, maxConnections: 5 });
      this.#opened.push(db);
      return db;
    }
    if (!this.#embedded) {
      this.#dataDir = mkdtempSync(join(tmpdir(), 'spine-test-'));
      this.#embedded = await openDatabase({ dataDir: this.#dataDir });
    }
    // One PGlite has one session: switch its search_path to a fresh schema for this test.
    const shared = this.#embedded;
    await shared.pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await shared.pool.query(`SET search_path TO ${schema}, public`);
    return { pool: shared.pool, kind: 'embedded', schema, close: async () => {} };
  }

  async closeAll(): Promise<void> {
    for (const db of this.#opened.splice(0)) {
      await db.pool.query(`DROP SCHEMA IF EXISTS ${db.schema} CASCADE`).catch(() => {});
      await db.close();
    }
    if (this.#embedded) {
      await this.#embedded.close();
      this.#embedded = undefined;
    }
    if (this.#dataDir) rmSync(this.#dataDir, { recursive: true, force: true });
  }
}
