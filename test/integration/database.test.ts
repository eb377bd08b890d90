import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../../db/migrate.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';

describe.each(DATABASE_KINDS)('the %s database pool', (kind) => {
  const databases = new TestDatabases(kind);

  afterAll(async () => {
    await databases.closeAll();
  });

  it('keeps answering correctly after a query fails, one at a time and concurrently', async () => {
    const db = await databases.open();
    await expect(db.pool.query('SELECT 1/0')).rejects.toThrow(/division by zero/);
    await expect(db.pool.query('SELECT $1::int AS n', ['not a number'])).rejects.toThrow(/invalid input/);
    for (let n = 0; n < 3; n += 1) {
      expect((await db.pool.query('SELECT $1::int AS n', [n])).rows).toEqual([{ n }]);
    }
    const mixed = await Promise.allSettled(
      Array.from({ length: 20 }, (_, n) =>
        n % 4 === 0 ? db.pool.query('SELECT 1/0') : db.pool.query('SELECT $1::int AS n', [n]),
      ),
    );
    mixed.forEach((result, n) => {
      if (n % 4 === 0) expect(result.status).toBe('rejected');
      else expect(result).toEqual({ status: 'fulfilled', value: expect.objectContaining({ rows: [{ n }] }) });
    });
  });

  it('refuses a change to the append-only event log and goes on working', async () => {
    const db = await databases.open();
    await migrate(db.pool, db.schema);
    await db.pool.query(`INSERT INTO events (actor, verb, object) VALUES ('spine', 'started', 'a test')`);
    await expect(db.pool.query(`UPDATE events SET object = 'forged'`)).rejects.toThrow(/append-only/);
    const rows = await db.pool.query('SELECT object FROM events');
    expect(rows.rows).toEqual([{ object: 'a test' }]);
  });
});
