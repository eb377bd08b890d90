import type pg from 'pg';
import { SpineError } from '../core/errors.ts';

/** A held group lock; release it once the job is over. */
export interface HeldLock {
  /**
   * Aborts (with a SpineError) when the lock is lost while held: from then on another job of the
   * group may run, so this one must stop and be retried under a fresh lock.
   */
  readonly signal: AbortSignal;
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
 * connection breaks, every lock it held is gone: the held locks' signals abort, so the jobs
 * running under them are failed (and retried) rather than left running unguarded.
 */
export class PostgresGroupLock implements GroupLock {
  readonly #pool: pg.Pool;
  readonly #namespace: string;
  /** The groups locked on the current connection, each with the signal its job watches. */
  readonly #held = new Map<string, AbortController>();
  #connection: Promise<pg.PoolClient> | undefined;
  /** The connection the held locks live on (once connected). */
  #current: pg.PoolClient | undefined;

  constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#namespace = `spine-jobs:${schema}`;
  }

  #client(): Promise<pg.PoolClient> {
    if (!this.#connection) {
      const connecting = this.#pool.connect().then((client) => {
        this.#current = client;
        client.on('error', (error) => this.#drop(client, error));
        client.on('end', () => this.#drop(client));
        return client;
      });
      connecting.catch(() => {
        this.#connection = undefined;
      });
      this.#connection = connecting;
    }
    return this.#connection;
  }

  #drop(client: pg.PoolClient, error?: unknown): void {
    // Only the connection in use holds locks (a given-back one may end later, in the pool).
    if (this.#current !== client) return;
    this.#current = undefined;
    this.#connection = undefined;
    const lost = [...this.#held.values()];
    this.#held.clear();
    for (const controller of lost) {
      controller.abort(
        new SpineError('lease.lost', 'the connection holding the group locks broke: the locks went with it', {
          retryable: true,
          ...(error === undefined ? {} : { cause: error }),
        }),
      );
    }
    client.release(true);
  }

  /** Take the group's lock, or null when another job (here or on another worker) holds it. */
  async tryAcquire(group: string): Promise<HeldLock | null> {
    if (this.#held.has(group)) return null;
    const controller = new AbortController();
    this.#held.set(group, controller);
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
      signal: controller.signal,
      release: async () => {
        if (released) return;
        released = true;
        // Lost with a broken connection: nothing to unlock, and the group may be locked anew since.
        if (controller.signal.aborted) return;
        try {
          await client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [
            this.#namespace,
            group,
          ]);
        } catch {
          // A broken connection has dropped the lock with it.
        } finally {
          if (this.#held.get(group) === controller) this.#held.delete(group);
        }
      },
    };
  }

  /** Give the lock connection back (worker shutdown). */
  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    const client = connection ? await connection.catch(() => null) : null;
    // Given back to the pool, its later end is no loss of ours.
    this.#current = undefined;
    client?.release();
  }
}
