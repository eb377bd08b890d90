import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../../db/migrate.ts';
import { recordGoalOnce } from '../../db/repositories/goal-intake.ts';
import { createRepositories } from '../../db/repositories/index.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';

describe.each(DATABASE_KINDS)('recording a delivered message as a goal on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);

  afterAll(async () => {
    await databases.closeAll();
  });

  it('records one goal, one linked inbox row and one event for any number of deliveries of one id', async () => {
    const db = await databases.open();
    await migrate(db.pool, db.schema);
    const repos = createRepositories(db.pool);
    const operator = await repos.operators.ensureOwner({
      name: 'Ada',
      timezone: 'UTC',
      probationDays: 0,
      identities: [{ channel: 'slack', externalId: 'U1' }],
      now: new Date(),
    });
    const delivery = {
      channel: 'slack' as const,
      deliveryId: 'Ev1',
      operatorId: operator.id,
      thread: { channel: 'slack' as const, conversation: 'D1', thread: '1.2' },
      text: 'remember that tests run',
      requestedBy: 'slack:U1',
      eventObject: '“remember that tests run”',
    };
    const results = await Promise.all([recordGoalOnce(db.pool, delivery), recordGoalOnce(db.pool, delivery)]);
    results.push(await recordGoalOnce(db.pool, delivery));
    const recorded = results.filter((goal) => goal !== null);
    expect(recorded.length).toBe(1);
    const goal = recorded[0];
    expect(goal?.thread).toEqual(delivery.thread);
    expect(goal?.status).toBe('received');
    expect(await repos.inbox.goalFor('slack', 'Ev1')).toBe(goal?.id);
    const events = await repos.events.list({ operatorId: operator.id });
    expect(
      events
        .filter((event) => event.verb === 'asked')
        .map((event) => [event.goalId, event.object, event.actor]),
    ).toEqual([[goal?.id, '“remember that tests run”', 'operator']]);
    // A different delivery id is a different goal.
    const other = await recordGoalOnce(db.pool, { ...delivery, deliveryId: 'Ev2' });
    expect(other?.id).not.toBe(goal?.id);
  });
});
