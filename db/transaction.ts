import type pg from 'pg';

/**
 * Run `work` in one transaction on one client. Inside, use only the client you are given: awaiting
 * another pooled query while holding this one deadlocks on PGlite, whose pool has one connection.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
