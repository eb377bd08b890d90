import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { SpineError } from '../core/errors.ts';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

const MIGRATION_LOCK = 'spine:migrate';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The numbered SQL files in db/migrations, in order. */
export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{3}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number.parseInt(file.slice(0, 3), 10),
      name: file.replace(/\.sql$/, ''),
      sql: readFileSync(join(dir, file), 'utf8'),
    }));
}

/**
 * Apply pending migrations, each in its own transaction, under an advisory lock so that several
 * processes starting at once apply each migration exactly once. Returns the names applied.
 */
export async function migrate(
  pool: pg.Pool,
  schema: string,
  migrations = loadMigrations(),
): Promise<string[]> {
  const client = await pool.connect();
  try {
    // Session-level lock for the whole database (the extension is per database), released in `finally`.
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK]);
    try {
      await ensureVectorExtension(client);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${schema}.spine_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = new Set(
        (await client.query<{ version: number }>(`SELECT version FROM ${schema}.spine_migrations`)).rows.map(
          (row) => row.version,
        ),
      );
      const applied: string[] = [];
      for (const migration of migrations) {
        if (done.has(migration.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(`SET LOCAL search_path TO ${schema}, public`);
          await client.query(migration.sql);
          await client.query(`INSERT INTO ${schema}.spine_migrations (version, name) VALUES ($1, $2)`, [
            migration.version,
            migration.name,
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw new SpineError(
            'db.migration_failed',
            `Migration ${migration.name} failed: ${(error as Error).message}`,
            {
              cause: error,
            },
          );
        }
        applied.push(migration.name);
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

async function ensureVectorExtension(client: pg.PoolClient): Promise<void> {
  const installed = await client.query("SELECT 1 FROM pg_extension WHERE extname = 'vector'");
  if (installed.rowCount) return;
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public');
  } catch (error) {
    throw new SpineError(
      'db.pgvector_missing',
      'The Postgres server has no pgvector extension, which Spine needs for memory. Install pgvector on the ' +
        'server (scripts/setup-services.sh does it on Debian) and run `CREATE EXTENSION vector;` as a superuser. ' +
        `Postgres said: ${(error as Error).message}`,
      { category: 'user', cause: error },
    );
  }
}
