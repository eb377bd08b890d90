import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.ts';
import { jobIdFor } from '../../core/jobs.ts';
import { enqueueDueDigests } from '../../jobs/digest-schedule.ts';
import { FakeWebhookServer } from '../fakes/fake-webhook-server.ts';
import { TestDatabases } from '../support/databases.ts';
import {
  createQueueSpine,
  deletePrefix,
  type QueueSpine,
  uniquePrefix,
  waitUntil,
} from '../support/queue-spine.ts';
import { webhookSection, writeSpineConfig } from '../support/sink-config.ts';

const WEBHOOK_SECRET = 'whsec-queue-mode-test-secret';

describe('queue mode on BullMQ (real Redis, server Postgres)', () => {
  const databases = new TestDatabases('server');
  let spines: QueueSpine[] = [];
  let prefixes: string[] = [];
  let receivers: FakeWebhookServer[] = [];

  afterEach(async () => {
    for (const each of spines) await each.spine.close();
    for (const prefix of prefixes) await deletePrefix(prefix);
    for (const receiver of receivers) await receiver.stop();
    spines = [];
    prefixes = [];
    receivers = [];
    await databases.closeAll();
  });

  async function start(
    role: 'main' | 'worker',
    db: Awaited<ReturnType<TestDatabases['open']>>,
    prefix: string,
    clock?: ManualClock,
    env?: Record<string, string>,
  ) {
    const each = await createQueueSpine(db, {
      prefix,
      role,
      ...(clock ? { clock } : {}),
      ...(env ? { env } : {}),
    });
    spines.push(each);
    return each;
  }

  /**
   * A webhook receiver that ignores Idempotency-Key, so every request is an effect, and the env of
   * a Spine that calls it without approval (`call crm {…}`). Memories collapse a repeated goal;
   * this receiver shows one.
   */
  async function countingReceiver(): Promise<{ receiver: FakeWebhookServer; env: Record<string, string> }> {
    const receiver = new FakeWebhookServer(WEBHOOK_SECRET, { honoursIdempotencyKey: false });
    receivers.push(receiver);
    const url = `${await receiver.start()}/leads`;
    const config = writeSpineConfig(
      webhookSection({ name: 'crm', url, secretVariable: 'TEST_CRM_SECRET', risk: 'read' }),
    );
    return { receiver, env: { SPINE_CONFIG: config, TEST_CRM_SECRET: WEBHOOK_SECRET } };
  }

  function freshPrefix(): string {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    return prefix;
  }

  it('enqueues in the main process; a worker runs the goal and its reply reaches the chat process', async () => {
    const db = await databases.open();
    const prefix = freshPrefix();
    const main = await start('main', db, prefix);
    await start('worker', db, prefix);
    await main.send('remember that the office code is 4521');
    await main.spine.settle();
    await waitUntil(() => main.chat.texts().length > 0, 'the reply');
    expect(main.chat.texts()).toEqual(['Got it — I remembered “the office code is 4521”.']);
    const state = await main.spine.queueMode?.queue.queue.getJobState(
      jobIdFor({ name: 'run-goal', data: { goalId: 1 } }),
    );
    expect(state).toBe('completed');
  });

  it('loses no goal when Redis is flushed: they are re-enqueued from Postgres', async () => {
    const db = await databases.open();
    const prefix = freshPrefix();
    const { receiver, env } = await countingReceiver();
    const main = await start('main', db, prefix, undefined, env);
    for (const fact of ['one', 'two', 'three']) await main.send(`remember that fact ${fact} holds`);
    await main.send('call crm {"fact":"four"}');
    expect(await main.spine.queueMode?.queue.queue.getWaitingCount()).toBe(4);
    expect(await deletePrefix(prefix)).toBeGreaterThan(0);
    expect(await main.spine.queueMode?.queue.queue.getWaitingCount()).toBe(0);

    await start('worker', db, prefix, undefined, env);
    expect(await main.spine.recover()).toBe(4);
    await main.spine.settle();
    await waitUntil(() => main.chat.texts().length >= 4, 'four replies');
    const goals = await db.pool.query(`SELECT status, count(*)::int AS n FROM goals GROUP BY status`);
    expect(goals.rows).toEqual([{ status: 'done', n: 4 }]);
    expect([...main.chat.texts()].sort()).toEqual([
      'Done: called the crm webhook.',
      'Got it — I remembered “fact one holds”.',
      'Got it — I remembered “fact three holds”.',
      'Got it — I remembered “fact two holds”.',
    ]);
    const memories = await db.pool.query(`SELECT count(*)::int AS n FROM memories WHERE kind = 'fact'`);
    expect(memories.rows[0].n).toBe(3);
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.committed.map((effect) => effect.body)).toEqual(['{"fact":"four"}']);
  });

  for (const lock of ['redis', 'postgres'] as const) {
    it(`sends one digest when two workers and two schedulers race on the same date (${lock} group lock)`, async () => {
      const db = await databases.open();
      const prefix = freshPrefix();
      const clock = new ManualClock(new Date(Date.now() - 3 * 86_400_000));
      const mainA = await start('main', db, prefix, clock);
      const mainB = await start('main', db, prefix, clock);
      await start('worker', db, prefix, clock, { SPINE_GROUP_LOCK: lock });
      await start('worker', db, prefix, clock, { SPINE_GROUP_LOCK: lock });
      clock.set(new Date());
      const operator = (await mainA.spine.repos.digests.operators())[0]!;
      // Two schedulers for the same operator, and both main processes' digest checks.
      await mainA.spine.queueMode?.queue.upsertDigestScheduler(operator);
      await mainB.spine.queueMode?.queue.upsertDigestScheduler(operator);
      const { logger } = mainA.spine;
      await Promise.all([
        enqueueDueDigests({ repos: mainA.spine.repos, queue: mainA.spine.jobs, clock, logger }),
        enqueueDueDigests({ repos: mainB.spine.repos, queue: mainB.spine.jobs, clock, logger }),
        enqueueDueDigests({ repos: mainB.spine.repos, queue: mainB.spine.jobs, clock, logger }),
      ]);
      // And two jobs under other ids for the same date (a scheduler from an older release), run at once.
      const localDate = (await mainA.spine.repos.digests.operators()).length > 0 ? dueDate(operator) : '';
      const queue = mainA.spine.queueMode!.queue.queue;
      await Promise.all([
        queue.add('send-digest', { operatorId: operator.id, localDate }, { jobId: 'race-a' }),
        queue.add('send-digest', { operatorId: operator.id, localDate }, { jobId: 'race-b' }),
      ]);
      await mainA.spine.settle();
      await mainB.spine.settle();
      await waitUntil(
        () => [...mainA.chat.texts(), ...mainB.chat.texts()].some((text) => text.includes('your digest for')),
        'the digest',
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      const digests = await mainA.spine.repos.digests.list(operator.id);
      expect(digests.map((digest) => [digest.localDate, digest.status])).toEqual([[localDate, 'sent']]);
      const posts = [...mainA.chat.texts(), ...mainB.chat.texts()].filter((text) =>
        text.includes('your digest for'),
      );
      expect(posts).toHaveLength(1);
      expect(await queue.getJobSchedulersCount()).toBeGreaterThanOrEqual(1);
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers.filter((scheduler) => scheduler.key === `digest-${operator.id}`)).toHaveLength(1);
    });
  }
});

function dueDate(operator: { timezone: string; digestTime: string }): string {
  const now = new Date();
  const local = new Intl.DateTimeFormat('en-CA', { timeZone: operator.timezone }).format(now);
  const [hour, minute] = operator.digestTime.split(':').map(Number) as [number, number];
  const wall = new Intl.DateTimeFormat('en-GB', {
    timeZone: operator.timezone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(now);
  const [nowHour, nowMinute] = wall.split(':').map(Number) as [number, number];
  if (nowHour * 60 + nowMinute >= hour * 60 + minute) return local;
  return new Date(new Date(`${local}T12:00:00Z`).getTime() - 86_400_000).toISOString().slice(0, 10);
}
