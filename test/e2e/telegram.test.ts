import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChatApp,
  startChatApp,
  TELEGRAM_BOT_TOKEN,
  TELEGRAM_WEBHOOK_SECRET,
} from '../support/chat-app.ts';
import { TestDatabases } from '../support/databases.ts';
import { callbackUpdate, documentUpdate, postToTelegram, textUpdate } from '../support/telegram-updates.ts';

const EMAIL = 'email dana@example.com "Tuesday" Tuesday works for me.';

interface Keyboard {
  inline_keyboard: Array<Array<{ text: string; callback_data: string }>>;
}

describe('Telegram over real HTTP (server Postgres)', () => {
  const databases = new TestDatabases('server');
  const apps: ChatApp[] = [];
  let app: ChatApp;

  async function freshApp(options: Parameters<typeof startChatApp>[1] = {}): Promise<ChatApp> {
    const started = await startChatApp(await databases.open(), options);
    apps.push(started);
    return started;
  }

  /** Ask for an e-mail and return the card's approval id, its buttons and its message id. */
  async function emailCard(
    target: ChatApp,
  ): Promise<{ approvalId: number; buttons: string[]; messageId: number }> {
    const response = await postToTelegram(target.baseUrl, textUpdate({ text: EMAIL }));
    expect(response.status).toBe(200);
    await target.spine.runner.idle();
    const card = target.telegram.of('sendMessage').findLast((call) => call.params.reply_markup !== undefined);
    const keyboard = card?.params.reply_markup as Keyboard | undefined;
    const approvals = await target.spine.db.pool.query(
      'SELECT id, cards FROM approvals ORDER BY id DESC LIMIT 1',
    );
    const cardRef = ((approvals.rows[0]?.cards ?? []) as Array<{ messageId: string }>)[0];
    return {
      approvalId: Number(approvals.rows[0]?.id),
      buttons: (keyboard?.inline_keyboard ?? []).flat().map((button) => button.callback_data),
      messageId: Number(cardRef?.messageId),
    };
  }

  beforeAll(async () => {
    app = await freshApp();
  });

  afterAll(async () => {
    for (const started of apps) await started.close();
    await databases.closeAll();
  });

  it('registers the webhook with its secret and the command menu at start', () => {
    const webhook = app.telegram.of('setWebhook')[0];
    expect(webhook?.params.url).toBe('https://spine.example.com/telegram/webhook');
    expect(webhook?.params.secret_token).toBe(TELEGRAM_WEBHOOK_SECRET);
    const commands = (app.telegram.of('setMyCommands')[0]?.params.commands ?? []) as Array<{
      command: string;
    }>;
    expect(commands.map((command) => command.command)).toEqual([
      'start',
      'help',
      'status',
      'log',
      'digest',
      'console',
    ]);
    expect(app.telegram.calls[0]?.token).toBe(TELEGRAM_BOT_TOKEN);
  });

  it('refuses a webhook request without the secret (401) or with a wrong one (403), writing nothing', async () => {
    const tables = ['goals', 'inbox', 'events'];
    const before = await Promise.all(tables.map((table) => app.count(table)));
    const update = textUpdate({ text: 'remember that this must not be stored' });
    expect((await postToTelegram(app.baseUrl, update, null)).status).toBe(401);
    expect((await postToTelegram(app.baseUrl, update, 'wrong-secret-wrong-secret')).status).toBe(403);
    expect((await postToTelegram(app.baseUrl, update, `${TELEGRAM_WEBHOOK_SECRET}x`)).status).toBe(403);
    expect(await Promise.all(tables.map((table) => app.count(table)))).toEqual(before);
  });

  it('turns a private message into a goal and replies quoting it, in HTML', async () => {
    const update = textUpdate({ text: 'remember that Dana likes <b>bold</b> & tea' });
    const response = await postToTelegram(app.baseUrl, update);
    expect(response.status).toBe(200);
    await app.spine.runner.idle();
    const reply = app.telegram.of('sendMessage').at(-1);
    const messageId = (update.message as { message_id: number }).message_id;
    expect(reply?.params.chat_id).toBe('456');
    expect(reply?.params.parse_mode).toBe('HTML');
    expect(reply?.params.reply_parameters).toMatchObject({ message_id: messageId });
    expect(String(reply?.params.text)).toContain('&lt;b&gt;bold&lt;/b&gt; &amp; tea');
  });

  it('records an update delivered twice (and twice at once) as one goal', async () => {
    const before = await app.count('goals');
    const update = textUpdate({ text: 'remember that duplicates are ignored' });
    const responses = await Promise.all([
      postToTelegram(app.baseUrl, update),
      postToTelegram(app.baseUrl, update),
    ]);
    responses.push(await postToTelegram(app.baseUrl, update));
    for (const response of responses) expect(response.status).toBe(200);
    expect(await app.count('goals')).toBe(before + 1);
    await app.spine.runner.idle();
  });

  it('takes group messages only when the bot is mentioned or replied to', async () => {
    const before = await app.count('goals');
    await postToTelegram(app.baseUrl, textUpdate({ text: 'lunch anyone?', chatId: -100 }));
    expect(await app.count('goals')).toBe(before);
    await postToTelegram(
      app.baseUrl,
      textUpdate({ text: '@spine_bot remember that the team lunch is Friday', chatId: -100 }),
    );
    await postToTelegram(
      app.baseUrl,
      textUpdate({ text: 'remember that replies count too', chatId: -100, replyToBot: true }),
    );
    expect(await app.count('goals')).toBe(before + 2);
    const goal = await app.spine.db.pool.query('SELECT text FROM goals ORDER BY id DESC LIMIT 2');
    expect(goal.rows.map((row) => row.text)).toContain('remember that the team lunch is Friday');
    await app.spine.runner.idle();
  });

  it('answers /status and /help@spine_bot as commands', async () => {
    const before = await app.count('goals');
    await postToTelegram(app.baseUrl, textUpdate({ text: '/status' }));
    expect(String(app.telegram.of('sendMessage').at(-1)?.params.text)).toMatch(/goals|approval/i);
    await postToTelegram(app.baseUrl, textUpdate({ text: '/help@spine_bot' }));
    expect(String(app.telegram.of('sendMessage').at(-1)?.params.text)).toContain('Here is what I understand');
    expect(await app.count('goals')).toBe(before);
  });

  it('executes an approval once for two taps and ten parallel taps, answers every callback, and edits the card', async () => {
    const { approvalId, buttons, messageId } = await emailCard(app);
    expect(buttons).toEqual([`approval:approve:${approvalId}`, `approval:reject:${approvalId}`]);
    for (const data of buttons) expect(Buffer.byteLength(data)).toBeLessThanOrEqual(64);
    const sentBefore = app.sentEmails().length;
    const answeredBefore = app.telegram.of('answerCallbackQuery').length;
    const tap = () =>
      postToTelegram(app.baseUrl, callbackUpdate({ data: `approval:approve:${approvalId}`, messageId }));
    const responses = [await tap(), await tap(), ...(await Promise.all(Array.from({ length: 10 }, tap)))];
    for (const response of responses) expect(response.status).toBe(200);
    await app.spine.runner.idle();
    expect(app.sentEmails().length).toBe(sentBefore + 1);
    expect(app.telegram.of('answerCallbackQuery').length).toBe(answeredBefore + 12);
    const edits = app.telegram
      .of('editMessageText')
      .filter((call) => Number(call.params.message_id) === messageId);
    expect(edits.length).toBe(1);
    expect(edits[0]?.params.reply_markup).toEqual({ inline_keyboard: [] });
    expect(String(edits[0]?.params.text)).toMatch(/Approved by Ada on .* via Telegram/);
  });

  it("refuses a stranger's tap and tampered callback data, answering each, executing nothing", async () => {
    const { approvalId, messageId } = await emailCard(app);
    const sentBefore = app.sentEmails().length;
    const answeredBefore = app.telegram.of('answerCallbackQuery').length;
    const strangerEvents = () =>
      app.count('events', `actor = 'telegram:777' AND verb = 'was refused when trying to'`);
    const eventsBefore = await strangerEvents();
    const taps = [
      callbackUpdate({ data: `approval:approve:${approvalId}`, from: 777, chatId: 777, messageId }),
      callbackUpdate({ data: `approval:approve:${approvalId + 500}`, from: 777, chatId: 777, messageId }),
      callbackUpdate({ data: 'approval:approve:x', messageId }),
      callbackUpdate({ data: `${'A'.repeat(64)}`, messageId }),
    ];
    for (const tap of taps) expect((await postToTelegram(app.baseUrl, tap)).status).toBe(200);
    await app.spine.runner.idle();
    expect(app.sentEmails().length).toBe(sentBefore);
    expect(app.telegram.of('answerCallbackQuery').length).toBe(answeredBefore + 4);
    // One refusal event per stranger per day, however many attempts.
    expect(await strangerEvents()).toBe(eventsBefore + 1);
    const approval = await app.spine.db.pool.query('SELECT status FROM approvals WHERE id = $1', [
      approvalId,
    ]);
    expect(approval.rows[0]?.status).toBe('pending');
    await postToTelegram(app.baseUrl, callbackUpdate({ data: `approval:reject:${approvalId}`, messageId }));
    await app.spine.runner.idle();
  });

  it('refuses a stranger politely and records no goal', async () => {
    const before = await app.count('goals');
    await postToTelegram(app.baseUrl, textUpdate({ text: 'pay invoice 12', from: 777 }));
    expect(await app.count('goals')).toBe(before);
    expect(String(app.telegram.of('sendMessage').at(-1)?.params.text)).toContain(
      'I only work for my operator',
    );
  });

  it('survives a 100 KB message, a photo, binary junk, malformed JSON and unknown update types', async () => {
    const before = await app.count('goals');
    expect((await postToTelegram(app.baseUrl, textUpdate({ text: 'y'.repeat(100_000) }))).status).toBe(200);
    expect(String(app.telegram.of('sendMessage').at(-1)?.params.text)).toContain('too long');
    const photo = textUpdate({ text: '' });
    const message = photo.message as Record<string, unknown>;
    delete message.text;
    message.photo = [{ file_id: 'f', file_unique_id: 'u', width: 1, height: 1 }];
    expect((await postToTelegram(app.baseUrl, photo)).status).toBe(200);
    expect(String(app.telegram.of('sendMessage').at(-1)?.params.text)).toContain('empty message');
    const junk = Buffer.from(Array.from({ length: 1024 }, (_, index) => (index * 91) % 256)).toString(
      'latin1',
    );
    expect((await postToTelegram(app.baseUrl, junk)).status).toBe(400);
    expect((await postToTelegram(app.baseUrl, '{"update_id": 5, "message": ')).status).toBe(400);
    expect(
      (await postToTelegram(app.baseUrl, { update_id: 999_999_1, poll: { id: 'p', question: 'q' } })).status,
    ).toBe(200);
    expect(await app.count('goals')).toBe(before);
    expect((await fetch(`${app.baseUrl}/healthz`)).status).toBe(200);
  });

  it('reads a shared document into memory once, with progress, and answers questions about it', async () => {
    const notes =
      '# Supplier notes\n\nThe paper supplier Kestrel Mills delivers on the second Thursday of each month.\n';
    const bytes = new TextEncoder().encode(notes);
    app.telegram.addFile('doc-1', 'suppliers.md', bytes);
    const update = documentUpdate({ fileId: 'doc-1', fileName: 'suppliers.md', fileSize: bytes.length });
    expect((await postToTelegram(app.baseUrl, update)).status).toBe(200);
    expect((await postToTelegram(app.baseUrl, update)).status).toBe(200);
    await app.telegram.waitFor((calls) =>
      calls.some(
        (call) => call.method === 'sendMessage' && String(call.params.text).startsWith('Done: suppliers.md'),
      ),
    );
    const texts = app.telegram.of('sendMessage').map((call) => String(call.params.text));
    expect(texts.filter((text) => text.startsWith('Reading suppliers.md'))).toHaveLength(1);
    expect(texts.filter((text) => text.startsWith('Done: suppliers.md'))).toHaveLength(1);
    expect(app.telegram.of('file')).toHaveLength(1);
    const stored = await app.spine.db.pool.query(
      `SELECT source_ref FROM memories WHERE source = 'document:suppliers.md' ORDER BY id LIMIT 1`,
    );
    const messageId = (update.message as { message_id: number }).message_id;
    expect(stored.rows[0]?.source_ref).toBe(`telegram:456/${messageId}`);
    await postToTelegram(app.baseUrl, textUpdate({ text: 'recall when does Kestrel Mills deliver?' }));
    await app.spine.runner.idle();
    expect(String(app.telegram.of('sendMessage').at(-1)?.params.text)).toContain('second Thursday');
  });

  it('refuses a shared document over the size limit without downloading it', async () => {
    app.telegram.addFile('doc-big', 'huge.pdf', new Uint8Array(8));
    const update = documentUpdate({ fileId: 'doc-big', fileName: 'huge.pdf', fileSize: 50 * 1024 * 1024 });
    const downloads = app.telegram.of('file').length;
    expect((await postToTelegram(app.baseUrl, update)).status).toBe(200);
    await app.telegram.waitFor((calls) =>
      calls.some(
        (call) =>
          call.method === 'sendMessage' && String(call.params.text).startsWith('huge.pdf is too large'),
      ),
    );
    expect(app.telegram.of('file').length).toBe(downloads);
  });

  it('splits a reply longer than 4096 characters', async () => {
    const adapter = app.chat.adapters.find((candidate) => candidate.channel === 'telegram');
    const before = app.telegram.of('sendMessage').length;
    await adapter?.post(
      { channel: 'telegram', conversation: '456' },
      { text: `${'line of text & more\n'.repeat(600)}` },
    );
    const parts = app.telegram.of('sendMessage').slice(before);
    expect(parts.length).toBe(4);
    for (const part of parts) expect(String(part.params.text).length).toBeLessThanOrEqual(4096);
    expect(parts.map((part) => String(part.params.text)).join('\n')).toBe(
      'line of text &amp; more\n'.repeat(600).slice(0, -1),
    );
  });

  it('shows "typing" while a goal is slow', async () => {
    const slow = await freshApp({ tuning: { progressDelayMs: 1 } });
    await postToTelegram(slow.baseUrl, textUpdate({ text: 'remember that typing shows' }));
    await slow.spine.runner.idle();
    expect(slow.telegram.of('sendChatAction').some((call) => call.params.action === 'typing')).toBe(true);
  });

  it('receives messages by long polling when no webhook is configured', async () => {
    const polling = await freshApp({ telegramMode: 'polling' });
    expect(polling.telegram.of('deleteWebhook').length).toBe(1);
    polling.telegram.push(textUpdate({ text: 'remember that polling works' }));
    await polling.telegram.waitFor((calls) =>
      calls.some(
        (call) => call.method === 'sendMessage' && String(call.params.text).includes('polling works'),
      ),
    );
    expect(await polling.count('goals')).toBe(1);
  });

  it('never writes the bot token or the webhook secret to the logs', () => {
    const logs = app.logs();
    expect(logs.length).toBeGreaterThan(1000);
    expect(logs).not.toContain(TELEGRAM_BOT_TOKEN);
    expect(logs).not.toContain(TELEGRAM_WEBHOOK_SECRET);
  });
});
