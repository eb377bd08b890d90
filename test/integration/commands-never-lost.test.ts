import { describe, expect, it } from 'vitest';
import type { IntakeResult } from '../../bot/intake.ts';
import { DATABASE_KINDS } from '../support/databases.ts';
import { outboxFiles } from '../support/outbox.ts';
import { useTestSpines } from '../support/spine-suite.ts';
import type { TestSpine } from '../support/test-spine.ts';

const THREAD = { channel: 'console' as const, conversation: 'local' };

/** Deliver a chat message as the platform would: a retry carries the same delivery id. */
function deliver(test: TestSpine, deliveryId: string, text: string): Promise<IntakeResult> {
  return test.spine.intake.handleMessage({
    channel: 'console',
    deliveryId,
    userId: 'local',
    text,
    thread: THREAD,
  });
}

/** Make the recording chat refuse its next post (a platform outage), once. */
function failNextPost(test: TestSpine): void {
  const post = test.chat.post.bind(test.chat);
  test.chat.post = async () => {
    test.chat.post = post;
    throw new Error('chat platform unavailable');
  };
}

/**
 * Make the next database query whose text contains `fragment` (and, if given, whose parameters
 * include `parameter`) fail as a dropped connection would, once.
 */
function failNextQuery(test: TestSpine, fragment: string, parameter?: string): void {
  const pool = test.spine.db.pool as unknown as { query: (...args: unknown[]) => Promise<unknown> };
  const query = pool.query.bind(pool);
  pool.query = async (...args: unknown[]) => {
    const text = typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: string })?.text);
    const values = Array.isArray(args[1]) ? args[1] : [];
    if (!text.includes(fragment) || (parameter !== undefined && !values.includes(parameter)))
      return query(...args);
    pool.query = query;
    throw new Error('connection terminated unexpectedly');
  };
}

describe.each(DATABASE_KINDS)('a chat command is never lost to a failure, on %s Postgres', (kind) => {
  const spines = useTestSpines(kind);

  it('runs a failed command again when the platform redelivers it, and answers a later duplicate with nothing', async () => {
    const test = await spines.fresh();
    const before = test.chat.posts.length;
    failNextPost(test);
    await expect(deliver(test, 'status-1', 'status')).rejects.toThrow('chat platform unavailable');
    expect(test.chat.posts.length).toBe(before);

    expect(await deliver(test, 'status-1', 'status')).toEqual({ kind: 'command' });
    expect(test.chat.posts.length).toBe(before + 1);
    expect(test.chat.texts().at(-1)).toContain('Nothing is waiting for your approval.');

    expect(await deliver(test, 'status-1', 'status')).toEqual({ kind: 'command', duplicate: true });
    expect(test.chat.posts.length).toBe(before + 1);
  });

  it('approves on the redelivery of an `approve` whose first run failed, and sends once', async () => {
    const test = await spines.fresh();
    await test.say('email dana@example.com "Tuesday" Tuesday works for me.');
    const [pending] = await test.spine.repos.approvals.listPending(test.spine.operator.id);
    expect(pending).toBeDefined();

    failNextQuery(test, "status = 'pending'");
    await expect(deliver(test, 'approve-1', 'approve')).rejects.toThrow('connection terminated');
    await test.spine.runner.idle();
    expect((await test.spine.repos.approvals.get(pending!.id))?.status).toBe('pending');
    expect(outboxFiles(test.outboxDir)).toHaveLength(0);

    expect(await deliver(test, 'approve-1', 'approve')).toEqual({ kind: 'command' });
    await test.spine.runner.idle();
    expect((await test.spine.repos.approvals.get(pending!.id))?.status).toBe('approved');
    expect(outboxFiles(test.outboxDir)).toHaveLength(1);
    expect(test.chat.texts().at(-1)).toContain('Done: sent an e-mail to dana@example.com');

    const posts = test.chat.posts.length;
    expect(await deliver(test, 'approve-1', 'approve')).toEqual({ kind: 'command', duplicate: true });
    await test.spine.runner.idle();
    expect(test.chat.posts.length).toBe(posts);
    expect(outboxFiles(test.outboxDir)).toHaveLength(1);
  });

  it('resumes on the redelivery of an `approve` that failed after its decision was recorded', async () => {
    const test = await spines.fresh();
    await test.say('email gus@example.com "Friday" Friday is fine.');
    const [pending] = await test.spine.repos.approvals.listPending(test.spine.operator.id);

    // The compare-and-set wins, then the event that follows it fails: no resume was enqueued.
    failNextQuery(test, 'INSERT INTO events', 'approved');
    await expect(deliver(test, 'approve-2', 'approve #' + pending!.id)).rejects.toThrow(
      'connection terminated',
    );
    await test.spine.runner.idle();
    expect((await test.spine.repos.approvals.get(pending!.id))?.status).toBe('approved');
    expect(outboxFiles(test.outboxDir)).toHaveLength(0);

    expect(await deliver(test, 'approve-2', 'approve #' + pending!.id)).toEqual({ kind: 'command' });
    await test.spine.runner.idle();
    expect(outboxFiles(test.outboxDir)).toHaveLength(1);
    expect(test.chat.texts().at(-1)).toContain('Done: sent an e-mail to gus@example.com');
    expect(await test.spine.recover()).toBe(0);
  });

  it('treats a redelivery while the command still runs as a duplicate, not a second run', async () => {
    const test = await spines.fresh();
    const post = test.chat.post.bind(test.chat);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started: () => void = () => {};
    const posting = new Promise<void>((resolve) => {
      started = resolve;
    });
    test.chat.post = async (thread, message) => {
      started();
      await held;
      return post(thread, message);
    };
    const before = test.chat.posts.length;
    const first = deliver(test, 'status-slow', 'status');
    await posting;
    expect(await deliver(test, 'status-slow', 'status')).toEqual({ kind: 'command', duplicate: true });
    release();
    expect(await first).toEqual({ kind: 'command' });
    test.chat.post = post;
    expect(test.chat.posts.length).toBe(before + 1);
    expect(await deliver(test, 'status-slow', 'status')).toEqual({ kind: 'command', duplicate: true });
    expect(test.chat.posts.length).toBe(before + 1);
  });
});
