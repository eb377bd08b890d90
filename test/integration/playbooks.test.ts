import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.ts';
import type { Database } from '../../db/database.ts';
import { fakePaymentsConnector } from '../fakes/fake-payments-connector.ts';
import type { SmtpSink } from '../fakes/smtp-sink.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { smtpEnv } from '../support/sink-config.ts';
import { useSmtpSinks } from '../support/smtp-sinks.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

const example = (name: string) =>
  readFileSync(new URL(`../../playbooks/examples/${name}.yaml`, import.meta.url), 'utf8');

describe.each(DATABASE_KINDS)('playbooks on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);
  const running: TestSpine[] = [];
  // E-mails are counted at an SMTP server that keeps every message: the file outbox would hide a
  // second delivery of one action behind its <key>.eml.
  const sinks = useSmtpSinks();

  /** A Spine with the fake payments connector; Spines of one database may share one SMTP sink. */
  async function freshSpine(db?: Database, clock?: ManualClock, sink?: SmtpSink) {
    const smtp = sink ?? (await sinks.start());
    const test = await createTestSpine(db ?? (await databases.open()), {
      env: smtpEnv(smtp),
      ...(clock ? { clock } : {}),
    });
    running.push(test);
    const payments = fakePaymentsConnector();
    test.spine.connectors.add(payments);
    const settle = async () => {
      await test.spine.runner.idle();
    };
    return { ...test, payments, settle, smtp };
  }

  beforeAll(async () => {
    await databases.open();
  });

  afterAll(async () => {
    for (const test of running) await test.spine.close();
    await databases.closeAll();
  });

  it('runs the unpaid-invoice example: a read, one draft per invoice, a checkpoint card, then the e-mails after approval', async () => {
    const { say, chat, smtp, spine, payments, settle } = await freshSpine();
    await say(`playbook add ${example('unpaid-invoice-reminders')}`);
    expect(chat.texts().at(-1)).toContain('Added playbook unpaid-invoice-reminders (v1, disabled)');
    await say('run unpaid-invoice-reminders');
    await settle();
    expect(payments.calls).toBe(1);
    const checkpoint = chat.posts.at(-1)?.message;
    expect(checkpoint?.text).toContain('Playbook unpaid-invoice-reminders: Send 2 payment reminders?');
    const fields = checkpoint?.blocks?.find((block) => block.type === 'fields');
    expect(JSON.stringify(fields)).toContain('invoice A-1001 for 1200 EUR was due on 2026-11-10');
    expect(JSON.stringify(checkpoint?.blocks)).toContain('a checkpoint of the playbook: it always asks you');
    expect(smtp.accepted).toHaveLength(0);

    await say('approve');
    await settle();
    // The policy still applies on top of the checkpoint: each external e-mail has its own card.
    expect(chat.texts().filter((text) => text.includes('Send an e-mail to'))).toHaveLength(2);
    // Two cards in one thread: a bare `approve` would decide neither (issue #22), so each is named.
    for (const approval of await spine.repos.approvals.listPending(spine.operator.id))
      await say(`approve #${approval.id}`);
    await settle();
    expect(smtp.accepted).toHaveLength(2);
    const sent = smtp.accepted.map((accepted) => accepted.raw);
    expect(
      sent.some(
        (mail) => mail.includes('To: fox@example.com') && mail.includes('Subject: Reminder: invoice A-1002'),
      ),
    ).toBe(true);
    expect(chat.texts().at(-1)).toContain('Playbook unpaid-invoice-reminders finished.');
    const story = await spine.intake.log(spine.operator.id, 60);
    expect(story).toMatch(/Spine started Run the playbook unpaid-invoice-reminders/);
    expect(story).toMatch(/Spine finished the playbook unpaid-invoice-reminders/);
  });

  it('stops at a rejected checkpoint and sends nothing', async () => {
    const { say, chat, smtp, settle } = await freshSpine();
    await say(`playbook add ${example('unpaid-invoice-reminders')}`);
    await say('run unpaid-invoice-reminders');
    await settle();
    await say('reject');
    await settle();
    expect(chat.texts().at(-1)).toContain('stopped: you stopped it at the checkpoint “review”');
    expect(smtp.accepted).toHaveLength(0);
  });

  it('finishes a run on the version it started with, after an edit and a restart', async () => {
    const db = await databases.open();
    const first = await freshSpine(db);
    await first.say(`playbook add ${example('unpaid-invoice-reminders')}`);
    await first.say('run unpaid-invoice-reminders');
    await first.settle();
    expect(first.chat.texts().at(-1)).toContain('Send 2 payment reminders?');
    // The process goes away while the run waits at its checkpoint.
    await first.spine.close();

    // Both processes send to one SMTP server, which counts what either delivered.
    const second = await freshSpine(db, undefined, first.smtp);
    const edited = example('unpaid-invoice-reminders').replace('Reminder: invoice', 'LAST NOTICE: invoice');
    await second.say(`playbook add ${edited}`);
    expect(second.chat.texts().at(-1)).toContain('is now v2');
    await second.say('approve');
    await second.settle();
    // Two e-mail cards in one thread: each is named (a bare `approve` would decide neither).
    for (const approval of await second.spine.repos.approvals.listPending(second.spine.operator.id))
      await second.say(`approve #${approval.id}`);
    await second.settle();
    const sent = second.smtp.accepted.map((accepted) => accepted.raw);
    expect(sent).toHaveLength(2);
    for (const mail of sent) expect(mail).toContain('Subject: Reminder: invoice');
    const playbook = await second.spine.playbooks.store.get(
      second.spine.operator.id,
      'unpaid-invoice-reminders',
    );
    const [run] = await second.spine.playbooks.store.recentRuns(playbook?.id ?? 0, 1);
    expect(playbook?.current.version).toBe(2);
    expect((await second.spine.playbooks.store.version(run?.versionId ?? 0))?.version).toBe(1);
    expect(run?.status).toBe('done');
  });

  it('a run that crashed mid-way continues from its last checkpoint on its original version after an edit', async () => {
    const db = await databases.open();
    const test = await createTestSpine(db, { env: { SPINE_JOB_ATTEMPTS: '1' } });
    running.push(test);
    const { say, spine, chat } = test;
    const v1 =
      'name: digest-notes\ndescription: Notes\ntrigger:\n  chat: { command: notes }\nsteps:\n  - id: intro\n    draft: { template: "version one" }\n  - id: notes\n    recall: { query: "notes" }\n  - id: summary\n    draft: { template: "{{ steps.intro }}: {{ steps.notes.count }} notes" }\n  - id: review\n    checkpoint: { message: "Keep {{ steps.summary }}?" }\n';
    await say(`playbook add ${v1}`);
    // The process "dies" inside the recall step: the job fails for good, the goal stays open.
    const recall = spine.memory.recall.bind(spine.memory);
    spine.memory.recall = async () => {
      throw new Error('killed mid-way');
    };
    await say('run digest-notes');
    await spine.runner.idle();
    expect(chat.texts().some((text) => text.includes('finished'))).toBe(false);
    expect(chat.texts().at(-1)).toContain('because of an error: killed mid-way');
    spine.memory.recall = recall;
    await say(`playbook add ${v1.replace('version one', 'version two')}`);
    expect(chat.texts().at(-1)).toContain('is now v2');
    // Retry (the failure card's button) re-runs the goal: its graph continues from the checkpoint after `intro`.
    await say('retry');
    await spine.runner.idle();
    // The edit changed `intro`, but this run was compiled from v1.
    expect(chat.texts().at(-1)).toContain('Playbook digest-notes: Keep version one: 0 notes?');
    await say('approve');
    await spine.runner.idle();
    expect(chat.texts().at(-1)).toContain('Playbook digest-notes finished.');
    const playbook = await spine.playbooks.store.get(spine.operator.id, 'digest-notes');
    const [run] = await spine.playbooks.store.recentRuns(playbook?.id ?? 0, 1);
    expect((await spine.playbooks.store.version(run?.versionId ?? 0))?.version).toBe(1);
    const graphState = await spine.db.pool.query(
      'SELECT count(*)::int AS n FROM checkpoints WHERE thread_id = $1',
      [`playbook-${run?.goalId}`],
    );
    expect(graphState.rows[0]?.n).toBeGreaterThan(0);
  });

  it('starts one run per inbound e-mail through the sink, however often it is delivered', async () => {
    const { say, spine, chat, settle } = await freshSpine();
    await say(`playbook add ${example('inbound-lead-triage')}`);
    await say('playbook enable inbound-lead-triage');
    const email = {
      source: 'email' as const,
      id: '<lead-1@example.com>',
      type: 'message',
      occurredAt: new Date(),
      payload: {
        messageId: '<lead-1@example.com>',
        from: { name: 'Walter Skinner', address: 'walter@example.com' },
        to: ['me@example.com'],
        subject: 'Quote for a new website',
        text: 'We need a five-page website by March.',
      },
    };
    await spine.playbooks.sink(email);
    await spine.playbooks.sink(email);
    await spine.playbooks.sink({
      ...email,
      id: '<other@example.com>',
      payload: { ...email.payload, subject: 'Lunch?' },
    });
    await settle();
    const playbook = await spine.playbooks.store.get(spine.operator.id, 'inbound-lead-triage');
    expect(await spine.playbooks.store.recentRuns(playbook?.id ?? 0, 10)).toHaveLength(1);
    expect(chat.texts().at(-1)).toContain('Reply to walter@example.com?');
    const facts = await spine.memory.recall('Walter Skinner lead', {
      operatorId: spine.operator.id,
      limit: 5,
    });
    expect(facts.map((fact) => fact.snippet).join('\n')).toContain(
      'Walter Skinner needs: We need a five-page website by March.',
    );
  });

  it('starts a run for a matching Stripe event delivered to the sink', async () => {
    const { say, spine, settle } = await freshSpine();
    await say(
      `playbook add name: failed-payments\ndescription: Tell me about failed payments\ntrigger:\n  stripe: { events: [invoice.payment_failed] }\nsteps:\n  - id: note\n    draft: { template: "Payment failed for {{ trigger.data.object.customer_email }}" }\n`,
    );
    await say('playbook enable failed-payments');
    await spine.playbooks.sink({
      source: 'stripe',
      id: 'evt_1',
      type: 'invoice.payment_failed',
      occurredAt: new Date(),
      payload: {
        id: 'evt_1',
        type: 'invoice.payment_failed',
        data: { object: { customer_email: 'dana@example.com' } },
      },
    });
    await spine.playbooks.sink({
      source: 'stripe',
      id: 'evt_2',
      type: 'invoice.paid',
      occurredAt: new Date(),
      payload: {},
    });
    await settle();
    const playbook = await spine.playbooks.store.get(spine.operator.id, 'failed-payments');
    const runs = await spine.playbooks.store.recentRuns(playbook?.id ?? 0, 10);
    expect(runs).toHaveLength(1);
    expect(runs[0]?.status).toBe('done');
  });

  it('shadow mode replays stored events and reports what it would have done, executing nothing', async () => {
    const { say, spine, chat, smtp, settle } = await freshSpine();
    await say(`playbook add ${example('inbound-lead-triage')}`);
    for (const [index, who] of ['walter', 'monica', 'john'].entries()) {
      await spine.playbooks.sink({
        source: 'email',
        id: `<shadow-${index}@example.com>`,
        type: 'message',
        occurredAt: new Date(),
        payload: {
          from: { name: who, address: `${who}@example.com` },
          subject: 'Need a quote',
          text: 'Hello',
        },
      });
    }
    await settle();
    await say('playbook shadow inbound-lead-triage days 7');
    const report = chat.texts().at(-1) ?? '';
    expect(report).toContain(
      'Shadow run of inbound-lead-triage over the last 7 days: 3 triggers, nothing was executed.',
    );
    expect(report).toContain('would have sent an e-mail to monica@example.com about “Re: Need a quote”');
    expect(report).toContain('would have asked you: “Reply to john@example.com?”');
    expect(smtp.accepted).toHaveLength(0);
    const actions = await spine.db.pool.query('SELECT count(*)::int AS n FROM actions');
    expect(actions.rows[0]?.n).toBe(0);
    const playbook = await spine.playbooks.store.get(spine.operator.id, 'inbound-lead-triage');
    expect(await spine.playbooks.store.recentRuns(playbook?.id ?? 0, 10)).toHaveLength(0);
  });

  it('sleeps at a wait step and continues when the schedule check finds its time has come', async () => {
    const clock = new ManualClock('2026-11-25T10:00:00Z');
    const { say, spine, chat, settle } = await freshSpine(undefined, clock);
    await say(
      'playbook add name: follow-up\ndescription: Nudge later\ntrigger:\n  chat: { command: nudge }\nsteps:\n  - id: first\n    draft: { template: "now" }\n  - id: pause\n    wait: { for: 2h }\n  - id: second\n    draft: { template: "{{ steps.first }} and later" }\n',
    );
    await say('playbook enable follow-up');
    // Its chat trigger: saying the command runs it.
    await say('Nudge');
    await settle();
    const playbook = await spine.playbooks.store.get(spine.operator.id, 'follow-up');
    const [waiting] = await spine.playbooks.store.recentRuns(playbook?.id ?? 0, 1);
    expect(waiting?.status).toBe('waiting');
    expect(waiting?.wakeAt?.toISOString()).toBe('2026-11-25T12:00:00.000Z');
    clock.set('2026-11-25T11:00:00Z');
    await spine.playbooks.triggers.fireDue();
    await settle();
    expect(chat.texts().some((text) => text.includes('Playbook follow-up finished.'))).toBe(false);
    clock.set('2026-11-25T12:00:01Z');
    await spine.playbooks.triggers.fireDue();
    await settle();
    expect(chat.texts().at(-1)).toContain('Playbook follow-up finished.');
    const [done] = await spine.playbooks.store.recentRuns(playbook?.id ?? 0, 1);
    expect(done?.status).toBe('done');
  });

  it('live shadow mode simulates each live trigger and reports it, running nothing', async () => {
    const { say, spine, chat, smtp, settle } = await freshSpine();
    await say(`playbook add ${example('inbound-lead-triage')}`);
    await say('playbook shadow inbound-lead-triage live 3 days');
    expect(chat.texts().at(-1)).toContain('runs in shadow for 3 days');
    await spine.playbooks.sink({
      source: 'email',
      id: '<live-shadow@example.com>',
      type: 'message',
      occurredAt: new Date(),
      payload: { from: { name: 'Dana', address: 'dana@example.com' }, subject: 'A quote please', text: 'Hi' },
    });
    await settle();
    expect(chat.texts().at(-1)).toContain(
      'would have sent an e-mail to dana@example.com about “Re: A quote please”',
    );
    expect(smtp.accepted).toHaveLength(0);
    const playbook = await spine.playbooks.store.get(spine.operator.id, 'inbound-lead-triage');
    expect(await spine.playbooks.store.recentRuns(playbook?.id ?? 0, 10)).toHaveLength(0);
  });

  it('fires a schedule once at its time in the operator time zone (fake clock), and never before it was enabled', async () => {
    const clock = new ManualClock('2026-11-27T14:00:00Z'); // Friday
    const { say, spine, payments, settle } = await freshSpine(undefined, clock);
    await say(`playbook add ${example('unpaid-invoice-reminders')}`);
    await say('playbook enable unpaid-invoice-reminders');
    expect(await spine.playbooks.triggers.fireDue()).toBe(0);
    clock.set('2026-11-27T15:59:00Z');
    expect(await spine.playbooks.triggers.fireDue()).toBe(0);
    clock.set('2026-11-27T16:00:30Z');
    expect(await spine.playbooks.triggers.fireDue()).toBe(1);
    expect(await spine.playbooks.triggers.fireDue()).toBe(0);
    await settle();
    expect(payments.calls).toBe(1);
    clock.set('2026-12-04T16:05:00Z');
    expect(await spine.playbooks.triggers.fireDue()).toBe(1);
  });
});
