import type pg from 'pg';

/** A held group lock; release it once the job is over. */
export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Jobs of one group (one goal, one operator's digests) must not run at the same time, whichever
 * worker or machine holds them. A Postgres session advisory lock does that on a server: it lives
 * exactly as long as the worker's connection, so a worker killed mid-job drops it at once.
 * Namespaced by schema, so Spines sharing one database (tests) never block each other.
 */
export class PostgresGroupLock {
  readonly #pool: pg.Pool;
  readonly #namespace: string;

  constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#namespace = `spine-jobs:${schema}`;
  }

  /** Take the group's lock, or null when another worker holds it (without waiting). */
  async tryAcquire(group: string): Promise<HeldLock | null> {
    const client = await this.#pool.connect();
    try {
      const result = await client.query('SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS locked', [
        this.#namespace,
        group,
      ]);
      if (!result.rows[0]?.locked) {
        client.release();
        return null;
      }
    } catch (error) {
      client.release(true);
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
          client.release();
        } catch {
          // A broken connection has dropped the lock with it.
          client.release(true);
        }
      },
    };
  }
}
