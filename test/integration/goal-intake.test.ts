import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../../db/migrate.ts';
import { revokeUnlistedChatIdentities } from '../../db/repositories/chat-identities.ts';
import { recordGoalOnce } from '../../db/repositories/goal-intake.ts';
import { createRepositories } from '../../db/repositories/index.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';

describe.each(DATABASE_KINDS)('goal intake and owner identities on %s Postgres', (kind) => {
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

  it('revokes Slack and Telegram identities that are no longer listed, keeping the console', async () => {
    const db = await databases.open();
    await migrate(db.pool, db.schema);
    const repos = createRepositories(db.pool);
    const owner = (identities: Array<{ channel: 'console' | 'slack' | 'telegram'; externalId: string }>) =>
      repos.operators.ensureOwner({
        name: 'Ada',
        timezone: 'UTC',
        probationDays: 0,
        identities,
        now: new Date(),
      });
    const operator = await owner([
      { channel: 'console', externalId: 'local' },
      { channel: 'slack', externalId: 'U1' },
      { channel: 'telegram', externalId: '42' },
    ]);
    const revoked = await revokeUnlistedChatIdentities(db.pool, operator.id, [
      { channel: 'slack', externalId: 'U1' },
    ]);
    expect(revoked).toEqual(['telegram:42']);
    expect(await repos.operators.findIdentity('telegram', '42')).toBeNull();
    expect(await repos.operators.findIdentity('slack', 'U1')).not.toBeNull();
    expect(await repos.operators.findIdentity('console', 'local')).not.toBeNull();
  });
});
