import { describe, expect, it } from 'vitest';
import { goalCheckpointer } from '../../app/ledger-commands.ts';
import { readEventLog } from '../../ledger/event-log.ts';
import { goalForensics } from '../../ledger/goal-forensics.ts';
import { DATABASE_KINDS } from '../support/databases.ts';
import { invoiceReminderOptions, runInvoiceReminder } from '../support/invoice-reminder.ts';
import { useTestSpines } from '../support/spine-suite.ts';

describe.each(DATABASE_KINDS)('the narrative log and goal forensics on %s Postgres', (kind) => {
  const spines = useTestSpines(kind);
  const freshSpine = spines.fresh;

  it('filters the story by goal, connector, actor, text and time, and pages through it', async () => {
    const { say, chat, spine } = await freshSpine();
    await say('remember that Dana prefers calls before 10am');
    await say('email dana@example.com "Tuesday" Tuesday works for me.');
    await say('approve');
    await say('email sam@example.com "Friday" Friday is fine.');
    await say('reject');
    const [dana, sam] = (await spine.repos.goals.recent(spine.operator.id, 3))
      .map((goal) => goal.id)
      .sort((a, b) => a - b)
      .slice(1);
    const read = (filter: Parameters<typeof readEventLog>[2], page = { page: 1, limit: 50 }) =>
      readEventLog(spine.db.pool, spine.operator.id, filter, page);

    const danaGoal = await read({ goalId: dana });
    expect(danaGoal.events.length).toBeGreaterThan(3);
    expect(danaGoal.events.every((event) => event.goalId === dana)).toBe(true);

    const email = await read({ connector: 'email' });
    expect(email.events.map((event) => event.verb)).toEqual([
      'proposed',
      'asked for your approval before',
      'approved',
      'sent',
      'proposed',
      'asked for your approval before',
      'rejected',
    ]);
    expect((await read({ connector: 'memory' })).events.map((event) => event.verb)).toEqual(['remembered']);

    const mine = await read({ actor: 'you' });
    expect(new Set(mine.events.map((event) => event.actor))).toEqual(new Set(['operator']));
    expect(mine.events.map((event) => event.verb)).toContain('rejected');
    expect((await read({ actor: 'spine' })).events.every((event) => event.actor === 'spine')).toBe(true);

    const aboutSam = await read({ text: 'SAM@example' });
    expect(aboutSam.total).toBeGreaterThan(0);
    expect(aboutSam.events.every((event) => event.goalId === sam)).toBe(true);

    expect((await read({ since: new Date(Date.now() + 60_000) })).total).toBe(0);
    expect((await read({ until: new Date(Date.now() - 3_600_000) })).total).toBe(0);
    const all = await read({});
    expect((await read({ since: new Date(Date.now() - 3_600_000) })).total).toBe(all.total);

    // Pages: page 1 is the newest, oldest first within it; the cursor gives the same next page.
    const first = await read({}, { page: 1, limit: 4 });
    const second = await read({}, { page: 2, limit: 4 });
    expect(first.events.map((event) => event.id)).toEqual(all.events.slice(-4).map((event) => event.id));
    expect(second.events.map((event) => event.id)).toEqual(all.events.slice(-8, -4).map((event) => event.id));
    expect(first.nextPage).toBe(2);
    expect(first.nextBeforeId).toBe(first.events[0]?.id);
    const byCursor = await readEventLog(
      spine.db.pool,
      spine.operator.id,
      {},
      {
        page: 2,
        limit: 4,
        beforeId: first.nextBeforeId ?? 0,
      },
    );
    expect(byCursor.events).toEqual(second.events);

    // The same in chat, with the hint to the next page keeping the filters.
    await say('log connector email limit 3');
    const page = chat.texts().at(-1) ?? '';
    expect(page.split('\n').slice(0, 3)).toEqual([
      expect.stringMatching(/^\d\d:\d\d Spine proposed sending an e-mail to sam@example.com/),
      expect.stringMatching(/Spine asked for your approval before sending an e-mail to sam@example.com/),
      expect.stringMatching(/You rejected sending an e-mail to sam@example.com .*via the console\)$/),
    ]);
    expect(page).toContain(
      '— Events 1–3 of 7, newest first by page; older: `log connector email limit 3 page 2`',
    );
    await say('log connector email limit 3 page 3');
    expect(chat.texts().at(-1)).toMatch(/^\d\d:\d\d Spine proposed sending an e-mail to dana@example.com/);
    await say(`log goal #${sam} "friday"`);
    expect(chat.texts().at(-1)).toMatch(/You asked “email sam@example.com "Friday"/);
    await say('log since tomorrow-ish');
    expect(chat.texts().at(-1)).toContain('I don\'t understand the time "tomorrow-ish"');
    await say('log verify');
    expect(chat.texts().at(-1)).toMatch(/^ledger intact: \d+ events/);
  });

  it('tells a goal step by step: nodes, memory pointers, model calls and cost, the approval and the connector call', async () => {
    const test = await freshSpine(invoiceReminderOptions());
    const { say, chat, spine } = test;
    await runInvoiceReminder(test);
    const goal = (await spine.repos.goals.recent(spine.operator.id, 1))[0];
    if (!goal) throw new Error('no goal');

    const forensics = await goalForensics(
      { db: spine.db.pool, checkpointer: goalCheckpointer(spine) },
      spine.operator.id,
      goal.id,
    );
    expect(forensics.goal).toMatchObject({ id: goal.id, status: 'done', channel: 'console' });
    expect(forensics.steps.map((step) => step.node)).toEqual([
      'retrieve',
      'plan',
      'guard',
      'requestApproval',
      'awaitApproval',
      'execute',
      'report',
      'remember',
    ]);
    const plan = forensics.steps.find((step) => step.node === 'plan');
    expect(plan?.memories).toEqual([
      expect.objectContaining({ kind: 'fact', snippet: 'Dana pays invoices late', source: 'console' }),
    ]);
    expect(plan?.outputs).toEqual([
      { field: 'planned', summary: expect.stringContaining('actions email.send_email') },
    ]);
    expect(plan?.modelCalls.length).toBeGreaterThan(0);
    const wait = forensics.steps.find((step) => step.node === 'awaitApproval');
    expect(wait?.interrupted).toEqual({
      waitingFor: `approval #${forensics.approvals[0]?.id}`,
      resumedWith: expect.stringContaining('approvalId'),
    });
    expect(forensics.approvals).toEqual([
      expect.objectContaining({ status: 'approved', decidedBy: 'console:local', decidedVia: 'console' }),
    ]);
    expect(forensics.actions).toEqual([
      expect.objectContaining({
        connector: 'email',
        operation: 'send_email',
        status: 'succeeded',
        result: expect.stringContaining('dana@example.com'),
      }),
    ]);
    expect(forensics.modelCalls.length).toBe(2);
    expect(forensics.totalCostUsd).toBeGreaterThan(0);

    await say(`goal #${goal.id}`);
    const text = chat.texts().at(-1) ?? '';
    expect(text).toContain(`Goal #${goal.id} (done): “send Dana the invoice reminder”`);
    expect(text).toMatch(/1\. plan — .*\n\s+in: {2}message “send Dana the invoice reminder”/);
    expect(text).toMatch(/memory #\d+ \(fact, from console\): “Dana pays invoices late”/);
    expect(text).toMatch(/model: plan on openai:gpt-4o-mini, 1000\+200 tokens, \$0\.\d{4}/);
    expect(text).toMatch(/paused for approval #\d+; resumed with/);
    expect(text).toMatch(/approval #\d+ for action #\d+: approved by you \(console:local\) via the console/);
    expect(text).toMatch(
      /action #\d+ email\.send_email \(write\): sending an e-mail to dana@example.com .* — succeeded/,
    );
    expect(text).toMatch(/Model calls: 2, cost \$0\.\d{4}/);

    await say('goal 999999');
    expect(chat.texts().at(-1)).toBe('There is no goal #999999. Say `log` to see recent goals.');
  });
});
