import type pg from 'pg';
import type { Database } from '../db/database.ts';

const STARTUP_LOCK = 'spine:startup';

/** Held while a process writes its start-up rows; release it once they are written. */
export interface StartupLock {
  release(): Promise<void>;
}

/**
 * Serialise the start-up writes of processes sharing one schema (a worker and a chat started
 * together on a fresh database). Those writes read-then-insert (the owner operator, the
 * checkpointer's migration rows, playbook versions): run side by side, one process crashes on a
 * duplicate key or a second owner appears. A session advisory lock, so a process killed while
 * holding it drops it with its connection.
 *
 * Embedded databases need none: the data directory's lock file already admits one process.
 * The lock takes one pooled connection while the start-up writes use others (pools have several).
 */
export async function holdStartupLock(db: Database): Promise<StartupLock> {
  if (db.kind === 'embedded') return { release: async () => {} };
  const client: pg.PoolClient = await db.pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1), hashtext($2))', [STARTUP_LOCK, db.schema]);
  } catch (error) {
    client.release(true);
    throw error;
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      try {
        await client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [
          STARTUP_LOCK,
          db.schema,
        ]);
        client.release();
      } catch {
        // A broken connection has dropped the lock with it: nothing is left held, discard it.
        client.release(true);
      }
    },
  };
}
