import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { LedgerSeed } from '../support/ledger-seed.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

describe.each(DATABASE_KINDS)("the digest shows yesterday's business metrics on %s Postgres", (kind) => {
  const databases = new TestDatabases(kind);
  const running: TestSpine[] = [];

  afterAll(async () => {
    for (const test of running) await test.spine.close();
    await databases.closeAll();
  });

  it('adds one line: minutes saved, actions, errors, corrective actions and approvals of the day before', async () => {
    // 09:00 in Berlin on 2 June: yesterday is 1 June there.
    const clock = new ManualClock('2026-06-02T07:00:00Z');
    const test = await createTestSpine(await databases.open(), {
      clock,
      env: { SPINE_TIMEZONE: 'Europe/Berlin' },
    });
    running.push(test);
    const { spine } = test;
    const operatorId = spine.operator.id;
    const seed = new LedgerSeed(spine.db.pool);
    const goalId = await seed.goal(operatorId, { status: 'running', at: '2026-06-01T08:00:00Z' });
    const sent = await seed.action({ goalId, operatorId, at: '2026-06-01T09:00:00Z' });
    await seed.approval({
      actionId: sent,
      goalId,
      operatorId,
      status: 'approved',
      decidedAt: '2026-06-01T08:59:00Z',
    });
    await seed.action({ goalId, operatorId, status: 'failed', at: '2026-06-01T10:00:00Z' });
    // 23:30 UTC on 1 June is already 2 June in Berlin: today, not yesterday.
    await seed.action({ goalId, operatorId, at: '2026-06-01T23:30:00Z' });

    await test.say('digest');
    const digest = test.chat.posts.at(-1)?.message;
    expect(digest?.text).toContain('Your digest so far, Ada');
    expect(digest?.blocks).toContainEqual({
      type: 'context',
      text:
        'Yesterday (2026-06-01): about 5 min saved, 1 action executed, 1 error introduced, 0 corrective actions; ' +
        'approvals: 1 approved, 0 edited, 0 rejected.',
    });
  });
});
