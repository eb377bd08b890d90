import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Connector, defineOperation } from '../../connectors/connector.ts';
import { ConnectorRuntime } from '../../connectors/connector-runtime.ts';
import { createConnectorHarness } from '../support/connector-harness.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';

/** A connector whose one operation saves "the state before" and reports what it got back. */
function probe(state: { computed: number; now: () => unknown; fail: boolean }): Connector {
  return {
    name: 'probe',
    description: 'test connector',
    operations: {
      change: defineOperation({
        name: 'change',
        description: 'change something',
        risk: 'write',
        reversible: false,
        external: false,
        retry: 'by_key',
        schema: z.object({ to: z.string() }),
        simulate: (params) => ({
          title: `Change to ${params.to}`,
          doing: 'changing',
          done: 'changed',
          fields: [],
        }),
        async execute(_params, context) {
          const before = await context.checkpoint('before', async () => {
            state.computed += 1;
            return state.now();
          });
          if (state.fail) throw new Error('the process died after the change');
          return { before };
        },
      }),
    },
  };
}

describe.each(DATABASE_KINDS)('action checkpoints on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);
  beforeAll(async () => {
    await databases.open();
  }, 180_000);
  afterAll(async () => {
    await databases.closeAll();
  });

  it('saves a value before the effect and gives the same one back to a retry in another process', async () => {
    const first = {
      computed: 0,
      now: () => ({ at: new Date('2026-11-25T09:00:00Z'), title: 'old' }),
      fail: true,
    };
    const harness = await createConnectorHarness(await databases.open(), [probe(first)], {
      resilience: { initialDelayMs: 1, maxDelayMs: 1, timeoutMs: 5_000 },
    });
    const action = await harness.store(
      { connector: 'probe', operation: 'change', params: { to: 'new' }, why: 't' },
      `k-${kind}`,
    );
    // The first execution saves the state, then fails after its effect; its outcome is never used.
    await harness.runtime.execute(action.id);
    expect(first.computed).toBe(1);
    await harness.repos.actions.transition(action.id, ['failed'], 'executing');

    // A restarted process (a new runtime and connector, nothing in memory) sees the world changed,
    // but gets the saved state back, through JSON (the date is a string).
    const second = { computed: 0, now: () => ({ at: 'changed', title: 'new' }), fail: false };
    const restarted = new ConnectorRuntime([probe(second)], {
      actions: harness.repos.actions,
      logger: pino({ level: 'silent' }),
    });
    const outcome = await restarted.execute(action.id);
    expect(outcome.status).toBe('succeeded');
    expect(outcome.action.result).toEqual({ before: { at: '2026-11-25T09:00:00.000Z', title: 'old' } });
    expect(second.computed).toBe(0);
  });

  it('keeps the first value when two executions save one at once', async () => {
    const harness = await createConnectorHarness(await databases.open(), [
      probe({ computed: 0, now: () => null, fail: false }),
    ]);
    const action = await harness.store(
      { connector: 'probe', operation: 'change', params: { to: 'x' }, why: 't' },
      `k2-${kind}`,
    );
    expect(await harness.repos.actions.checkpoint(action.id, 'before')).toEqual({
      found: false,
      value: undefined,
    });
    expect(await harness.repos.actions.saveCheckpoint(action.id, 'before', { n: 1 })).toEqual({ n: 1 });
    expect(await harness.repos.actions.saveCheckpoint(action.id, 'before', { n: 2 })).toEqual({ n: 1 });
    expect(await harness.repos.actions.saveCheckpoint(action.id, 'other', null)).toBeNull();
    expect(await harness.repos.actions.checkpoint(action.id, 'other')).toEqual({ found: true, value: null });
  });
});
