import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChatApp, startChatApp } from '../support/chat-app.ts';
import { launchChromium } from '../support/chromium.ts';
import { ConsoleClient } from '../support/console-client.ts';
import { TestDatabases } from '../support/databases.ts';
import { dmEvent, postToSlack } from '../support/slack-requests.ts';
import { postToTelegram, textUpdate } from '../support/telegram-updates.ts';

function hasButtons(blocks: unknown): boolean {
  return Array.isArray(blocks) && blocks.some((block: { type?: string }) => block.type === 'actions');
}

describe('the web console from chat, in a real browser (Slack and Telegram, server Postgres)', () => {
  const databases = new TestDatabases('server');
  let app: ChatApp;
  let browser: Browser;

  beforeAll(async () => {
    app = await startChatApp(await databases.open());
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await databases.closeAll();
  });

  it('logs in with the link from Slack, approves in the inbox, and the Slack card and the e-mail follow once', async () => {
    // A goal that needs approval: its card (with buttons) is posted in the DM.
    await postToSlack(
      app.baseUrl,
      dmEvent({ text: 'email dana@example.com "Tuesday" Tuesday works for me.' }),
    );
    await app.spine.runner.idle();
    await app.slack.waitFor((calls) => calls.some((call) => hasButtons(call.params.blocks)));
    const [approval] = await app.spine.repos.approvals.listPending(app.spine.operator.id);
    if (!approval) throw new Error('expected a pending approval');
    const cardTs = approval.cards[0]?.messageId;

    // The one-time link, from the chat.
    await postToSlack(app.baseUrl, dmEvent({ text: 'console' }));
    await app.slack.waitFor((calls) =>
      calls.some((call) => JSON.stringify(call.params).includes('/console/login')),
    );
    const posted = app.slack
      .of('chat.postMessage')
      .find((call) => String(call.params.text).includes('/console/login'));
    const token = /\/console\/login\?token=([A-Za-z0-9_-]+)/.exec(String(posted?.params.text))?.[1];
    expect(token).toBeDefined();

    const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
    await page.goto(`${app.baseUrl}/console/login?token=${token}`);
    await page.waitForURL(`${app.baseUrl}/console`);
    expect(await page.locator('main').innerText()).toContain('You logged in to the web console (via Slack)');
    const cookies = await page.context().cookies();
    expect(cookies.find((cookie) => cookie.name === 'spine_console')).toMatchObject({
      httpOnly: true,
      sameSite: 'Strict',
      path: '/console',
    });

    await page.getByRole('link', { name: /Approvals/ }).click();
    const card = page.locator(`#approval-${approval.id}`);
    expect(await card.innerText()).toContain('dana@example.com');
    await card.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(/notice=approval/);
    expect(await page.getByRole('status').innerText()).toContain(
      `Approval #${approval.id} is approved via the web console.`,
    );
    expect(await page.locator('main').innerText()).toContain('Nothing is waiting for your approval.');

    await app.spine.runner.idle();
    // The Slack card was updated in place: the decision shown, no live buttons.
    const updates = app.slack.of('chat.update').filter((call) => call.params.ts === cardTs);
    const last = updates.at(-1);
    expect(last).toBeDefined();
    expect(hasButtons(last?.params.blocks)).toBe(false);
    expect(JSON.stringify(last?.params.blocks)).toContain('via the web console');
    // And the action ran exactly once.
    expect(app.sentEmails()).toHaveLength(1);
    const action = await app.spine.db.pool.query('SELECT status, attempts FROM actions WHERE id = $1', [
      approval.actionId,
    ]);
    expect(action.rows[0]).toMatchObject({ status: 'succeeded', attempts: 1 });

    // The goal page shows the story of it: the graph's steps in order, then the approval and the call.
    await page.goto(`${app.baseUrl}/console/goals/${approval.goalId}`);
    const story = await page.locator('main').innerText();
    expect(story).toContain('email.send_email');
    expect(story).toContain('approved');
    const steps = await page.locator('ol.steps > li > strong').allInnerTexts();
    expect(steps).toEqual(expect.arrayContaining(['plan', 'awaitApproval', 'execute']));
    expect(steps.indexOf('plan')).toBeLessThan(steps.indexOf('execute'));
    expect(story).toMatch(/paused for approval #\d+; resumed with/);
    expect(story).toContain('succeeded, 1 attempt');

    // The timeline filtered by connector in the form, then the ledger checked on demand.
    await page.getByRole('link', { name: 'Timeline' }).click();
    await page.getByLabel('Connector').fill('email');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/connector=email/);
    const emailOnly = await page.locator('ol.timeline').innerText();
    expect(emailOnly).toContain('dana@example.com');
    expect(emailOnly).not.toContain('logged in to the web console');
    await page.getByRole('link', { name: 'Verify ledger' }).click();
    await page.waitForURL(/verify=1/);
    expect(await page.locator('#ledger-verdict').innerText()).toMatch(/^ledger intact: \d+ events/);
  }, 180_000);

  it('gives the link in Telegram too (the operator only), and it opens a session once', async () => {
    await postToTelegram(app.baseUrl, textUpdate({ text: '/console', from: 999 }));
    await postToTelegram(app.baseUrl, textUpdate({ text: '/console' }));
    await app.spine.runner.idle();
    const replies = app.telegram.of('sendMessage').map((call) => String(call.params.text));
    const links = replies.filter((text) => text.includes('/console/login?token='));
    expect(links).toHaveLength(1);
    expect(
      app.telegram.of('sendMessage').find((call) => String(call.params.text).includes('/console/login'))
        ?.params.chat_id,
    ).toBe('456');
    const link = /https?:\/\/\S+token=[A-Za-z0-9_-]+/.exec(links[0] ?? '')?.[0] ?? '';
    const client = new ConsoleClient(app.baseUrl);
    expect((await client.login(link)).status).toBe(303);
    expect(await (await client.get('/console')).text()).toContain(
      'You logged in to the web console (via Telegram)',
    );
    expect((await new ConsoleClient(app.baseUrl).login(link)).status).toBe(401);
  }, 120_000);
});
