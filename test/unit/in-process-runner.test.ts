import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { jobIdFor, type SpineJob } from '../../core/jobs.ts';
import { InProcessRunner, type InProcessRunnerOptions } from '../../jobs/in-process-runner.ts';

const logger = pino({ level: 'silent' });
const run = (goalId: number): SpineJob => ({ name: 'run-goal', data: { goalId } });
const resume = (goalId: number, approvalId: number): SpineJob => ({
  name: 'resume-goal',
  data: { goalId, approvalId },
});

/** A promise the test settles by hand. */
function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Jobs a test left running; finished after each test so `close()` (which waits for them) returns. */
const unfinished: Array<() => void> = [];

/** A handler that records every start and waits until the test finishes that job. */
function controlledHandler() {
  const started: string[] = [];
  const pending = new Map<string, ReturnType<typeof deferred>>();
  const key = (job: SpineJob) => {
    if (job.name === 'run-goal') return `run:${job.data.goalId}`;
    if (job.name === 'resume-goal') return `resume:${job.data.goalId}:${job.data.approvalId}`;
    return jobIdFor(job);
  };
  return {
    started,
    handler: (job: SpineJob) => {
      const d = deferred();
      started.push(key(job));
      pending.set(key(job), d);
      unfinished.push(d.resolve);
      return d.promise;
    },
    finish(name: string) {
      pending.get(name)?.resolve();
    },
    fail(name: string, error: unknown) {
      pending.get(name)?.reject(error);
    },
  };
}

const flush = () => vi.advanceTimersByTimeAsync(0);

describe('InProcessRunner', () => {
  const runners: InProcessRunner[] = [];
  function runner(options: Partial<InProcessRunnerOptions> & Pick<InProcessRunnerOptions, 'handler'>) {
    const created = new InProcessRunner({
      groupOf: (job) => ('goalId' in job.data ? job.data.goalId : job.name),
      logger,
      ...options,
    });
    runners.push(created);
    return created;
  }

  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(async () => {
    vi.useRealTimers();
    for (const resolve of unfinished.splice(0)) resolve();
    for (const created of runners.splice(0)) await created.close();
  });

  it('ignores a job id enqueued again while the job exists, and accepts it after it finished', async () => {
    const h = controlledHandler();
    const queue = runner({ handler: h.handler });
    await queue.enqueue(run(1));
    await queue.enqueue(run(1));
    await flush();
    await queue.enqueue(run(1));
    expect(h.started).toEqual(['run:1']);
    expect(queue.size).toBe(1);

    h.finish('run:1');
    await flush();
    expect(queue.size).toBe(0);
    await queue.enqueue(run(1));
    await flush();
    expect(h.started).toEqual(['run:1', 'run:1']);
  });

  it('runs one job per group at a time; other groups run alongside', async () => {
    const h = controlledHandler();
    const queue = runner({ handler: h.handler });
    await queue.enqueue(run(1));
    await queue.enqueue(resume(1, 5));
    await queue.enqueue(run(2));
    await flush();
    expect(h.started).toEqual(['run:1', 'run:2']);

    h.finish('run:2');
    await flush();
    expect(h.started).toEqual(['run:1', 'run:2']);

    h.finish('run:1');
    await flush();
    expect(h.started).toEqual(['run:1', 'run:2', 'resume:1:5']);
  });

  it('never runs more jobs at once than its concurrency', async () => {
    const h = controlledHandler();
    const queue = runner({ handler: h.handler, concurrency: 2 });
    for (const goalId of [1, 2, 3]) await queue.enqueue(run(goalId));
    await flush();
    expect(h.started).toEqual(['run:1', 'run:2']);
    h.finish('run:1');
    await flush();
    expect(h.started).toEqual(['run:1', 'run:2', 'run:3']);
  });

  it('retries with exponential backoff, then reports the failure once', async () => {
    const attemptsAt: number[] = [];
    const onFailed = vi.fn(async () => {});
    const failure = new Error('connector down');
    const queue = runner({
      handler: async () => {
        attemptsAt.push(Date.now());
        throw failure;
      },
      onFailed,
      attempts: 3,
      backoffMs: 100,
    });
    const start = Date.now();
    await queue.enqueue(run(1));
    await flush();
    expect(attemptsAt).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(99);
    expect(attemptsAt).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(attemptsAt).toHaveLength(2);

    // The second wait is twice as long.
    await vi.advanceTimersByTimeAsync(199);
    expect(attemptsAt).toHaveLength(2);
    expect(onFailed).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(attemptsAt.map((at) => at - start)).toEqual([0, 100, 300]);

    expect(onFailed).toHaveBeenCalledTimes(1);
    expect(onFailed).toHaveBeenCalledWith(run(1), failure);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(attemptsAt).toHaveLength(3);
    expect(queue.size).toBe(0);
  });

  it('keeps deduplicating a job while it waits for its retry', async () => {
    let calls = 0;
    const queue = runner({
      handler: async () => {
        calls += 1;
        if (calls === 1) throw new Error('first attempt fails');
      },
      backoffMs: 100,
    });
    await queue.enqueue(run(1));
    await flush();
    await queue.enqueue(run(1));
    await flush();
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(2);
    expect(queue.size).toBe(0);
  });

  it('does not call onFailed when a retry succeeds', async () => {
    let calls = 0;
    const onFailed = vi.fn(async () => {});
    const queue = runner({
      handler: async () => {
        calls += 1;
        if (calls < 3) throw new Error('flaky');
      },
      onFailed,
      attempts: 3,
      backoffMs: 10,
    });
    await queue.enqueue(run(1));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toBe(3);
    expect(onFailed).not.toHaveBeenCalled();
  });

  it('idle() resolves at once when empty, and only after every job (with its retries) is done', async () => {
    const h = controlledHandler();
    const queue = runner({ handler: h.handler, backoffMs: 50 });
    await expect(queue.idle()).resolves.toBeUndefined();

    await queue.enqueue(run(1));
    await queue.enqueue(run(2));
    let idle = false;
    void queue.idle().then(() => {
      idle = true;
    });
    await flush();
    h.finish('run:1');
    h.fail('run:2', new Error('retry me'));
    await flush();
    expect(idle).toBe(false);

    await vi.advanceTimersByTimeAsync(50);
    expect(h.started).toEqual(['run:1', 'run:2', 'run:2']);
    expect(idle).toBe(false);
    h.finish('run:2');
    await flush();
    expect(idle).toBe(true);
  });

  it('refuses new jobs once closed', async () => {
    const queue = runner({ handler: async () => {} });
    await queue.close();
    await expect(queue.enqueue(run(1))).rejects.toThrow('the job runner is closed');
  });
});
