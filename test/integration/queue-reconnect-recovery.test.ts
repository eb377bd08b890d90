import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { TestDatabases } from '../support/databases.ts';
import { freePort } from '../support/free-port.ts';
import { RedisProcess } from '../support/processes.ts';
import {
  createQueueSpine,
  deletePrefix,
  type QueueSpine,
  TEST_REDIS_URL,
  uniquePrefix,
  waitUntil,
} from '../support/queue-spine.ts';

/**
 * The periodic sweep is an hour away in these tests: only the recovery that runs when Redis
 * reconnects can resume the decided approval in time.
 */
const SLOW_SWEEPS = { SPINE_RECOVERY_INTERVAL_MS: '3600000', SPINE_DIGEST_CHECK_MS: '3600000' };

describe('queue mode recovers as soon as Redis comes back (real Redis, server Postgres)', () => {
  const databases = new TestDatabases('server');
  let spines: QueueSpine[] = [];
  let redisServers: RedisProcess[] = [];
  let prefixes: string[] = [];

  afterEach(async () => {
    for (const each of spines) await each.spine.close();
    for (const redis of redisServers) await redis.stop();
    for (const prefix of prefixes) await deletePrefix(prefix);
    spines = [];
    redisServers = [];
    prefixes = [];
    await databases.closeAll();
  });

  async function startPair(redisUrl: string) {
    const db = await databases.open();
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const options = { prefix, redisUrl, env: SLOW_SWEEPS };
    const main = await createQueueSpine(db, { ...options, role: 'main' });
    spines.push(main);
    const worker = await createQueueSpine(db, { ...options, role: 'worker' });
    spines.push(worker);
    await main.spine.startBackground();
    return { db, prefix, main };
  }

  /** Ask for an e-mail and wait until its approval card waits for the operator. */
  async function parkAtApproval(main: QueueSpine, to: string) {
    await main.send(`email ${to} "Back" Sent once Redis is back.`);
    let approval: { id: number; actionId: number; goalId: number } | undefined;
    await waitUntil(async () => {
      [approval] = await main.spine.repos.approvals.listPending(main.spine.operator.id);
      return approval !== undefined;
    }, 'the approval card');
    // The run-goal job has finished (the row says so, the queue is idle): only the resume is left.
    await waitUntil(
      async () => (await main.spine.repos.goals.get(approval!.goalId))?.status === 'awaiting_approval',
      'the goal parked at its approval',
    );
    await main.spine.settle();
    return approval!;
  }

  async function waitUntilSent(main: QueueSpine, approval: { actionId: number; goalId: number }) {
    const { repos } = main.spine;
    await waitUntil(
      async () => (await repos.goals.get(approval.goalId))?.status === 'done',
      'the goal resumed and finished after Redis came back',
      40_000,
    );
    expect((await repos.actions.get(approval.actionId))?.status).toBe('succeeded');
    const sent = await main.spine.db.pool.query(`SELECT count(*)::int AS n FROM events WHERE verb = 'sent'`);
    expect(sent.rows[0].n).toBe(1);
  }

  it('resumes an approval decided while Redis was down once it restarts empty', async () => {
    const redis = new RedisProcess(await freePort());
    redisServers.push(redis);
    await redis.start();
    const { main } = await startPair(`redis://127.0.0.1:${redis.port}`);
    const approval = await parkAtApproval(main, 'erin@example.com');

    await redis.stop();
    // Decided in Postgres; the resume cannot be enqueued while Redis is away (logged, left to recovery).
    const outcome = await main.spine.intake.decide({
      approvalId: approval.id,
      decision: 'approved',
      channel: 'console',
      userId: 'local',
    });
    expect(outcome.kind).toBe('decided');
    // Restarted without persistence: it comes back empty.
    await redis.start();
    await waitUntilSent(main, approval);
  });

  it('resumes a decided approval whose job Redis lost, when the queue connection drops and reconnects', async () => {
    const { prefix, main } = await startPair(TEST_REDIS_URL);
    const approval = await parkAtApproval(main, 'fay@example.com');

    // Redis lost this queue's keys, and the decision's resume never reached it.
    await deletePrefix(prefix);
    await main.spine.repos.approvals.decide(approval.id, 'approved', 'console:local', 'console', new Date());
    await main.spine.settle();
    expect((await main.spine.repos.goals.get(approval.goalId))?.status).toBe('awaiting_approval');

    // Drop only the main process's queue connection (the shared Redis serves other tests too).
    const client = (await main.spine.queueMode!.queue.queue.getBackend().client) as unknown as Redis;
    const id = Number(await client.client('ID'));
    const admin = new Redis(TEST_REDIS_URL);
    try {
      expect(await admin.client('KILL', 'ID', id)).toBe(1);
    } finally {
      admin.disconnect();
    }
    await waitUntilSent(main, approval);
  });
});
