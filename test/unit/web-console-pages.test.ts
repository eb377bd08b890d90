import { describe, expect, it } from 'vitest';
import { parseChatCommand } from '../../core/commands.ts';
import type { Action, Approval, Failure } from '../../core/domain.ts';
import { LogFilterError } from '../../ledger/log-filter.ts';
import { logFilter } from '../../web/console-data.ts';
import { escapeHtml, html } from '../../web/html.ts';
import type { DailyBusinessMetrics } from '../../web/metrics-source.ts';
import { approvalsPage, editApprovalPage } from '../../web/pages/approvals-page.ts';
import { failuresPage } from '../../web/pages/failures-page.ts';
import { goalPage } from '../../web/pages/goals-page.ts';
import { loginPage } from '../../web/pages/login-page.ts';
import { metricsPage } from '../../web/pages/metrics-page.ts';
import { timelinePage } from '../../web/pages/timeline-page.ts';
import { parseTimelineFilters, readCookie } from '../../web/web-console.ts';

const EVIL = `<script>alert("x")</script>&'`;
const ESCAPED = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;';
const at = new Date('2026-03-02T09:15:00Z');

const action: Action = {
  id: 7,
  goalId: 3,
  operatorId: 1,
  connector: 'email',
  operation: 'send_email',
  params: { to: 'dana@example.com', subject: EVIL },
  risk: 'write',
  reversible: false,
  idempotencyKey: 'k',
  preview: {
    title: `Send an e-mail ${EVIL}`,
    doing: 'sending',
    done: 'sent',
    fields: [{ label: 'Subject', value: EVIL }],
    body: EVIL,
  },
  why: EVIL,
  status: 'awaiting_approval',
  result: null,
  error: null,
  createdAt: at,
  executedAt: null,
};
const approval: Approval = {
  id: 5,
  actionId: 7,
  goalId: 3,
  operatorId: 1,
  status: 'pending',
  decidedBy: null,
  decidedVia: null,
  decidedAt: null,
  cards: [],
  createdAt: at,
};
const common = { csrf: 'csrf-token-1' };

describe('html escaping', () => {
  it('escapes every interpolated value unless it is already markup', () => {
    expect(escapeHtml(EVIL)).toBe(ESCAPED);
    expect(html`<p title="${EVIL}">${EVIL}</p>`.value).toBe(`<p title="${ESCAPED}">${ESCAPED}</p>`);
    expect(html`<ul>${['<a>', html`<li>ok</li>`]}</ul>`.value).toBe('<ul>&lt;a&gt;<li>ok</li></ul>');
    expect(html`${null}${undefined}${false}${0}`.value).toBe('0');
  });
});

describe('console pages', () => {
  it('every page is a phone-ready document with local assets only', () => {
    const page = timelinePage({ entries: [], filters: {}, actors: [], olderBefore: null }, common);
    expect(page).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(page).toContain('href="/console/assets/console.css"');
    expect(page).not.toMatch(/(src|href)="https?:/);
    expect(page).toContain('name="csrf" value="csrf-token-1"');
  });

  it('the timeline escapes sentences and filters and keeps filters in the paging link', () => {
    const page = timelinePage(
      {
        entries: [{ id: 9, sentence: `09:15 You said ${EVIL}`, goalId: 3 }],
        filters: { text: EVIL, actor: 'operator', goalId: 3 },
        actors: ['operator', 'spine'],
        olderBefore: 9,
      },
      common,
    );
    expect(page).not.toContain('<script>alert');
    expect(page).toContain(`09:15 You said ${ESCAPED}`);
    expect(page).toContain(`value="${ESCAPED}"`);
    expect(page).toContain('<option value="operator" selected>you</option>');
    expect(page).toContain('href="/console?goal=3&amp;actor=operator&amp;text=');
    expect(page).toContain('before=9"');
    expect(page).toContain('verify=1">Verify ledger</a>');
  });

  it('the timeline keeps the connector and until filters and shows the ledger check', () => {
    const view = {
      entries: [],
      filters: { connector: 'email', since: 'yesterday', until: '2026-03-02' },
      actors: [],
      olderBefore: 4,
      total: 51,
    };
    const page = timelinePage(view, common);
    expect(page).toContain('name="connector" size="10" value="email"');
    expect(page).toContain(
      'name="until" size="12" placeholder="today, yesterday, 7d, 2026-11-20" value="2026-03-02"',
    );
    expect(page).toContain(
      'href="/console?connector=email&amp;since=yesterday&amp;until=2026-03-02&amp;before=4"',
    );
    expect(page).toContain('51 events match.');
    const intact = timelinePage(
      { ...view, verdict: { intact: true, line: 'ledger intact: 51 events' } },
      common,
    );
    expect(intact).toContain('<p class="card" id="ledger-verdict">ledger intact: 51 events</p>');
    expect(intact).not.toContain('>Verify ledger</a>');
    const broken = timelinePage(
      { ...view, verdict: { intact: false, line: 'ledger BROKEN at event #7: <x>' } },
      common,
    );
    expect(broken).toContain(
      '<p class="card problem" id="ledger-verdict">ledger BROKEN at event #7: &lt;x&gt;</p>',
    );
    expect(timelinePage({ ...view, problem: `I don't understand ${EVIL}` }, common)).toContain(
      `role="alert">I don&#39;t understand ${ESCAPED}`,
    );
  });

  it('the approvals inbox shows the structured fields with Approve / Reject forms and Edit', () => {
    const page = approvalsPage([{ approval, action }], common);
    expect(page).not.toContain('<script>alert');
    expect(page).toContain(`<dt>Subject</dt><dd>${ESCAPED}</dd>`);
    expect(page).toContain('action="/console/approvals/5/decide"');
    expect(page).toContain('name="decision" value="approve"');
    expect(page).toContain('name="decision" value="reject"');
    expect(page).toContain('href="/console/approvals/5/edit"');
    expect(approvalsPage([], common)).toContain('Nothing is waiting for your approval.');

    const edit = editApprovalPage(
      {
        approvalId: 5,
        action,
        fields: [
          { key: 'subject', value: EVIL, multiline: false },
          { key: 'body', value: 'long\ntext', multiline: true },
        ],
      },
      { ...common, problem: EVIL },
    );
    expect(edit).toContain(`name="field.subject" value="${ESCAPED}"`);
    expect(edit).toContain('<textarea id="field-body" name="field.body">long\ntext</textarea>');
    expect(edit).toContain(`role="alert">${ESCAPED}`);
  });

  it('the goal page shows its forensics: steps with inputs, outputs, pause and cost, then approvals and connector calls', () => {
    const call = {
      at,
      purpose: 'plan',
      model: 'gpt-x',
      inputTokens: 100,
      outputTokens: 20,
      costUsd: 0.0123,
      cached: false,
    };
    const step = {
      at,
      inputs: [],
      memories: [],
      outputs: [],
      interrupted: null,
      error: null,
      modelCalls: [],
    };
    const page = goalPage(
      {
        forensics: {
          goal: {
            id: 3,
            text: EVIL,
            status: 'done',
            channel: 'slack',
            requestedBy: 'slack:U123',
            createdAt: at,
            updatedAt: at,
          },
          steps: [
            {
              ...step,
              step: 1,
              node: 'plan',
              inputs: [`message “${EVIL}”`, '1 memory pointers'],
              memories: [{ id: 11, kind: 'fact', snippet: 'Dana pays late', source: 'console' }],
              outputs: [{ field: 'planned', summary: 'actions email.send_email' }],
              modelCalls: [call],
            },
            {
              ...step,
              step: 3,
              node: 'awaitApproval',
              interrupted: { waitingFor: 'approval #5', resumedWith: '{"decision":"approved"}' },
            },
            { ...step, step: 4, node: 'execute', inputs: ['actions #7'] },
          ],
          approvals: [
            {
              id: 5,
              actionId: 7,
              status: 'approved',
              decidedBy: 'web:slack:U123',
              decidedVia: 'web',
              decidedAt: at,
              createdAt: at,
            },
          ],
          actions: [
            {
              id: 7,
              connector: 'email',
              operation: 'send_email',
              risk: 'write',
              doing: 'sending',
              status: 'succeeded',
              attempts: 1,
              executedAt: at,
              result: 'sent',
              error: null,
              undoOf: null,
            },
          ],
          modelCalls: [call],
          totalCostUsd: 0.0123,
          checkpoints: 6,
        },
        actions: [{ ...action, status: 'succeeded', result: { messageId: '<m1@x>' }, executedAt: at }],
        events: [{ id: 1, sentence: '09:15 You approved sending', goalId: 3 }],
      },
      common,
    );
    expect(page).not.toContain('<script>alert');
    const order = ['<strong>plan</strong>', '<strong>awaitApproval</strong>', '<strong>execute</strong>'];
    const positions = order.map((node) => page.indexOf(node));
    expect(positions.every((position) => position > 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(page).toContain(`<li>in: message “${ESCAPED}”</li>`);
    expect(page).toContain('<li>memory #11 (fact, from console): “Dana pays late”</li>');
    expect(page).toContain('<li>out: planned = actions email.send_email</li>');
    expect(page).toContain('<li>model: plan on gpt-x, 100+20 tokens, $0.0123</li>');
    expect(page).toContain(
      'paused for approval #5; resumed with {&quot;decision&quot;:&quot;approved&quot;}',
    );
    expect(page.indexOf('Approvals and connector calls')).toBeGreaterThan(positions[2] ?? 0);
    expect(page).toContain('email.send_email');
    expect(page).toContain('&quot;messageId&quot;: &quot;&lt;m1@x&gt;&quot;');
    expect(page).toContain('#5 by web:slack:U123 via web');
    expect(page).toContain('<dt>Connector call</dt><dd>succeeded, 1 attempt at');
    expect(page).toContain('09:15 You approved sending');
    expect(page).toContain('Total: $0.0123 over 1 call.');
  });

  it('failures show only the remedies they offer, as forms', () => {
    const failure: Failure = {
      id: 4,
      goalId: null,
      actionId: null,
      operatorId: 1,
      kind: 'job_failed',
      message: EVIL,
      evidence: {},
      remediation: ['dismiss'],
      status: 'open',
      createdAt: at,
    };
    const page = failuresPage([failure], common);
    expect(page).toContain(`Failure #4 — ${ESCAPED}`);
    expect(page).toContain('name="remedy" value="dismiss"');
    expect(page).not.toContain('value="retry"');
  });

  it('metrics draw one inline SVG per series, or say there is no source', () => {
    expect(metricsPage(null, common)).toContain('No metrics source configured.');
    const days: DailyBusinessMetrics[] = ['2026-03-01', '2026-03-02'].map((day, index) => ({
      day,
      minutesSaved: 10 * (index + 1),
      actionsExecuted: index + 1,
      errorsIntroduced: 0,
      correctiveActions: 0,
      approvalsApproved: 1,
      approvalsEdited: 0,
      approvalsRejected: index,
      modelSpendUsd: 0.5 * index,
    }));
    const page = metricsPage(days, common);
    expect(page.match(/<svg class="chart"/g)).toHaveLength(8);
    expect(page).toContain('<title>2026-03-02: 20 min</title>');
    expect(page).toContain('30 min in 2 days');
    expect(page).toContain('<polyline class="line"');
  });

  it('the login page posts the token instead of spending it on GET', () => {
    const page = loginPage('tok"en');
    expect(page).toContain('<form class="card" method="post" action="/console/login" data-autosubmit>');
    expect(page).toContain('name="token" value="tok&quot;en"');
  });
});

describe('request parsing', () => {
  it('`console` asks for a login link', () => {
    for (const text of ['console', '/console', 'web console', 'Console link'])
      expect(parseChatCommand(text), text).toEqual({ kind: 'console' });
    expect(parseChatCommand('console me about Dana')).toBeNull();
  });

  it('reads the timeline filters and ignores malformed ones', () => {
    expect(
      parseTimelineFilters(
        new URLSearchParams(
          'goal=%2312&connector=email&actor=spine&text=+invoice+&since=2026-03-01&until=yesterday&before=40',
        ),
      ),
    ).toEqual({
      goalId: 12,
      connector: 'email',
      actor: 'spine',
      text: 'invoice',
      since: '2026-03-01',
      until: 'yesterday',
      before: 40,
    });
    expect(parseTimelineFilters(new URLSearchParams('goal=x&since=+&before=-1'))).toEqual({});
  });

  it('reads since / until like chat does, and says what it cannot read', () => {
    const now = new Date('2026-03-02T12:00:00Z');
    expect(
      logFilter({ since: 'yesterday', until: 'yesterday', connector: 'Email' }, { now, timezone: 'UTC' }),
    ).toEqual({
      since: new Date('2026-03-01T00:00:00Z'),
      until: new Date('2026-03-02T00:00:00Z'),
      connector: 'email',
    });
    expect(() => logFilter({ since: 'last tuesday' }, { now, timezone: 'UTC' })).toThrow(LogFilterError);
  });

  it('reads one cookie from the header', () => {
    expect(readCookie('a=1; spine_console=abc=; b=2', 'spine_console')).toBe('abc=');
    expect(readCookie(undefined, 'spine_console')).toBeUndefined();
  });
});
