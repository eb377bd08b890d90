import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.ts';
import { hasCode } from '../../core/errors.ts';
import { type Database, openDatabase } from '../../db/database.ts';
import { migrate } from '../../db/migrate.ts';
import { createRepositories } from '../../db/repositories/index.ts';
import { SingletonLeaseRepository } from '../../db/repositories/singleton-leases.ts';
import { ActionScheduler, DUE_CHECK_DUTY } from '../../jobs/action-scheduler.ts';
import { DATABASE_KINDS, TEST_DATABASE_URL, TestDatabases } from '../support/databases.ts';
import { waitUntil } from '../support/queue-spine.ts';

/** A promise and its resolve, to hold a due-check inside its work until the test lets go. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe.each(DATABASE_KINDS)('one due-check per deployment at a time (%s)', (kind) => {
  const databases = new TestDatabases(kind);
  const extraPools: Database[] = [];

  afterAll(async () => {
    for (const db of extraPools.splice(0)) await db.close();
    await databases.closeAll();
  });

  /**
   * Two replicas' connections to one migrated schema: two pools on a server; on PGlite (one
   * process only) the one pool, the replicas told apart by their lease owners.
   */
  async function twoReplicas(): Promise<[Database, Database]> {
    const db = await databases.open();
    await migrate(db.pool, db.schema);
    if (kind === 'embedded') return [db, db];
    const other = await openDatabase({
      url: TEST_DATABASE_URL,
      dataDir: '',
      schema: db.schema,
      maxConnections: 3,
    });
    extraPools.push(other);
    return [db, other];
  }

  function scheduler(db: Database, runDue: (signal: AbortSignal) => Promise<number>, leaseMs = 30_000) {
    return new ActionScheduler({
      repos: createRepositories(db.pool),
      leases: new SingletonLeaseRepository(db.pool),
      leaseMs,
      runDue,
      clock: new ManualClock(new Date()),
      logger: pino({ level: 'silent' }),
    });
  }

  it('never runs two replicas’ due-checks at once; the second skips, and runs once the first is done', async () => {
    const [one, two] = await twoReplicas();
    let inside = 0;
    let most = 0;
    const instrumented = (work: () => Promise<void>) => async () => {
      inside += 1;
      most = Math.max(most, inside);
      try {
        await work();
      } finally {
        inside -= 1;
      }
      return 1;
    };
    const entered = gate();
    const release = gate();
    const first = scheduler(
      one,
      instrumented(async () => {
        entered.open();
        await release.opened;
      }),
    );
    const second = scheduler(
      two,
      instrumented(async () => {}),
    );
    const running = first.runOnce();
    await entered.opened;
    // The first replica is inside its check: the second skips this tick.
    const skipped = await second.runOnce();
    expect(most).toBe(1);
    expect(skipped).toBeNull();
    release.open();
    expect(await running).toBe(1);
    // Released at the end: the next tick of either replica runs.
    expect(await second.runOnce()).toBe(1);
    // Both replicas' timers and direct checks racing, many rounds: still never two at once.
    const racing = [
      scheduler(
        one,
        instrumented(() => one.pool.query('SELECT 1').then(() => {})),
      ),
      scheduler(
        two,
        instrumented(() => two.pool.query('SELECT 1').then(() => {})),
      ),
    ];
    let ran = 0;
    for (let round = 0; round < 20; round += 1) {
      const results = await Promise.all(racing.map((each) => each.runOnce()));
      ran += results.filter((result) => result !== null).length;
    }
    expect(most).toBe(1);
    expect(ran).toBeGreaterThanOrEqual(20);
  });

  it('takes over the lease of a replica that died holding it, and leaves a live one alone', async () => {
    const [db] = await twoReplicas();
    const check = scheduler(db, async () => 1);
    await db.pool.query(
      `INSERT INTO singleton_leases (name, owner, lease_until) VALUES ($1, 'live-replica', now() + interval '1 hour')`,
      [DUE_CHECK_DUTY],
    );
    expect(await check.runOnce()).toBeNull();
    await db.pool.query(
      `UPDATE singleton_leases SET owner = 'dead-replica', lease_until = now() - interval '1 second'`,
    );
    expect(await check.runOnce()).toBe(1);
    // Released at the end of the check.
    expect((await db.pool.query('SELECT * FROM singleton_leases')).rowCount).toBe(0);
  });

  it('stops the due-check when its lease is lost, and leaves the new holder’s lease in place', async () => {
    const [db, other] = await twoReplicas();
    let seen: AbortSignal | undefined;
    const entered = gate();
    // A short lease: renewed every 100 ms, so the loss is found quickly.
    const check = scheduler(
      db,
      async (signal) => {
        seen = signal;
        entered.open();
        await waitUntil(() => signal.aborted, 'the due-check to be told its lease is lost', 30_000).catch(
          () => {},
        );
        return 0;
      },
      300,
    );
    const running = check.runOnce();
    await entered.opened;
    // Another replica took the lease over (this one looked dead to it: frozen past its lease).
    await other.pool.query(
      `UPDATE singleton_leases SET owner = 'other-replica', lease_until = now() + interval '1 hour' WHERE name = $1`,
      [DUE_CHECK_DUTY],
    );
    await running;
    expect(seen?.aborted).toBe(true);
    expect(hasCode(seen?.reason, 'lease.lost')).toBe(true);
    const rows = await db.pool.query('SELECT owner FROM singleton_leases WHERE name = $1', [DUE_CHECK_DUTY]);
    expect(rows.rows).toEqual([{ owner: 'other-replica' }]);
  });
});
