import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { hasCode, SpineError } from '../../core/errors.ts';
import { jobGroupOf, type SpineJob } from '../../core/jobs.ts';
import { BullWorker } from '../../jobs/bullmq-worker.ts';
import { PostgresGroupLock } from '../../jobs/group-lock.ts';
import type { JobContext } from '../../jobs/job-handler.ts';
import { QUEUE_NAME } from '../../jobs/queue-names.ts';
import { RedisGroupLock } from '../../jobs/redis-group-lock.ts';
import { TEST_DATABASE_URL, uniqueSchema } from '../support/databases.ts';
import { deletePrefix, TEST_REDIS_URL, uniquePrefix, waitUntil } from '../support/queue-spine.ts';

/** A pino logger whose JSON lines the test can read. */
function recordingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

const GOAL_JOB: SpineJob = { name: 'run-goal', data: { goalId: 1 } };

describe('a job whose group lock is lost stops and is retried (real Redis)', () => {
  const cleanups: Array<() => Promise<unknown>> = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  function workerOn(
    prefix: string,
    handler: (job: SpineJob, context: JobContext) => Promise<void>,
    options: {
      onFailed?: (job: SpineJob, error: unknown) => Promise<void>;
      logger?: pino.Logger;
      jobLockMs?: number;
    } = {},
  ) {
    const worker = new BullWorker({
      redisUrl: TEST_REDIS_URL,
      prefix,
      concurrency: 1,
      lockDurationMs: options.jobLockMs ?? 30_000,
      stalledIntervalMs: options.jobLockMs ?? 30_000,
      maxStalledCount: 1,
      handler,
      onFailed: options.onFailed ?? (async () => {}),
      // A short group lease: renewed every 500 ms, so its loss is found soon.
      groupLock: new RedisGroupLock({ redisUrl: TEST_REDIS_URL, prefix, leaseMs: 1_000 }),
      logger: options.logger ?? pino({ level: 'silent' }),
      busyRetryMs: 50,
    });
    cleanups.push(() => worker.close());
    return worker;
  }

  function queueOn(prefix: string): Queue {
    const queue = new Queue(QUEUE_NAME, { connection: { url: TEST_REDIS_URL }, prefix });
    cleanups.push(async () => {
      await queue.close();
      await deletePrefix(prefix);
    });
    return queue;
  }

  /** A handler whose first run waits for its signal, ignoring it (the worst handler), and records every run. */
  function firstRunWaitsForItsSignal() {
    const runs: Array<{ signal: AbortSignal | undefined }> = [];
    const handler = async (_job: SpineJob, context: JobContext) => {
      runs.push({ signal: context.signal });
      if (runs.length > 1) return;
      await waitUntil(
        () => context.signal?.aborted === true,
        'the job to be told its lock is lost',
        20_000,
      ).catch(() => {});
    };
    return { runs, handler };
  }

  it.each([
    ['another worker took the group after the lease lapsed', 'overwrite'],
    ['the lease lapsed while the worker was frozen', 'delete'],
  ] as const)('stops and retries the job when %s', async (_case, how) => {
    const prefix = uniquePrefix();
    const queue = queueOn(prefix);
    const { logger, lines } = recordingLogger();
    const { runs, handler } = firstRunWaitsForItsSignal();
    workerOn(prefix, handler, { logger });
    const redis = new Redis(TEST_REDIS_URL);
    cleanups.push(async () => redis.disconnect());
    const job = await queue.add(GOAL_JOB.name, GOAL_JOB.data, {
      attempts: 3,
      backoff: { type: 'fixed', delay: 50 },
    });
    await waitUntil(() => runs.length === 1, 'the first run');
    const key = `${prefix}:group:${jobGroupOf(GOAL_JOB)}`;
    // Another worker's token is in the key for a while, or the key is gone.
    if (how === 'overwrite') await redis.set(key, 'another-worker', 'PX', 2_000);
    else await redis.del(key);
    await waitUntil(async () => (await job.getState()) === 'completed', 'the retried job to complete');
    // Failed once (not finished unguarded), then run again under a fresh lock.
    expect(runs).toHaveLength(2);
    const first = runs[0]?.signal;
    expect(first?.aborted).toBe(true);
    expect(hasCode(first?.reason, 'lease.lost')).toBe(true);
    expect(runs[1]?.signal?.aborted).toBe(false);
    const done = await queue.getJob(job.id ?? '');
    expect(done?.attemptsMade).toBeGreaterThanOrEqual(1);
    expect(lines.some((line) => line.msg === 'the job lost its lock: stopping it, to be retried')).toBe(true);
  });

  it('stops the job when BullMQ’s own job lock is lost, and the job runs again', async () => {
    const prefix = uniquePrefix();
    const queue = queueOn(prefix);
    const { runs, handler } = firstRunWaitsForItsSignal();
    // A short job lock (renewed every 500 ms) and stalled-job check, so the loss is seen soon.
    workerOn(prefix, handler, { jobLockMs: 1_000 });
    const redis = new Redis(TEST_REDIS_URL);
    cleanups.push(async () => redis.disconnect());
    const job = await queue.add(GOAL_JOB.name, GOAL_JOB.data, { attempts: 3 });
    await waitUntil(() => runs.length === 1, 'the first run');
    await redis.del(`${prefix}:${QUEUE_NAME}:${job.id}:lock`);
    await waitUntil(async () => (await job.getState()) === 'completed', 'the job to run again and complete');
    expect(runs).toHaveLength(2);
    expect(runs[0]?.signal?.aborted).toBe(true);
  });

  it('aborts a held lock whose renewal fails', async () => {
    const prefix = uniquePrefix();
    cleanups.push(() => deletePrefix(prefix));
    const lock = new RedisGroupLock({ redisUrl: TEST_REDIS_URL, prefix, leaseMs: 400 });
    const held = await lock.tryAcquire('goal-1');
    expect(held).not.toBeNull();
    // Its connection closes: the next renewal fails.
    await lock.close();
    await waitUntil(() => held?.signal.aborted === true, 'the held lock to be given up');
    expect(
      hasCode(held?.signal.reason, 'lease.renewal_failed') || hasCode(held?.signal.reason, 'lease.lapsed'),
    ).toBe(true);
    await held?.release();
  });

  it('logs and surfaces a failure that could not be recorded', async () => {
    const prefix = uniquePrefix();
    const queue = queueOn(prefix);
    const { logger, lines } = recordingLogger();
    workerOn(
      prefix,
      async () => {
        throw new SpineError('test.bad_input', 'the input is wrong', { category: 'user' });
      },
      {
        logger,
        onFailed: async () => {
          throw new Error('the database is away');
        },
      },
    );
    const job = await queue.add(GOAL_JOB.name, GOAL_JOB.data, { attempts: 1 });
    await waitUntil(async () => (await job.getState()) === 'failed', 'the job to fail');
    const failed = await queue.getJob(job.id ?? '');
    expect(failed?.failedReason).toContain('recording the failure failed: the database is away');
    const logged = lines.find(
      (line) => line.msg === 'recording the job failure failed: the operator was not told',
    );
    expect(logged?.level).toBe(50);
    expect(logged?.err).toContain('the database is away');
  });
});

describe('a job whose Postgres group lock connection breaks (server Postgres)', () => {
  it('aborts the held lock’s signal, and the group can be locked again', async () => {
    const schema = uniqueSchema('lock');
    const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 3 });
    pool.on('error', () => {});
    const lock = new PostgresGroupLock(pool, schema);
    try {
      const held = await lock.tryAcquire('goal-1');
      expect(held).not.toBeNull();
      // The server ends the lock's connection (a restart, a failover, an idle-session kill).
      const killed = await pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_locks
         WHERE locktype = 'advisory' AND classid = hashtext($1)::oid AND objid = hashtext($2)::oid`,
        [`spine-jobs:${schema}`, 'goal-1'],
      );
      expect(killed.rowCount).toBe(1);
      await waitUntil(() => held?.signal.aborted === true, 'the held lock to be given up');
      expect(hasCode(held?.signal.reason, 'lease.lost')).toBe(true);
      await held?.release();
      const again = await lock.tryAcquire('goal-1');
      expect(again).not.toBeNull();
      await again?.release();
    } finally {
      await lock.close();
      await pool.end();
    }
  });
});
