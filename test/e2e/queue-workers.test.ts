import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer } from '../../app/http-server.ts';
import { queueHealth } from '../../app/queue-commands.ts';
import { jobIdFor } from '../../core/jobs.ts';
import { FakeWebhookServer } from '../fakes/fake-webhook-server.ts';
import { SmtpSink } from '../fakes/smtp-sink.ts';
import { TestDatabases } from '../support/databases.ts';
import { freePort } from '../support/free-port.ts';
import { outboxFiles } from '../support/outbox.ts';
import { RedisProcess, WorkerProcess } from '../support/processes.ts';
import {
  createQueueSpine,
  deletePrefix,
  type QueueSpine,
  queueEnv,
  TEST_REDIS_URL,
  uniquePrefix,
  waitUntil,
} from '../support/queue-spine.ts';
import { smtpEnv, webhookSection, writeSpineConfig } from '../support/sink-config.ts';
import { runSpine } from '../support/spine-process.ts';

const WEBHOOK_SECRET = 'whsec-queue-workers-test-secret';

describe('queue mode with worker processes', () => {
  const databases = new TestDatabases('server');
  let workers: WorkerProcess[] = [];
  let spines: QueueSpine[] = [];
  let prefixes: string[] = [];
  let redisServers: RedisProcess[] = [];
  // Sinks that count every effect, for the processes of one test (closed after it).
  let sinks: Array<SmtpSink | FakeWebhookServer> = [];

  afterEach(async () => {
    for (const worker of workers) worker.kill('SIGKILL');
    for (const each of spines) await each.spine.close();
    for (const server of redisServers) await server.stop();
    for (const prefix of prefixes) await deletePrefix(prefix);
    for (const sink of sinks) await (sink instanceof SmtpSink ? sink.close() : sink.stop());
    workers = [];
    spines = [];
    prefixes = [];
    redisServers = [];
    sinks = [];
    await databases.closeAll();
  });

  /** An SMTP server that keeps every message: the outbox's <key>.eml would hide a repeat. */
  async function smtpSink(): Promise<SmtpSink> {
    const sink = new SmtpSink();
    sinks.push(sink);
    await sink.start();
    return sink;
  }

  /**
   * A webhook receiver that ignores Idempotency-Key (every request is an effect) and the env of a
   * Spine that calls it without an approval card (`call crm {…}`).
   */
  async function countingReceiver(): Promise<{ receiver: FakeWebhookServer; env: Record<string, string> }> {
    const receiver = new FakeWebhookServer(WEBHOOK_SECRET, { honoursIdempotencyKey: false });
    sinks.push(receiver);
    const url = `${await receiver.start()}/leads`;
    const config = writeSpineConfig(
      webhookSection({ name: 'crm', url, secretVariable: 'TEST_CRM_SECRET', risk: 'read' }),
    );
    return { receiver, env: { SPINE_CONFIG: config, TEST_CRM_SECRET: WEBHOOK_SECRET } };
  }

  /** `env`: for every process of the test (main and workers), e.g. a spine.config.yaml. */
  async function setup(options: { redisUrl?: string; env?: Record<string, string> } = {}) {
    const db = await databases.open();
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const dataDir = mkdtempSync(join(tmpdir(), 'spine-workers-'));
    const shared = options.env ?? {};
    const main = await createQueueSpine(db, {
      prefix,
      role: 'main',
      env: { SPINE_DATA_DIR: dataDir, ...shared },
      ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
    });
    spines.push(main);
    const startWorker = async (extra: Record<string, string> = {}) => {
      const worker = new WorkerProcess(
        queueEnv({
          schema: db.schema,
          prefix,
          dataDir,
          ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
          extra: { LOG_LEVEL: 'info', ...shared, ...extra },
        }),
      );
      workers.push(worker);
      await worker.ready();
      return worker;
    };
    return { db, prefix, dataDir, main, startWorker, env: shared };
  }

  // This one stays on the file outbox on purpose: it is the case of a transport idempotent by key
  // (the second worker's delivery finds <key>.eml and writes nothing). Over SMTP, which has no key,
  // the same kill makes the outcome unknown instead: that belongs to the fault-injection cases.
  it('finishes a job on another worker after kill -9 mid-job, and sends the e-mail once', async () => {
    // The killed worker's claim on the action lapses after its lease (a minute by default): short here.
    const { db, dataDir, main, startWorker } = await setup({
      env: { SPINE_CONFIG: writeSpineConfig('resilience:\n  leaseSeconds: 2') },
    });
    // Worker A pauses right after the connector call, before Spine records it: killed right there.
    const first = await startWorker({
      SPINE_WORKER_TEST_HOLD_STEP: 'connector',
      SPINE_WORKER_TEST_HOLD_MS: '60000',
    });
    await main.send('email dana@example.com "Contract" Signed copy attached.');
    await waitUntil(
      () => main.chat.texts().some((text) => text.startsWith('Approval #1 needed')),
      'the card',
    );
    await main.send('approve');
    await waitUntil(() => outboxFiles(join(dataDir, 'outbox')).length === 1, 'the e-mail to be sent');
    first.kill('SIGKILL');
    expect(await first.exited()).toBeNull();
    expect(main.chat.texts().some((text) => text.startsWith('Done: sent'))).toBe(false);

    await startWorker();
    await waitUntil(
      () => main.chat.texts().some((text) => text.startsWith('Done: sent an e-mail to dana@example.com')),
      'the reply from the second worker',
      45_000,
    );
    expect(outboxFiles(join(dataDir, 'outbox'))).toHaveLength(1);
    const sent = await db.pool.query(`SELECT count(*)::int AS n FROM events WHERE verb = 'sent'`);
    expect(sent.rows[0].n).toBe(1);
    const actions = await db.pool.query(`SELECT status FROM actions WHERE connector = 'email'`);
    expect(actions.rows).toEqual([{ status: 'succeeded' }]);
    expect(main.chat.texts().filter((text) => text.startsWith('Done: sent'))).toHaveLength(1);
    // The reply goes out just before the goal is marked done.
    await waitUntil(
      async () => (await db.pool.query(`SELECT 1 FROM goals WHERE status = 'done'`)).rows.length === 1,
      'the goal to be done',
    );
  });

  it('shows a card a worker posted while no main process ran, once, and updates it after another restart', async () => {
    const smtp = await smtpSink();
    const { db, prefix, dataDir, main: first, startWorker, env } = await setup({ env: smtpEnv(smtp) });
    const startMain = async () => {
      const main = await createQueueSpine(db, {
        prefix,
        role: 'main',
        env: { SPINE_DATA_DIR: dataDir, ...env },
      });
      spines.push(main);
      return main;
    };
    // The goal is recorded and enqueued, then the main process goes away before any worker runs.
    await first.send('email dana@example.com "Contract" Signed copy attached.');
    await first.spine.close();
    await startWorker();
    await waitUntil(
      async () =>
        (
          await db.pool.query(
            `SELECT 1 FROM chat_outbox WHERE message ->> 'text' LIKE 'Approval #1 needed%' AND delivered_at IS NULL`,
          )
        ).rows.length === 1,
      'the card in the outbox',
    );

    const second = await startMain();
    await second.spine.settle();
    expect(second.chat.texts().filter((text) => text.startsWith('Approval #1 needed'))).toHaveLength(1);
    const card = second.chat.posts.find((post) => post.message.text.startsWith('Approval #1 needed'))?.ref;
    await second.spine.close();

    // A third process (its adapter numbers messages anew) updates the card the second one showed.
    const third = await startMain();
    await third.send('approve');
    await waitUntil(
      () => third.chat.texts().some((text) => text.startsWith('Done: sent an e-mail to dana@example.com')),
      'the reply after the approval',
    );
    expect(card).toBeDefined();
    expect(third.chat.updates.map((update) => update.ref)).toContainEqual(card);
    expect(third.chat.texts().some((text) => text.startsWith('Approval #1 needed'))).toBe(false);
    expect(smtp.accepted).toHaveLength(1);
  });

  it('finishes the running job on SIGTERM, then exits 0', async () => {
    const { main, startWorker } = await setup();
    const worker = await startWorker({ SPINE_WORKER_TEST_HOLD_MS: '3000' });
    await main.send('remember that the lease ends in March');
    await waitUntil(() => main.chat.texts().length > 0, 'the reply');
    worker.kill('SIGTERM');
    expect(await worker.exited()).toBe(0);
    expect(worker.output).toContain('shutting down');
    const state = await main.spine.queueMode?.queue.queue.getJobState(
      jobIdFor({ name: 'run-goal', data: { goalId: 1 } }),
    );
    expect(state).toBe('completed');
  });

  it('fails /healthz when Redis may evict keys, and reports database, Redis, workers and adapters', async () => {
    const port = await freePort();
    const redis = new RedisProcess(port);
    redisServers.push(redis);
    await redis.start();
    const redisUrl = `redis://127.0.0.1:${port}`;
    const { db, prefix, main } = await setup({ redisUrl });
    const worker = await createQueueSpine(db, { prefix, role: 'worker', redisUrl });
    spines.push(worker);
    const server = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      db: main.spine.db,
      logger: pino({ level: 'silent' }),
      health: queueHealth(main.spine),
    });
    try {
      const address = server.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/healthz`;
      await waitUntil(
        async () => ((await (await fetch(url)).json()) as { workers: number }).workers === 1,
        'the worker to register',
      );
      const healthy = await fetch(url);
      expect(healthy.status).toBe(200);
      expect(await healthy.json()).toEqual({
        status: 'ok',
        database: 'ok',
        databaseKind: 'server',
        mode: 'queue',
        redis: 'ok',
        redisMaxmemoryPolicy: 'noeviction',
        workers: 1,
        adapters: ['console'],
      });
      const admin = new Redis(redisUrl);
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
      admin.disconnect();
      const evicting = await fetch(url);
      expect(evicting.status).toBe(503);
      const body = (await evicting.json()) as Record<string, unknown>;
      expect(body.status).toBe('degraded');
      expect(body.redisMaxmemoryPolicy).toBe('allkeys-lru');
      expect(String(body.problem)).toContain('set maxmemory-policy noeviction');
      await redis.stop();
      const down = await fetch(url);
      expect(down.status).toBe(503);
      expect(((await down.json()) as Record<string, unknown>).redis).toBe('unreachable');
      await redis.start();
      // The worker reconnects by itself once Redis is back.
      await waitUntil(async () => (await fetch(url)).status === 200, 'health after Redis is back', 30_000);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('answers `spine chat` in queue mode from a worker process', async () => {
    const { db, prefix, dataDir, main, startWorker } = await setup();
    // Only the `spine chat` process may deliver replies here (one chat process takes each message).
    await main.spine.close();
    await startWorker();
    const run = await runSpine(
      ['chat'],
      'remember that the van is blue\nwhat do you know about the van?\ndigest\n',
      queueEnv({ schema: db.schema, prefix, dataDir }),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Got it — I remembered “the van is blue”.');
    expect(run.stdout).toMatch(/the van is blue — you told me in the console/);
    expect(run.stdout).toContain('Your digest so far, Ada');
  });

  it('processes every goal exactly once when the Redis server restarts while messages arrive', async () => {
    const port = await freePort();
    const redis = new RedisProcess(port);
    redisServers.push(redis);
    await redis.start();
    const redisUrl = `redis://127.0.0.1:${port}`;
    // Memories collapse a goal that ran twice; each item also calls a receiver that counts every request.
    const { receiver, env } = await countingReceiver();
    const { db, main, startWorker } = await setup({ redisUrl, env });
    await main.spine.startBackground();
    await startWorker();
    const item = async (n: number, colour: string) => {
      await main.send(`remember that item ${n} is ${colour}`);
      await main.send(`call crm {"item":${n}}`);
    };
    await item(1, 'blue');
    await item(2, 'green');
    await waitUntil(() => main.chat.texts().length >= 4, 'the first replies');

    await redis.stop();
    // Ingress keeps recording goals in Postgres while Redis is away.
    for (const n of [3, 4, 5]) await item(n, 'red');
    const recorded = await db.pool.query('SELECT count(*)::int AS n FROM goals');
    expect(recorded.rows[0].n).toBe(10);

    await redis.start();
    await waitUntil(() => main.chat.texts().length >= 10, 'every reply after the restart', 45_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const texts = main.chat.texts();
    for (const n of [1, 2, 3, 4, 5]) {
      // Each goal confirmed once (a later reply may quote an earlier item as a related memory).
      expect(texts.filter((text) => text.includes(`I remembered “item ${n} is`))).toHaveLength(1);
      // …and each call made once, counted where it lands.
      expect(receiver.committed.filter((effect) => effect.body === `{"item":${n}}`)).toHaveLength(1);
    }
    expect(receiver.requests).toHaveLength(5);
    const goals = await db.pool.query(`SELECT status, count(*)::int AS n FROM goals GROUP BY status`);
    expect(goals.rows).toEqual([{ status: 'done', n: 10 }]);
    const memories = await db.pool.query(`SELECT count(*)::int AS n FROM memories WHERE kind = 'fact'`);
    expect(memories.rows[0].n).toBe(5);
  });
});

describe('queue mode from the command line', () => {
  it('exits at once with a clear message when REDIS_URL is set without DATABASE_URL', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'spine-noqueue-'));
    const run = await runSpine(['worker'], '', {
      REDIS_URL: 'redis://127.0.0.1:6379',
      SPINE_DATA_DIR: dataDir,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('REDIS_URL is set (queue mode) but DATABASE_URL is not');
    expect(run.stderr).toContain('set DATABASE_URL');
  });

  it('shows jobs per state and failed jobs with their reasons with `spine queue`', async () => {
    const databases = new TestDatabases('server');
    const db = await databases.open();
    const prefix = uniquePrefix();
    try {
      const main = await createQueueSpine(db, { prefix, role: 'main' });
      // A job that fails for good, from a bare BullMQ worker on the same queue.
      const failing = new Worker(
        'jobs',
        async () => {
          throw new UnrecoverableError('the mail server said no');
        },
        { connection: { url: TEST_REDIS_URL, maxRetriesPerRequest: null }, prefix },
      );
      await main.spine.queueMode?.queue.queue.add('probe', {}, { jobId: 'probe-1' });
      await waitUntil(
        async () => (await main.spine.queueMode?.queue.queue.getFailedCount()) === 1,
        'the failure',
      );
      await failing.close();
      await main.spine.close();
      const run = await runSpine(['queue'], '', queueEnv({ schema: db.schema, prefix }));
      expect(run.stderr).toBe('');
      expect(run.stdout).toMatch(
        /^Jobs: waiting \d+, active \d+, delayed \d+, prioritized \d+, completed \d+, failed \d+/,
      );
      expect(run.stdout).toContain('Workers: 0');
      expect(run.stdout).toContain('failed 1');
      expect(run.stdout).toContain('Failed jobs:\n  probe-1 (probe, 1 attempts): the mail server said no');
    } finally {
      await deletePrefix(prefix);
      await databases.closeAll();
    }
  });
});
