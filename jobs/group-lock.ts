import type pg from 'pg';

/** A held group lock; release it once the job is over. */
export interface HeldLock {
  release(): Promise<void>;
}

/** Mutual exclusion of jobs of one group across every worker (see README.md, "Queue mode and the daily digest"). */
export interface GroupLock {
  /** Take the group's lock, or null when another job holds it (without waiting). */
  tryAcquire(group: string): Promise<HeldLock | null>;
  close(): Promise<void>;
}

/**
 * The group lock as a Postgres session advisory lock (SPINE_GROUP_LOCK=postgres): it lives
 * exactly as long as the connection, so a worker killed mid-job drops it at once. Namespaced by
 * schema, so Spines sharing one database (tests) never block each other.
 *
 * All of a worker's locks live on one dedicated connection (one round trip each, no pool
 * checkout). Session locks are re-entrant within a connection, so groups held by this process
 * are also tracked here: a second job of the same group in this process is refused too. If that
 * connection breaks, every lock it held is gone: the jobs running under them are failed (and
 * retried) rather than left running unguarded.
 */
export class PostgresGroupLock implements GroupLock {
  readonly #pool: pg.Pool;
  readonly #namespace: string;
  readonly #held = new Set<string>();
  #connection: Promise<pg.PoolClient> | undefined;

  constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#namespace = `spine-jobs:${schema}`;
  }

  #client(): Promise<pg.PoolClient> {
    if (!this.#connection) {
      const connecting = this.#pool.connect().then((client) => {
        client.on('error', () => this.#drop(client));
        return client;
      });
      connecting.catch(() => {
        this.#connection = undefined;
      });
      this.#connection = connecting;
    }
    return this.#connection;
  }

  #drop(client: pg.PoolClient): void {
    this.#connection = undefined;
    this.#held.clear();
    client.release(true);
  }

  /** Take the group's lock, or null when another job (here or on another worker) holds it. */
  async tryAcquire(group: string): Promise<HeldLock | null> {
    if (this.#held.has(group)) return null;
    this.#held.add(group);
    let client: pg.PoolClient;
    try {
      client = await this.#client();
      const result = await client.query('SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS locked', [
        this.#namespace,
        group,
      ]);
      if (!result.rows[0]?.locked) {
        this.#held.delete(group);
        return null;
      }
    } catch (error) {
      this.#held.delete(group);
      throw error;
    }
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        try {
          await client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [
            this.#namespace,
            group,
          ]);
        } catch {
          // A broken connection has dropped the lock with it.
        } finally {
          this.#held.delete(group);
        }
      },
    };
  }

  /** Give the lock connection back (worker shutdown). */
  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection) (await connection.catch(() => null))?.release();
  }
}
