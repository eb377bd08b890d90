import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.ts';
import { wallClock } from '../../core/local-time.ts';
import { enqueueDueDigests } from '../../jobs/digest-schedule.ts';
import { TestDatabases } from '../support/databases.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

const silent = pino({ level: 'silent' });
const databases = new TestDatabases('server');
const running: TestSpine[] = [];

afterAll(async () => {
  for (const test of running) await test.spine.close();
  await databases.closeAll();
});

async function spineAt(
  clock: ManualClock,
  env: Record<string, string>,
  db?: Awaited<ReturnType<TestDatabases['open']>>,
) {
  const test = await createTestSpine(db ?? (await databases.open()), { clock, env });
  running.push(test);
  return test;
}

function digestPosts(test: TestSpine): string[] {
  return test.chat.texts().filter((text) => /your digest for/.test(text));
}

/** Run the in-process digest check every `stepMinutes` from `from` to `to`, as the timer does. */
async function runDays(test: TestSpine, clock: ManualClock, to: string, stepMinutes: number): Promise<void> {
  const end = new Date(to).getTime();
  while (clock.now().getTime() < end) {
    clock.advance(stepMinutes * 60_000);
    await enqueueDueDigests({ repos: test.spine.repos, queue: test.spine.jobs, clock, logger: silent });
    await test.spine.runner.idle();
  }
}

const transitions = [
  {
    timezone: 'America/New_York',
    change: 'spring forward',
    day: '2026-03-08',
    from: '2026-03-06T00:00:00Z',
    to: '2026-03-11T00:00:00Z',
  },
  {
    timezone: 'America/New_York',
    change: 'fall back',
    day: '2026-11-01',
    from: '2026-10-30T00:00:00Z',
    to: '2026-11-04T00:00:00Z',
  },
  {
    timezone: 'Europe/Berlin',
    change: 'spring forward',
    day: '2026-03-29',
    from: '2026-03-27T00:00:00Z',
    to: '2026-04-01T00:00:00Z',
  },
  {
    timezone: 'Europe/Berlin',
    change: 'fall back',
    day: '2026-10-25',
    from: '2026-10-23T00:00:00Z',
    to: '2026-10-28T00:00:00Z',
  },
];

describe('daily digest with a fake clock', () => {
  for (const { timezone, change, day, from, to } of transitions) {
    for (const time of ['08:00', '02:30']) {
      it(`sends exactly one digest per local date across ${change} in ${timezone} at ${time}`, async () => {
        const clock = new ManualClock(from);
        const test = await spineAt(clock, { SPINE_TIMEZONE: timezone, SPINE_DIGEST_TIME: time });
        await runDays(test, clock, to, 10);
        const digests = await test.spine.repos.digests.list(test.spine.operator.id);
        const dates = digests.map((digest) => digest.localDate);
        // Consecutive local dates, each once, over the change: none skipped, none repeated.
        const expected: string[] = [];
        for (let next = new Date(`${dates[0]}T12:00:00Z`); expected.length < dates.length; ) {
          expected.push(next.toISOString().slice(0, 10));
          next = new Date(next.getTime() + 86_400_000);
        }
        expect(dates).toEqual(expected);
        expect(dates).toContain(day);
        expect(dates.length).toBeGreaterThanOrEqual(4);
        expect(digestPosts(test), JSON.stringify([digestPosts(test), digests])).toHaveLength(dates.length);
        for (const digest of digests) {
          expect(digest.status).toBe('sent');
          expect(digest.late).toBe(false);
          const wall = wallClock(digest.dueAt, timezone);
          const local = `${String(wall.hour).padStart(2, '0')}:${String(wall.minute).padStart(2, '0')}`;
          // 02:30 does not exist on a spring-forward night: the digest comes at 03:30 then.
          expect(['08:00', '02:30', '03:30']).toContain(local);
          if (time === '08:00') expect(local).toBe('08:00');
        }
        // The clock is set back two hours (NTP, a VM restore): no second digest.
        const before = clock.now().toISOString();
        clock.advance(-2 * 3_600_000);
        await runDays(test, clock, before, 10);
        expect(await test.spine.repos.digests.list(test.spine.operator.id)).toHaveLength(digests.length);
      });
    }
  }

  it('sends one catch-up digest, marked late, after downtime over digest time; a restart sends none', async () => {
    const clock = new ManualClock('2026-06-01T05:00:00Z'); // 07:00 in Berlin
    const env = { SPINE_TIMEZONE: 'Europe/Berlin' };
    const db = await databases.open();
    const first = await spineAt(clock, env, db);
    await first.spine.startBackground();
    await first.spine.runner.idle();
    expect(await first.spine.repos.digests.list(first.spine.operator.id)).toHaveLength(0);
    await first.spine.close();

    // Down for two days and a bit: back at 10:30 on 3 June.
    clock.set('2026-06-03T08:30:00Z');
    const second = await spineAt(clock, env, db);
    await second.spine.startBackground();
    await second.spine.runner.idle();
    const digests = await second.spine.repos.digests.list(second.spine.operator.id);
    expect(digests.map((digest) => [digest.localDate, digest.late, digest.status])).toEqual([
      ['2026-06-03', true, 'sent'],
    ]);
    expect(digestPosts(second)).toHaveLength(1);
    expect(second.chat.posts.at(-1)?.message.blocks).toContainEqual({
      type: 'context',
      text: 'Sent late: Spine was not running at digest time, so this is the catch-up.',
    });
    await second.spine.close();

    clock.advance(60_000);
    const third = await spineAt(clock, env, db);
    await third.spine.startBackground();
    await third.spine.runner.idle();
    expect(digestPosts(third)).toHaveLength(0);
    expect(await third.spine.repos.digests.list(third.spine.operator.id)).toHaveLength(1);
  });

  it('reports what got done, what waits (with buttons), expiring memories and the numbers; on demand it is not the daily one', async () => {
    const clock = new ManualClock('2026-06-01T05:30:00Z');
    const test = await spineAt(clock, { SPINE_TIMEZONE: 'Europe/Berlin' });
    await test.say('remember that the VAT return is due on the 10th');
    await test.say('email dana@example.com "Invoice" Please find the invoice attached.');
    await test.spine.db.pool.query(`UPDATE memories SET expires_at = $1 WHERE content LIKE '%VAT%'`, [
      new Date('2026-06-03T00:00:00Z'),
    ]);
    clock.advance(60_000);
    await test.say('digest');
    const digest = test.chat.posts.at(-1)?.message;
    expect(digest?.text).toContain('Your digest so far, Ada');
    const sections = (digest?.blocks ?? []).map((block) => ('text' in block ? block.text : ''));
    expect(sections.join('\n')).toContain('remembered “the VAT return is due on the 10th”');
    expect(sections.join('\n')).toMatch(/Waiting for your approval \(1\)/);
    expect(sections.join('\n')).toContain('Memories that expire soon');
    expect(sections.join('\n')).toContain('Today: no calendar is connected.');
    expect(digest?.blocks).toContainEqual({
      type: 'buttons',
      buttons: [
        { action: 'approval:approve:1', label: 'Approve', style: 'primary' },
        { action: 'approval:reject:1', label: 'Reject', style: 'danger' },
      ],
    });
    expect(digest?.blocks?.find((block) => block.type === 'fields')).toEqual({
      type: 'fields',
      fields: [
        { label: 'Goals', value: '2 asked, 1 done' },
        { label: 'Actions', value: '1' },
        { label: 'Approvals', value: '0 decided, 1 waiting' },
        { label: 'Time saved', value: 'about 1 min' },
      ],
    });
    // On demand is not the daily one: the daily digest still comes at 08:00.
    expect(await test.spine.repos.digests.list(test.spine.operator.id)).toHaveLength(0);
    await runDays(test, clock, '2026-06-01T06:20:00Z', 5);
    expect(await test.spine.repos.digests.list(test.spine.operator.id)).toHaveLength(1);
  });

  it('moves the daily digest from chat with `digest at 7:30`', async () => {
    const clock = new ManualClock('2026-06-01T04:00:00Z');
    const test = await spineAt(clock, { SPINE_TIMEZONE: 'Europe/Berlin' });
    await test.say('digest at 7:30');
    expect(test.chat.texts().at(-1)).toBe('Done: your daily digest now comes at 07:30 (Europe/Berlin).');
    await runDays(test, clock, '2026-06-01T05:40:00Z', 10);
    const [digest] = await test.spine.repos.digests.list(test.spine.operator.id);
    expect(digest?.dueAt.toISOString()).toBe('2026-06-01T05:30:00.000Z');
  });
});
