import { afterAll, describe, expect, it } from 'vitest';
import type { InboundMessage } from '../../bot/intake.ts';
import { type ChatApp, type ChatAppOptions, startChatApp } from '../support/chat-app.ts';
import { TestDatabases } from '../support/databases.ts';
import { dmEvent, envelopePayload, postToSlack } from '../support/slack-requests.ts';
import { postToTelegram, textUpdate } from '../support/telegram-updates.ts';

/** Text that makes the intake throw, every time: a delivery no retry can fix. */
const POISON = 'remember that POISON breaks the handler';

/** Make the app's intake throw for poisoned messages (the adapters share this very object). */
function poison(app: ChatApp): void {
  const intake = app.spine.intake;
  const original = intake.handleMessage.bind(intake);
  intake.handleMessage = async (message: InboundMessage) => {
    if (message.text.includes('POISON')) throw new Error('poisoned update: the handler always throws');
    return original(message);
  };
}

async function deadLetters(app: ChatApp, channel: string) {
  const result = await app.spine.db.pool.query(
    'SELECT delivery_id, payload, error, attempts FROM dead_letters WHERE channel = $1 ORDER BY id',
    [channel],
  );
  return result.rows as Array<{
    delivery_id: string;
    payload: Record<string, unknown>;
    error: string;
    attempts: number;
  }>;
}

async function setAsideEvents(app: ChatApp, channel: string): Promise<number> {
  return app.count('events', `verb = 'set aside' AND channel = '${channel}'`);
}

describe('a poisoned delivery cannot stall a channel (server Postgres)', () => {
  const databases = new TestDatabases('server');
  const apps: ChatApp[] = [];

  async function freshApp(options: ChatAppOptions = {}): Promise<ChatApp> {
    const app = await startChatApp(await databases.open(), options);
    apps.push(app);
    poison(app);
    return app;
  }

  afterAll(async () => {
    for (const app of apps) await app.close();
    await databases.closeAll();
  });

  it('Telegram long polling: a failing update is tried 3 times, dead-lettered, and the next update is handled', async () => {
    const app = await freshApp({
      telegramMode: 'polling',
      tuning: { deliveryAttempts: 3, retryDelayMs: 20 },
    });
    const poisoned = textUpdate({ text: POISON });
    app.telegram.push(poisoned);
    app.telegram.push(textUpdate({ text: 'remember that the bot moved on' }));
    await app.telegram.waitFor((calls) =>
      calls.some((call) => call.method === 'sendMessage' && String(call.params.text).includes('moved on')),
    );
    expect(await app.count('goals')).toBe(1);
    const letters = await deadLetters(app, 'telegram');
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ delivery_id: String(poisoned.update_id), attempts: 3 });
    expect(letters[0]?.error).toContain('poisoned update: the handler always throws');
    expect((letters[0]?.payload.message as { text?: string } | undefined)?.text).toBe(POISON);
    expect(await setAsideEvents(app, 'telegram')).toBe(1);
    const logs = app.logs();
    expect(logs).toContain('set aside a Telegram update that kept failing');
    expect(logs.match(/could not handle a Telegram update; retrying/g)).toHaveLength(2);
    expect(logs).not.toContain('123456:AAE-telegram-secret-token');
  });

  it('Telegram webhook: the attempts are counted in the database; the last one is answered 200 and set aside', async () => {
    const app = await freshApp({ tuning: { deliveryAttempts: 3 } });
    const poisoned = textUpdate({ text: POISON });
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 3; attempt += 1)
      statuses.push((await postToTelegram(app.baseUrl, poisoned)).status);
    // Telegram re-sends after a 500; the third failure is the last, so Telegram may stop.
    expect(statuses).toEqual([500, 500, 200]);
    const letters = await deadLetters(app, 'telegram');
    expect(letters.map((letter) => [letter.delivery_id, letter.attempts])).toEqual([
      [String(poisoned.update_id), 3],
    ]);
    expect(await app.count('delivery_attempts')).toBe(0);
    expect(await setAsideEvents(app, 'telegram')).toBe(1);
    // Sent once more anyway: answered 200, still one dead letter and one event.
    expect((await postToTelegram(app.baseUrl, poisoned)).status).toBe(500);
    expect((await postToTelegram(app.baseUrl, poisoned)).status).toBe(500);
    expect((await postToTelegram(app.baseUrl, poisoned)).status).toBe(200);
    expect(await deadLetters(app, 'telegram')).toHaveLength(1);
    expect(await setAsideEvents(app, 'telegram')).toBe(1);
    // The channel works.
    expect(
      (await postToTelegram(app.baseUrl, textUpdate({ text: 'remember that webhooks go on' }))).status,
    ).toBe(200);
    expect(await app.count('goals')).toBe(1);
  });

  it("Slack HTTP: an event failing on Slack's last retry is dead-lettered without secrets and answered 200", async () => {
    const app = await freshApp();
    const body = dmEvent({ text: POISON, eventId: 'EvPOISON1' });
    const statuses: number[] = [];
    for (let retry = 0; retry <= 3; retry += 1) {
      const headers: Record<string, string> =
        retry === 0 ? {} : { 'x-slack-retry-num': String(retry), 'x-slack-retry-reason': 'http_error' };
      statuses.push((await postToSlack(app.baseUrl, body, { headers })).status);
    }
    expect(statuses).toEqual([500, 500, 500, 200]);
    const letters = await deadLetters(app, 'slack');
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ delivery_id: 'EvPOISON1', attempts: 4 });
    expect(letters[0]?.error).toContain('poisoned update');
    // The verification token is a credential: not kept.
    expect(JSON.stringify(letters[0]?.payload)).not.toContain('legacy-verification-token');
    expect((letters[0]?.payload.event as { text?: string } | undefined)?.text).toBe(POISON);
    expect(await setAsideEvents(app, 'slack')).toBe(1);
    expect(app.logs()).toContain('set aside a Slack event that kept failing');
    // The next event is handled.
    expect((await postToSlack(app.baseUrl, dmEvent({ text: 'remember that Slack goes on' }))).status).toBe(
      200,
    );
    expect(await app.count('goals')).toBe(1);
  });

  it("Slack Socket Mode: the event's last delivery is acknowledged once it is set aside", async () => {
    const app = await freshApp({ slackMode: 'socket' });
    await app.slack.waitForConnection(1);
    const payload = envelopePayload(dmEvent({ text: POISON, eventId: 'EvPOISON2' }));
    const first = app.slack.sendEnvelope({ type: 'events_api', payload });
    const last = app.slack.sendEnvelope({
      type: 'events_api',
      payload,
      retryAttempt: 3,
      retryReason: 'timeout',
    });
    await app.slack.waitForAck(last);
    expect(app.slack.acksFor(first)).toEqual([]);
    expect((await deadLetters(app, 'slack')).map((letter) => [letter.delivery_id, letter.attempts])).toEqual([
      ['EvPOISON2', 4],
    ]);
    expect(await setAsideEvents(app, 'slack')).toBe(1);
  });
});
