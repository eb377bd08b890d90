import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../../db/migrate.ts';
import { revokeUnlistedChatIdentities } from '../../db/repositories/chat-identities.ts';
import { recordGoalOnce, recordRequestOnce } from '../../db/repositories/goal-intake.ts';
import { createRepositories } from '../../db/repositories/index.ts';
import { PlaybookStore } from '../../playbooks/playbook-store.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';

describe.each(DATABASE_KINDS)('goal intake and owner identities on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);

  afterAll(async () => {
    await databases.closeAll();
  });

  /** A migrated database whose operator is Slack user U1. */
  async function ownerOnSlack() {
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
    return { db, repos, operator };
  }

  it('records one goal, one linked inbox row and one event for any number of deliveries of one id', async () => {
    const { db, repos, operator } = await ownerOnSlack();
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

  it('records a request in one statement only for a known sender and when no playbook is in doubt', async () => {
    const { db, repos, operator } = await ownerOnSlack();
    const counts = async () => {
      const result = await db.pool.query(
        `SELECT (SELECT count(*)::int FROM inbox) AS inbox, (SELECT count(*)::int FROM goals) AS goals,
                (SELECT count(*)::int FROM events WHERE verb = 'asked') AS asked`,
      );
      return result.rows[0];
    };
    const request = (deliveryId: string, more: Partial<Parameters<typeof recordRequestOnce>[1]> = {}) =>
      recordRequestOnce(db.pool, {
        channel: 'slack',
        deliveryId,
        userId: 'U1',
        thread: { channel: 'slack', conversation: 'D1', thread: '1.2' },
        text: 'send the invoices',
        requestedBy: 'slack:U1',
        eventObject: '“send the invoices”',
        chatTriggers: { notMatching: [] },
        ...more,
      });

    // A stranger writes nothing.
    expect(await request('Ev0', { userId: 'U9' })).toEqual({ kind: 'stranger' });
    expect(await counts()).toEqual({ inbox: 0, goals: 0, asked: 0 });

    // Any number of deliveries of one id, some at once: one goal, one inbox row, one event.
    const results = await Promise.all([request('Ev1'), request('Ev1'), request('Ev1')]);
    results.push(await request('Ev1'));
    const recorded = results.flatMap((result) => (result.kind === 'recorded' ? [result] : []));
    expect(recorded).toHaveLength(1);
    expect(results.filter((result) => result.kind === 'duplicate')).toHaveLength(3);
    const goal = recorded[0]?.goal;
    expect(recorded[0]?.identity).toEqual({
      channel: 'slack',
      externalId: 'U1',
      operatorId: operator.id,
      displayName: null,
    });
    expect(goal).toMatchObject({ operatorId: operator.id, status: 'received', text: 'send the invoices' });
    expect(goal?.thread).toEqual({ channel: 'slack', conversation: 'D1', thread: '1.2' });
    expect(await repos.inbox.goalFor('slack', 'Ev1')).toBe(goal?.id);
    expect(await counts()).toEqual({ inbox: 1, goals: 1, asked: 1 });

    // An enabled playbook whose version is not known not to answer the text: nothing is written,
    // and the statement names it. A disabled one is never in doubt.
    const store = new PlaybookStore(db.pool);
    const save = (name: string) =>
      store.saveVersion({
        operatorId: operator.id,
        name,
        source: `name: ${name}`,
        hash: name,
        origin: 'test',
      });
    const greeter = (await save('greeter')).playbook;
    const idle = (await save('idle')).playbook;
    await store.setEnabled(greeter.id, true, new Date());
    expect(await request('Ev2')).toEqual({
      kind: 'unsure',
      identity: expect.objectContaining({ operatorId: operator.id }),
      playbooks: [{ name: 'greeter', versionId: greeter.current.id }],
    });
    expect(await counts()).toEqual({ inbox: 1, goals: 1, asked: 1 });
    // Known not to answer it, or a text no trigger can match: recorded.
    expect((await request('Ev2', { chatTriggers: { notMatching: [greeter.current.id] } })).kind).toBe(
      'recorded',
    );
    expect((await request('Ev3', { chatTriggers: null })).kind).toBe('recorded');
    await store.setEnabled(idle.id, true, new Date());
    const both = await request('Ev4', { chatTriggers: { notMatching: [greeter.current.id] } });
    expect(both.kind === 'unsure' && both.playbooks.map((playbook) => playbook.name)).toEqual(['idle']);
    expect(await counts()).toEqual({ inbox: 3, goals: 3, asked: 3 });
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
