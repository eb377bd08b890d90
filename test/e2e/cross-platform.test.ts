import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChatApp, startChatApp } from '../support/chat-app.ts';
import { TestDatabases } from '../support/databases.ts';
import { blockAction, dmEvent, otherEvent, postToSlack } from '../support/slack-requests.ts';
import { postToTelegram, textUpdate } from '../support/telegram-updates.ts';

describe('one operator on Slack and Telegram (server Postgres)', () => {
  const databases = new TestDatabases('server');
  let app: ChatApp;

  beforeAll(async () => {
    app = await startChatApp(await databases.open());
  });

  afterAll(async () => {
    await app.close();
    await databases.closeAll();
  });

  async function latestApproval(): Promise<{
    id: number;
    cards: Array<{ channel: string; messageId: string }>;
  }> {
    const result = await app.spine.db.pool.query('SELECT id, cards FROM approvals ORDER BY id DESC LIMIT 1');
    return { id: Number(result.rows[0]?.id), cards: result.rows[0]?.cards ?? [] };
  }

  it('shares one memory: told in Slack, recalled in Telegram', async () => {
    await postToSlack(app.baseUrl, dmEvent({ text: 'remember that the accountant is called Priya' }));
    await app.spine.runner.idle();
    await postToTelegram(app.baseUrl, textUpdate({ text: 'what do you know about the accountant?' }));
    await app.spine.runner.idle();
    expect(String(app.telegram.of('sendMessage').at(-1)?.params.text)).toContain('Priya');
  });

  it('approves in Slack (App Home) a goal started in Telegram, and updates the Telegram card', async () => {
    await postToTelegram(
      app.baseUrl,
      textUpdate({ text: 'email priya@example.com "Books" The books are ready.' }),
    );
    await app.spine.runner.idle();
    const approval = await latestApproval();
    expect(approval.cards.map((card) => card.channel)).toEqual(['telegram']);
    // The Slack App Home lists it with live buttons; the operator clicks Approve there.
    await postToSlack(
      app.baseUrl,
      otherEvent({ type: 'app_home_opened', user: 'U123', channel: 'D1', tab: 'home' }),
    );
    expect(JSON.stringify(app.slack.of('views.publish').at(-1)?.params.view)).toContain(
      `approval:approve:${approval.id}`,
    );
    const sentBefore = app.sentEmails().length;
    const response = await postToSlack(
      app.baseUrl,
      blockAction({ actionId: `approval:approve:${approval.id}`, fromHome: true }),
    );
    expect(response.status).toBe(200);
    await app.spine.runner.idle();
    expect(app.sentEmails().length).toBe(sentBefore + 1);
    const edit = app.telegram
      .of('editMessageText')
      .find((call) => String(call.params.message_id) === approval.cards[0]?.messageId);
    expect(String(edit?.params.text)).toMatch(/Approved by Ada on .* via Slack/);
    expect(edit?.params.reply_markup).toEqual({ inline_keyboard: [] });
  });

  it('approves in Telegram a goal started in Slack, and updates the Slack card', async () => {
    await postToSlack(app.baseUrl, dmEvent({ text: 'email priya@example.com "Invoice" Invoice attached.' }));
    await app.spine.runner.idle();
    const approval = await latestApproval();
    expect(approval.cards.map((card) => card.channel)).toEqual(['slack']);
    const sentBefore = app.sentEmails().length;
    await postToTelegram(app.baseUrl, textUpdate({ text: `approve #${approval.id}` }));
    await app.spine.runner.idle();
    expect(app.sentEmails().length).toBe(sentBefore + 1);
    const update = app.slack
      .of('chat.update')
      .find((call) => call.params.ts === approval.cards[0]?.messageId);
    expect(JSON.stringify(update?.params.blocks)).toMatch(/Approved by Ada on .* via Telegram/);
    expect(JSON.stringify(update?.params.blocks)).not.toContain('"actions"');
  });
});
