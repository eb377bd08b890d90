import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RecoveryLoop } from '../../app/queue-mode.ts';

const SETTLE_MS = 100;
const HOUR = 3_600_000;
const logger = pino({ level: 'silent' });

/** A recovery sweep the test finishes by hand, counting how many run at once. */
function heldSweeps() {
  const releases: Array<() => void> = [];
  let running = 0;
  const state = { calls: 0, mostAtOnce: 0 };
  const tick = async () => {
    state.calls += 1;
    running += 1;
    state.mostAtOnce = Math.max(state.mostAtOnce, running);
    await new Promise<void>((resolve) => releases.push(resolve));
    running -= 1;
  };
  const finishAll = async () => {
    while (releases.length > 0) {
      releases.shift()?.();
      await vi.advanceTimersByTimeAsync(0);
    }
  };
  return { tick, state, finishAll };
}

describe('the recovery loop of a queue-mode process', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sweeps once after a flapping connection settles, not once per reconnection', async () => {
    const loop = new RecoveryLoop(logger, SETTLE_MS);
    const tick = vi.fn(async () => 0);
    loop.start(HOUR, tick, logger);
    for (let flap = 0; flap < 5; flap += 1) {
      loop.reconnected();
      await vi.advanceTimersByTimeAsync(SETTLE_MS / 2);
      loop.disconnected();
    }
    expect(tick).not.toHaveBeenCalled();
    loop.reconnected();
    loop.reconnected();
    await vi.advanceTimersByTimeAsync(SETTLE_MS);
    expect(tick).toHaveBeenCalledTimes(1);
    await loop.close();
  });

  it('never sweeps twice at once, and sweeps once more after a reconnection during a sweep', async () => {
    const loop = new RecoveryLoop(logger, SETTLE_MS);
    const sweeps = heldSweeps();
    loop.start(HOUR, sweeps.tick, logger);
    loop.reconnected();
    await vi.advanceTimersByTimeAsync(SETTLE_MS);
    expect(sweeps.state.calls).toBe(1);
    // Redis drops and comes back twice while the first sweep runs, and the timer fires.
    for (let again = 0; again < 2; again += 1) {
      loop.disconnected();
      loop.reconnected();
      await vi.advanceTimersByTimeAsync(SETTLE_MS);
    }
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(sweeps.state.calls).toBe(1);
    await sweeps.finishAll();
    expect(sweeps.state.calls).toBe(2);
    expect(sweeps.state.mostAtOnce).toBe(1);
    await loop.close();
  });

  it('sweeps at start when Redis came back before the sweeps were started', async () => {
    const loop = new RecoveryLoop(logger, SETTLE_MS);
    loop.reconnected();
    await vi.advanceTimersByTimeAsync(SETTLE_MS);
    const tick = vi.fn(async () => 0);
    loop.start(HOUR, tick, logger);
    await vi.advanceTimersByTimeAsync(0);
    expect(tick).toHaveBeenCalledTimes(1);
    await loop.close();
  });

  it('keeps sweeping after a failed sweep', async () => {
    const loop = new RecoveryLoop(logger, SETTLE_MS);
    const tick = vi.fn(async () => {
      throw new Error('database unavailable');
    });
    loop.start(HOUR, tick, logger);
    loop.reconnected();
    await vi.advanceTimersByTimeAsync(SETTLE_MS);
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(tick).toHaveBeenCalledTimes(2);
    await loop.close();
  });

  it('waits for a sweep under way when closed, and starts none after', async () => {
    const loop = new RecoveryLoop(logger, SETTLE_MS);
    const sweeps = heldSweeps();
    loop.start(HOUR, sweeps.tick, logger);
    loop.reconnected();
    await vi.advanceTimersByTimeAsync(SETTLE_MS);
    let closed = false;
    const closing = loop.close().then(() => {
      closed = true;
    });
    loop.reconnected();
    await vi.advanceTimersByTimeAsync(SETTLE_MS);
    expect(closed).toBe(false);
    await sweeps.finishAll();
    await closing;
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(sweeps.state.calls).toBe(1);
  });
});
