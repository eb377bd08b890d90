import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.ts';
import type { Repositories } from '../../db/repositories/index.ts';
import { ActionScheduler } from '../../jobs/action-scheduler.ts';

describe('in-process timer of delayed execution', () => {
  it('checks at start, sleeps until the soonest scheduled time, checks again, and stops', async () => {
    const clock = new ManualClock(new Date());
    let calls = 0;
    let secondCheck: () => void = () => {};
    const secondCheckDone = new Promise<void>((resolve) => {
      secondCheck = resolve;
    });
    // The soonest action is due 30 ms from now; the fallback sleep is an hour, so only the
    // scheduled time can wake the timer before the test times out.
    const repos = {
      connectorState: { nextDueAt: async () => new Date(clock.now().getTime() + 30) },
    } as unknown as Repositories;
    const scheduler = new ActionScheduler({
      repos,
      clock,
      logger: pino({ level: 'silent' }),
      maxSleepMs: 3_600_000,
      runDue: async () => {
        calls += 1;
        if (calls === 2) secondCheck();
        return 0;
      },
    });
    scheduler.start();
    await secondCheckDone;
    await scheduler.stop();
    const afterStop = calls;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(afterStop).toBeGreaterThanOrEqual(2);
    expect(calls).toBe(afterStop);
  });
});
