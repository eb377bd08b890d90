import pino from 'pino';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../core/clock.ts';
import type { Action } from '../../core/domain.ts';
import { runDueActions } from '../../graphs/agents/scheduled-actions.ts';
import type { GoalGraphDeps } from '../../graphs/goal/deps.ts';

const executed: number[] = [];
let onExecute: () => void = () => {};

// The executor is the side effect counted here: which due actions the check went on to run.
vi.mock('../../graphs/agents/executor.ts', () => ({
  executeAction: async (_deps: unknown, action: Action) => {
    executed.push(action.id);
    onExecute();
    return { actionId: action.id, status: 'succeeded', summary: `ran #${action.id}` };
  },
}));

describe('the due-check after its lease is lost', () => {
  beforeEach(() => {
    executed.length = 0;
  });

  it('takes no further action once its signal aborts', async () => {
    const due = [1, 2, 3].map((id) => ({ id, goalId: id, operatorId: 1 }) as unknown as Action);
    const deps = {
      repos: {
        connectorState: { listDue: async () => due },
        goals: { get: async () => null },
      },
      clock: new ManualClock(new Date()),
      logger: pino({ level: 'silent' }),
    } as unknown as GoalGraphDeps;
    const lease = new AbortController();
    // The lease is lost while the first action runs.
    onExecute = () => lease.abort(new Error('lease lost'));
    expect(await runDueActions(deps, lease.signal)).toBe(1);
    expect(executed).toEqual([1]);
  });
});
