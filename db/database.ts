import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import { vector } from '@electric-sql/pglite-pgvector';
import pg from 'pg';
import { SpineError } from '../core/errors.ts';
import { LockFile } from './lock-file.ts';

/** Anything that runs a query: the pool or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'>;

export interface Database {
  pool: pg.Pool;
  /** `embedded` is PGlite in this process; `server` is a Postgres server shared with other processes. */
  kind: 'embedded' | 'server';
  /** The schema every table lives in (tests use one per test). */
  schema: string;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** A Postgres server; unset means the embedded database under `dataDir`. */
  url?: string | undefined;
  dataDir: string;
  schema?: string;
  /** Pool size on a server (PGlite always has one connection). */
  maxConnections?: number;
}

// int8 (counts, ids) as numbers: Spine's ids stay far below 2^53.
const INT8_OID = 20;
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Open the database Spine runs on: a Postgres server when `url` is set, else embedded PGlite. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const schema = options.schema ?? 'public';
  if (!SCHEMA_NAME.test(schema)) {
    throw new SpineError(
      'db.bad_schema',
      `"${schema}" is not a valid schema name (lower-case letters, digits, _).`,
      {
        category: 'user',
      },
    );
  }
  return options.url
    ? openServer(options.url, schema, options.maxConnections ?? 10)
    : openEmbedded(options.dataDir, schema);
}

/**
 * Create the schema before any pooled connection exists: a connection resolves its search_path
 * once, so one opened before the schema was created would keep using `public`.
 */
async function ensureSchema(url: string, schema: string): Promise<void> {
  if (schema === 'public') return;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  } catch (error) {
    // Two processes creating it at once: the loser sees a duplicate; the schema exists either way.
    if (!['42P06', '23505'].includes((error as { code?: string }).code ?? '')) throw error;
  } finally {
    await client.end();
  }
}

async function openServer(url: string, schema: string, max: number): Promise<Database> {
  try {
    await ensureSchema(url, schema);
  } catch (error) {
    throw unreachable(url, error);
  }
  const pool = new pg.Pool({
    connectionString: url,
    max,
    types,
    options: `-c search_path=${schema},public`,
    connectionTimeoutMillis: 5_000,
  });
  // An idle client that loses its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    await pool.end().catch(() => {});
    throw unreachable(url, error);
  }
  return { pool, kind: 'server', schema, close: () => pool.end() };
}

function unreachable(url: string, error: unknown): SpineError {
  return new SpineError(
    'db.unreachable',
    `Cannot connect to the Postgres server in DATABASE_URL (${redactUrl(url)}): ${(error as Error).message}. ` +
      'Check that it is running and the URL is right, or unset DATABASE_URL to use the embedded database.',
    { category: 'user', retryable: true, cause: error },
  );
}

/**
 * `pg.Pool#query` destroys its client when the query fails. PGlite's node-postgres shim shares one
 * connection among all clients, and a destroyed client's 'end' arrives late, at the next client:
 * that one then fails with "Connection terminated unexpectedly" and reads answers out of step (seen
 * with PGlite 0.5.14: one `SELECT 1/0` and the following queries fail or return wrong rows, then the
 * process crashes). An error from Postgres leaves the embedded connection healthy, so pooled queries
 * here release their client normally. Callback-style calls keep pg's behaviour.
 */
function keepClientsOnQueryErrors(pool: pg.Pool): pg.Pool {
  const original = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  const query = (config: unknown, values?: unknown, callback?: unknown) => {
    if (typeof values === 'function' || typeof callback === 'function')
      return original(config, values, callback);
    return (async () => {
      const client = await pool.connect();
      try {
        return await client.query(config as string, values as unknown[] | undefined);
      } finally {
        client.release();
      }
    })();
  };
  pool.query = query as typeof pool.query;
  return pool;
}

async function openEmbedded(dataDir: string, schema: string): Promise<Database> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const lock = LockFile.acquire(join(dir, 'spine.lock'), `the embedded database in ${dir}`);
  let pglite: PGlite | undefined;
  try {
    pglite = await PGlite.create(join(dir, 'pgdata'), { extensions: { vector } });
    if (schema !== 'public')
      await pglite.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}; SET search_path TO ${schema}, public;`);
    const pool = keepClientsOnQueryErrors(
      new pg.Pool(Object.assign(createPgConfig(pglite), { types }) as pg.PoolConfig),
    );
    const owned = pglite;
    return {
      pool,
      kind: 'embedded',
      schema,
      async close() {
        await pool.end();
        await owned.close();
        lock.release();
      },
    };
  } catch (error) {
    await pglite?.close().catch(() => {});
    lock.release();
    throw new SpineError(
      'db.embedded_failed',
      `Could not open the embedded database in ${dir}: ${(error as Error).message}`,
      { category: 'system', cause: error },
    );
  }
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
