import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startHttpServer } from '../../app/http-server.ts';
import { readEventLog } from '../../ledger/event-log.ts';
import { ConsoleClient } from '../support/console-client.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { invoiceReminderOptions, runInvoiceReminder } from '../support/invoice-reminder.ts';
import { smtpEnv } from '../support/sink-config.ts';
import { useSmtpSinks } from '../support/smtp-sinks.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

const EMAIL = 'email dana@example.com "Tuesday" Tuesday works for me.';

describe.each(DATABASE_KINDS)('web console routes over HTTP (%s)', { timeout: 180_000 }, (kind) => {
  const databases = new TestDatabases(kind);
  const running: Array<{ test: TestSpine; server: Server }> = [];
  const sinks = useSmtpSinks();

  afterAll(async () => {
    for (const { test, server } of running) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await test.spine.close();
    }
    await databases.closeAll();
  });

  async function start(
    options: Parameters<typeof createTestSpine>[1] = {},
  ): Promise<{ test: TestSpine; client: ConsoleClient }> {
    const test = await createTestSpine(await databases.open(), options);
    const server = await startHttpServer({
      port: 0,
      db: test.spine.db,
      logger: pino({ level: 'silent' }),
      mounts: [test.spine.webConsole],
    });
    running.push({ test, server });
    return { test, client: new ConsoleClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`) };
  }

  /** Log in after `before` ran (long work between requests would outlive the keep-alive socket). */
  async function loggedIn(
    before: (test: TestSpine) => Promise<void> = async () => {},
    options: Parameters<typeof createTestSpine>[1] = {},
  ): Promise<{ test: TestSpine; client: ConsoleClient }> {
    const started = await start(options);
    await before(started.test);
    await started.test.say('console');
    const link = /https?:\/\/\S+/.exec(started.test.chat.texts().at(-1) ?? '')?.[0] ?? '';
    expect(link).toMatch(/^http:\/\/localhost:3000\/console\/login\?token=/);
    const response = await started.client.login(link);
    expect(response.status).toBe(303);
    return started;
  }

  it('needs a session for every page, and a login link opens one with a strict cookie', async () => {
    const { test, client } = await start();
    for (const path of [
      '/console',
      '/console/goals',
      '/console/approvals',
      '/console/failures',
      '/console/metrics',
    ]) {
      const response = await client.get(path);
      expect(response.status, path).toBe(401);
      expect(await response.text()).toContain('type <code>console</code>');
    }
    await test.say('console');
    const link = /https?:\/\/\S+/.exec(test.chat.texts().at(-1) ?? '')?.[0] ?? '';
    // Opening the link shows a form that posts the token: a link preview does not spend it.
    const page = await client.get(new URL(link).pathname + new URL(link).search);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const response = await client.login(link);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/console');
    const cookie = response.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(
      /^spine_console=[A-Za-z0-9_-]{43}; Path=\/console; HttpOnly; SameSite=Strict; Max-Age=604800$/,
    );
    const timeline = await client.get('/console');
    expect(timeline.status).toBe(200);
    expect(await timeline.text()).toContain('You logged in to the web console (via the console)');

    // The same link again: refused.
    const again = new ConsoleClient(client.baseUrl);
    expect((await again.login(link)).status).toBe(401);
    expect((await again.get('/console')).status).toBe(401);
  });

  it('approves from the inbox through the chat path: card updated, e-mail sent once, CSRF required', async () => {
    // Counted at an SMTP server that keeps every message (the outbox would overwrite a repeat).
    const smtp = await sinks.start();
    const { test, client } = await loggedIn(async () => {}, { env: smtpEnv(smtp) });
    const { spine, chat } = test;
    await test.say(EMAIL);
    const [approval] = await spine.repos.approvals.listPending(spine.operator.id);
    if (!approval) throw new Error('expected a pending approval');
    const inbox = await (await client.get('/console/approvals')).text();
    expect(inbox).toContain(`Approval #${approval.id}`);
    expect(inbox).toContain('dana@example.com');
    expect(inbox).toContain('Approvals (1)');

    // Without the CSRF token: refused, nothing decided.
    const forged = await client.request('POST', `/console/approvals/${approval.id}/decide`, {
      decision: 'approve',
    });
    expect(forged.status).toBe(403);
    expect((await spine.repos.approvals.get(approval.id))?.status).toBe('pending');

    // Edit first (the same fields as chat), then approve twice: one decision, one e-mail.
    const edit = await (await client.get(`/console/approvals/${approval.id}/edit`)).text();
    expect(edit).toContain('name="field.subject"');
    const edited = await client.post(
      `/console/approvals/${approval.id}/edit`,
      { 'field.subject': 'Tuesday <3pm>' },
      '/console/approvals',
    );
    expect(edited.status).toBe(303);
    expect((await spine.repos.actions.get(approval.actionId))?.params.subject).toBe('Tuesday <3pm>');
    expect(await (await client.get('/console/approvals')).text()).toContain('Tuesday &lt;3pm&gt;');

    for (let click = 0; click < 2; click += 1) {
      const response = await client.post(
        `/console/approvals/${approval.id}/decide`,
        { decision: 'approve' },
        '/console/goals',
      );
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toBe(`/console/approvals?notice=approval&id=${approval.id}`);
    }
    await spine.runner.idle();
    const decided = await spine.repos.approvals.get(approval.id);
    expect(decided).toMatchObject({ status: 'approved', decidedVia: 'web', decidedBy: 'web:console:local' });
    expect((await spine.repos.actions.get(approval.actionId))?.status).toBe('succeeded');
    expect(smtp.accepted).toHaveLength(1);
    expect(smtp.accepted[0]?.raw).toContain('Subject: Tuesday <3pm>');
    const card = chat.updates.filter((update) => update.message.text.startsWith('Approved:')).at(-1);
    expect(card?.message.blocks?.some((block) => block.type === 'buttons')).toBe(false);
    expect(JSON.stringify(card?.message.blocks)).toContain('via the web console');
    const notice = await (await client.get(`/console/approvals?notice=approval&id=${approval.id}`)).text();
    expect(notice).toContain(`Approval #${approval.id} is approved via the web console.`);

    const goal = await (await client.get(`/console/goals/${approval.goalId}`)).text();
    expect(goal).toContain('<strong>plan</strong>');
    expect(goal).toContain('No model calls (offline rules).');
    expect(goal).toContain('email.send_email');
    expect(goal).toContain('Tuesday &lt;3pm&gt;');
    expect(goal).toContain('succeeded');
    const otherGoal = await client.get(`/console/goals/${approval.goalId + 1000}`);
    expect(otherGoal.status).toBe(404);

    // The console's metrics source (the ledger's) counts today's work: one e-mail (5 manual minutes),
    // approved after an edit — an edit before approval is a correction of Spine's proposal.
    const days = await spine.businessMetrics.daily(spine.operator.id, { days: 30 });
    expect(days).toHaveLength(30);
    expect(days.at(-1)).toMatchObject({
      minutesSaved: 5,
      approvalsApproved: 0,
      approvalsEdited: 1,
      approvalsRejected: 0,
      errorsIntroduced: 1,
    });
    expect(days.at(-1)?.actionsExecuted).toBeGreaterThanOrEqual(1);
  });

  it('filters and pages the timeline, applies failure remedies, draws metrics, and logs out', async () => {
    const { test, client } = await loggedIn(async (test) => {
      for (let index = 0; index < 30; index += 1)
        await test.say(`remember that fact ${index} is <b>${index}</b>`);
    });
    const { spine } = test;
    const filtered = await (await client.get('/console?text=fact+7+is')).text();
    expect(filtered).toContain('fact 7 is &lt;b&gt;7&lt;/b&gt;');
    expect(filtered).not.toContain('fact 8 is');
    const first = await (await client.get('/console')).text();
    const older = /href="(\/console\?before=\d+)"/.exec(first.replaceAll('&amp;', '&'))?.[1];
    expect(older).toBeDefined();
    const second = await (await client.get(older ?? '')).text();
    expect(first).toContain('logged in to the web console');
    expect(first).not.toContain('fact 0 is');
    expect(second).toContain('fact 0 is');
    const byActor = await (await client.get('/console?actor=spine')).text();
    expect(byActor).not.toContain('You logged in');
    // since / until read like chat's `log`; an unreadable one is said, not ignored.
    expect(await (await client.get('/console?text=fact+7+is&until=yesterday')).text()).toContain(
      'No events match.',
    );
    expect(await (await client.get('/console?text=fact+7+is&since=1h')).text()).toContain('fact 7 is');
    expect(await (await client.get('/console?since=someday')).text()).toContain(
      'I don&#39;t understand the time &quot;someday&quot;',
    );
    // The ledger check runs on demand and names a break.
    expect(first).toContain('>Verify ledger</a>');
    const verified = await (await client.get('/console?verify=1')).text();
    expect(verified).toMatch(/id="ledger-verdict">ledger intact: \d+ events/);
    const tampered = (
      await readEventLog(spine.db.pool, spine.operator.id, { text: 'fact 3 is' }, { page: 1, limit: 1 })
    ).events[0];
    if (!tampered) throw new Error('expected the event of fact 3');
    await spine.db.pool.query('ALTER TABLE events DISABLE TRIGGER events_append_only');
    await spine.db.pool.query(`UPDATE events SET object = 'rewritten' WHERE id = $1`, [tampered.id]);
    await spine.db.pool.query('ALTER TABLE events ENABLE TRIGGER events_append_only');
    expect(await (await client.get('/console?verify=1')).text()).toContain(
      `id="ledger-verdict">ledger BROKEN at event #${tampered.id}: event #${tampered.id} was changed after it was written.`,
    );

    const failure = await spine.repos.failures.insert({
      goalId: null,
      actionId: null,
      operatorId: spine.operator.id,
      kind: 'digest_failed',
      message: 'The digest could not be sent <today>.',
      evidence: {},
      remediation: ['retry', 'dismiss'],
    });
    const failures = await (await client.get('/console/failures')).text();
    expect(failures).toContain('The digest could not be sent &lt;today&gt;.');
    const dismissed = await client.post(`/console/failures/${failure.id}/remedy`, { remedy: 'dismiss' });
    expect(dismissed.status).toBe(303);
    expect((await spine.repos.failures.get(failure.id))?.status).toBe('dismissed');

    const metrics = await (await client.get('/console/metrics')).text();
    expect(metrics).toContain('<svg class="chart"');
    expect(metrics).toContain('Minutes saved');

    const logout = await client.post('/console/logout', {});
    expect(logout.headers.get('set-cookie')).toContain('Max-Age=0');
    expect((await client.get('/console')).status).toBe(401);
  });

  it('shows a goal step by step from the ledger: nodes, memory pointers, model calls and cost; filters by connector', async () => {
    const { test, client } = await loggedIn(async (test) => {
      await runInvoiceReminder(test);
      await test.say('remember that Sam likes tea');
    }, invoiceReminderOptions());
    const goal = (await test.spine.repos.goals.recent(test.spine.operator.id, 5)).find(
      (candidate) => candidate.text === 'send Dana the invoice reminder',
    );
    if (!goal) throw new Error('no goal');
    const page = await (await client.get(`/console/goals/${goal.id}`)).text();
    const nodes = ['plan', 'awaitApproval', 'execute'].map((node) =>
      page.indexOf(`<strong>${node}</strong>`),
    );
    expect(nodes.every((position) => position > 0)).toBe(true);
    expect([...nodes].sort((a, b) => a - b)).toEqual(nodes);
    expect(page).toMatch(/memory #\d+ \(fact, from console\): “Dana pays invoices late”/);
    expect(page).toMatch(/model: plan on openai:gpt-4o-mini, 1000\+200 tokens, \$0\.\d{4}/);
    expect(page).toMatch(/paused for approval #\d+; resumed with/);
    expect(page).toMatch(/<dt>Connector call<\/dt><dd>succeeded, 1 attempt at/);
    expect(page).toMatch(/Total: \$0\.\d{4} over 2 calls\./);
    expect(page.indexOf('Approvals and connector calls')).toBeGreaterThan(nodes[2] ?? 0);

    // The timeline's connector filter: only the e-mail's events, not the memory's.
    const email = await (await client.get('/console?connector=email')).text();
    expect(email).toContain('dana@example.com');
    expect(email).not.toContain('Sam likes tea');
    expect(email).toContain('name="connector" size="10" value="email"');
    expect(await (await client.get('/console')).text()).toContain('Sam likes tea');
  });
});
