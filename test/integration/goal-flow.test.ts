import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Spine } from '../../app/spine.ts';
import { FakeWebhookServer } from '../fakes/fake-webhook-server.ts';
import type { SmtpSink } from '../fakes/smtp-sink.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { smtpEnv, webhookSection, writeSpineConfig } from '../support/sink-config.ts';
import { useSmtpSinks } from '../support/smtp-sinks.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

const WEBHOOK_SECRET = 'whsec-goal-flow-test-secret';

/**
 * A crash after a goal's steps ran but before their checkpoints were written: only the input
 * checkpoint and its start task's writes reached the database, and the row says running.
 */
async function forgetCheckpointsAfterInput(spine: Spine, goalId: number): Promise<void> {
  const thread = String(goalId);
  await spine.db.pool.query(
    `DELETE FROM checkpoint_writes WHERE thread_id = $1 AND checkpoint_id <> (
       SELECT checkpoint_id FROM checkpoints WHERE thread_id = $1 ORDER BY checkpoint_id LIMIT 1)`,
    [thread],
  );
  await spine.db.pool.query(
    `DELETE FROM checkpoints WHERE thread_id = $1 AND checkpoint_id <> (
       SELECT checkpoint_id FROM checkpoints WHERE thread_id = $1 ORDER BY checkpoint_id LIMIT 1)`,
    [thread],
  );
  await spine.repos.goals.setStatus(goalId, 'running');
}

describe.each(DATABASE_KINDS)('goal flow on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);
  const running: TestSpine[] = [];
  // E-mails are counted at a real SMTP server that keeps every message: the file outbox would
  // overwrite a second delivery of one action (<key>.eml) and hide it.
  const sinks = useSmtpSinks();

  async function freshSpine(): Promise<TestSpine & { smtp: SmtpSink }> {
    const smtp = await sinks.start();
    const test = await createTestSpine(await databases.open(), { env: smtpEnv(smtp) });
    running.push(test);
    return { ...test, smtp };
  }

  beforeAll(async () => {
    // Warm the embedded database once so the first test does not pay for its start-up.
    await databases.open();
  });

  afterAll(async () => {
    for (const test of running) await test.spine.close();
    await databases.closeAll();
  });

  it('remembers a fact and recalls it citing its source and date', async () => {
    const { say, chat } = await freshSpine();
    await say('remember that Dana prefers calls before 10am');
    expect(chat.texts().at(-1)).toContain('I remembered “Dana prefers calls before 10am”');
    await say('what do you know about Dana?');
    const answer = chat.texts().at(-1) ?? '';
    expect(answer).toContain('Dana prefers calls before 10am');
    expect(answer).toMatch(/you told me in the console on \d{1,2} \w{3} \d{4}/);
  });

  it('answers a command delivered twice (a platform retry) once', async () => {
    const { spine, chat } = await freshSpine();
    const deliver = (deliveryId: string, text: string) =>
      spine.intake.handleMessage({
        channel: 'console',
        deliveryId,
        userId: 'local',
        text,
        thread: { channel: 'console', conversation: 'local' },
      });
    const before = chat.posts.length;
    expect(await deliver('retry-1', 'status')).toEqual({ kind: 'command' });
    expect(await deliver('retry-1', 'status')).toEqual({ kind: 'command', duplicate: true });
    expect(chat.posts.length).toBe(before + 1);
    // A new delivery of the same words is a new command.
    await deliver('retry-2', 'status');
    expect(chat.posts.length).toBe(before + 2);
  });

  it('answers honestly when memory has nothing', async () => {
    const { say, chat } = await freshSpine();
    await say('recall the zebra invoice');
    expect(chat.texts().at(-1)).toContain("I don't know anything about");
  });

  it('shows an approval card with exactly what will be sent, and sends once on approval', async () => {
    const { say, chat, smtp, spine } = await freshSpine();
    await say('email dana@example.com "Tuesday" Tuesday works for me.');
    const card = chat.posts.at(-1)?.message;
    expect(card?.blocks?.find((block) => block.type === 'fields')).toEqual({
      type: 'fields',
      fields: [
        { label: 'From', value: 'Spine <spine@localhost>' },
        { label: 'To', value: 'dana@example.com' },
        { label: 'Subject', value: 'Tuesday' },
        { label: 'Body', value: 'Tuesday works for me.' },
      ],
    });
    expect(card?.blocks?.find((block) => block.type === 'buttons')).toBeTruthy();
    expect(smtp.accepted).toHaveLength(0);

    await say('approve');
    expect(smtp.accepted).toHaveLength(1);
    const message = smtp.accepted[0]?.raw ?? '';
    expect(smtp.accepted[0]?.to).toEqual(['dana@example.com']);
    expect(message).toContain('To: dana@example.com');
    expect(message).toContain('Subject: Tuesday');
    expect(message).toContain('Tuesday works for me.');
    expect(chat.updates.at(-1)?.message.text).toContain('Approved');
    expect(chat.texts().at(-1)).toContain('Done: sent an e-mail to dana@example.com');

    await say('approve');
    expect(chat.texts().at(-1)).toBe('Nothing is waiting for your approval.');
    expect(smtp.accepted).toHaveLength(1);

    const story = await spine.intake.log(spine.operator.id, 50);
    expect(story).toMatch(/You asked “email dana@example.com/);
    expect(story).toMatch(/Spine asked for your approval before sending an e-mail to dana@example.com/);
    expect(story).toMatch(/You approved sending an e-mail to dana@example.com .*via the console/);
    expect(story).toMatch(/Spine sent an e-mail to dana@example.com/);
  });

  it('sends nothing when the operator rejects', async () => {
    const { say, chat, smtp, spine } = await freshSpine();
    await say('send an email to bob@example.com about Invoice: Please pay invoice 7.');
    await say('reject');
    expect(smtp.accepted).toHaveLength(0);
    expect(chat.texts().at(-1)).toContain('Not done (you rejected it)');
    const [action] = await spine.repos.actions.listForGoal(
      (await spine.repos.goals.recent(spine.operator.id, 1))[0]!.id,
    );
    expect(action?.status).toBe('rejected');
  });

  it('lets exactly one of ten parallel approvals win and executes once', async () => {
    const { say, smtp, spine } = await freshSpine();
    await say('email carol@example.com "Hello" Ten clicks, one e-mail.');
    const [pending] = await spine.repos.approvals.listPending(spine.operator.id);
    expect(pending).toBeDefined();
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () =>
        spine.intake.decide({
          approvalId: pending!.id,
          decision: 'approved',
          channel: 'console',
          userId: 'local',
        }),
      ),
    );
    await spine.runner.idle();
    expect(outcomes.filter((outcome) => outcome.kind === 'decided')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.kind === 'already_decided')).toHaveLength(9);
    expect(smtp.accepted).toHaveLength(1);
    const executed = await spine.db.pool.query(`SELECT count(*)::int AS n FROM events WHERE verb = 'sent'`);
    expect(executed.rows[0].n).toBe(1);
  });

  it('refuses a stranger, logs it, and executes nothing', async () => {
    const { say, spine, chat, smtp } = await freshSpine();
    await say('email dave@example.com "Hi" Hello Dave.');
    const [pending] = await spine.repos.approvals.listPending(spine.operator.id);
    const outcome = await spine.intake.decide({
      approvalId: pending!.id,
      decision: 'approved',
      channel: 'slack',
      userId: 'U_STRANGER',
      thread: { channel: 'console', conversation: 'local' },
    });
    await spine.runner.idle();
    expect(outcome.kind).toBe('forbidden');
    expect(chat.texts().at(-1)).toContain('I only work for my operator');
    expect(smtp.accepted).toHaveLength(0);
    expect((await spine.repos.approvals.get(pending!.id))?.status).toBe('pending');
    expect(await spine.intake.log(spine.operator.id, 5)).toContain(
      'Someone on Slack (U_STRANGER) was refused',
    );
  });

  it('resumes after a crash between the approval and the execution, and executes once', async () => {
    const db = await databases.open();
    // Both processes send to the same server, which counts what each delivered.
    const smtp = await sinks.start();
    const first = await createTestSpine(db, { env: smtpEnv(smtp) });
    await first.say('email erin@example.com "Crash" Sent after a restart.');
    const [pending] = await first.spine.repos.approvals.listPending(first.spine.operator.id);
    // The compare-and-set happened, then the process died before enqueueing the resume.
    await first.spine.repos.approvals.decide(pending!.id, 'approved', 'console:local', 'console', new Date());
    await first.spine.close();

    const second = await createTestSpine(db, { env: smtpEnv(smtp) });
    running.push(second);
    expect(await second.spine.recover()).toBe(1);
    await second.spine.runner.idle();
    expect(smtp.accepted).toHaveLength(1);
    expect(second.chat.texts().at(-1)).toContain('Done: sent an e-mail to erin@example.com');
    // A second recovery finds nothing to do.
    expect(await second.spine.recover()).toBe(0);
  });

  it('closes a goal whose graph finished but whose row still says running, and a late re-run never reopens it', async () => {
    const { spine, say, chat } = await freshSpine();
    await say('remember that the van is blue');
    const [goal] = await spine.repos.goals.recent(spine.operator.id, 1);
    expect(goal?.status).toBe('done');
    // A late duplicate run (re-enqueued while the first was completing) starts its first node.
    await spine.repos.goals.markRunning(Number(goal?.id));
    expect((await spine.repos.goals.get(Number(goal?.id)))?.status).toBe('done');
    // A row left "running" after its graph finished (a crash between the checkpoint and the status):
    // recovery re-enqueues it, and the run closes it from the checkpoint instead of doing nothing.
    await spine.repos.goals.setStatus(Number(goal?.id), 'running');
    expect(await spine.recover()).toBe(1);
    await spine.runner.idle();
    expect((await spine.repos.goals.get(Number(goal?.id)))?.status).toBe('done');
    expect(await spine.recover()).toBe(0);
    // The reply was not sent again.
    expect(chat.texts().filter((text) => text.includes('I remembered “the van is blue”'))).toHaveLength(1);
  });

  it('carries on a goal that crashed after a step ran but before its checkpoint was written', async () => {
    const { spine, say, chat } = await freshSpine();
    await say('remember that the boat is green');
    const [goal] = await spine.repos.goals.recent(spine.operator.id, 1);
    const thread = String(goal?.id);
    await forgetCheckpointsAfterInput(spine, Number(goal?.id));
    expect(await spine.recover()).toBe(1);
    await spine.runner.idle();
    expect((await spine.repos.goals.get(Number(goal?.id)))?.status).toBe('done');
    // The graph ran on from the input checkpoint to its end (not merely closed as if finished)…
    const checkpoints = await spine.db.pool.query(
      'SELECT count(*)::int AS n FROM checkpoints WHERE thread_id = $1',
      [thread],
    );
    expect(checkpoints.rows[0]?.n).toBeGreaterThan(1);
    // …and the effects happened once (the action's key, the reply mark).
    const memories = await spine.db.pool.query(
      `SELECT count(*)::int AS n FROM memories WHERE content LIKE 'the boat is green%'`,
    );
    expect(memories.rows[0]?.n).toBe(1);
    expect(chat.texts().filter((text) => text.includes('I remembered “the boat is green”'))).toHaveLength(1);
  });

  it('calls a webhook once when the goal crashed after the call but before its checkpoint', async () => {
    // A receiver that ignores Idempotency-Key: every request it gets is an effect, so a second
    // call after the restart would show here (Spine's own records could not show it).
    const receiver = new FakeWebhookServer(WEBHOOK_SECRET, { honoursIdempotencyKey: false });
    const base = await receiver.start();
    try {
      const config = writeSpineConfig(
        webhookSection({
          name: 'crm',
          url: `${base}/leads`,
          secretVariable: 'TEST_CRM_SECRET',
          risk: 'read',
        }),
      );
      const test = await createTestSpine(await databases.open(), {
        env: { SPINE_CONFIG: config, TEST_CRM_SECRET: WEBHOOK_SECRET },
      });
      running.push(test);
      const { spine, say } = test;
      await say('call crm {"name":"Dana"}');
      expect(receiver.committed).toHaveLength(1);
      const [goal] = await spine.repos.goals.recent(spine.operator.id, 1);
      expect(goal?.status).toBe('done');
      await forgetCheckpointsAfterInput(spine, Number(goal?.id));
      expect(await spine.recover()).toBe(1);
      await spine.runner.idle();
      expect((await spine.repos.goals.get(Number(goal?.id)))?.status).toBe('done');
      expect(receiver.requests).toHaveLength(1);
      expect(receiver.committed).toHaveLength(1);
    } finally {
      await receiver.stop();
    }
  });

  it('records one goal per delivery id, however often it is delivered', async () => {
    const { spine } = await freshSpine();
    const message = {
      channel: 'console' as const,
      deliveryId: 'same-delivery',
      userId: 'local',
      text: 'remember the office closes at 6',
      thread: { channel: 'console' as const, conversation: 'local' },
    };
    const results = await Promise.all([1, 2, 3, 4].map(() => spine.intake.handleMessage(message)));
    await spine.runner.idle();
    expect(results.filter((result) => result.kind === 'goal' && !result.duplicate)).toHaveLength(1);
    const goals = await spine.db.pool.query('SELECT count(*)::int AS n FROM goals');
    expect(goals.rows[0].n).toBe(1);
  });

  it('answers a 100 KB message politely without creating a goal', async () => {
    const { say, chat, spine } = await freshSpine();
    await say(`remember ${'x'.repeat(100_000)}`);
    expect(chat.texts().at(-1)).toContain('That message is too long');
    const goals = await spine.db.pool.query('SELECT count(*)::int AS n FROM goals');
    expect(goals.rows[0].n).toBe(0);
  });

  it('explains an e-mail it cannot send instead of proposing it', async () => {
    const { say, chat, spine } = await freshSpine();
    await say('email not-an-address "Hi" body');
    expect(chat.texts().at(-1)).toContain('I need an e-mail address first');
    expect(await spine.repos.approvals.listPending(spine.operator.id)).toHaveLength(0);
  });
});
