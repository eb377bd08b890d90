import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../../db/migrate.ts';
import { StrangerRefusalRepository } from '../../db/repositories/inbound-deliveries.ts';
import { type ChatApp, type ChatAppOptions, startChatApp } from '../support/chat-app.ts';
import { TestDatabases } from '../support/databases.ts';
import { postToTelegram, textUpdate } from '../support/telegram-updates.ts';

const STRANGER = 777;
const FLOOD = 1_000;

describe('strangers neither grow the database nor stall the bot (server Postgres)', () => {
  const databases = new TestDatabases('server');
  const apps: ChatApp[] = [];

  async function freshApp(options: ChatAppOptions = {}): Promise<ChatApp> {
    const app = await startChatApp(await databases.open(), options);
    apps.push(app);
    return app;
  }

  afterAll(async () => {
    for (const app of apps) await app.close();
    await databases.closeAll();
  });

  it(`a flood of ${FLOOD} messages from one stranger appends one event, counts ${FLOOD} refusals and answers 3`, async () => {
    const app = await freshApp();
    const eventsBefore = await app.count('events');
    // In waves of 25 at once: the day's first refusals race each other, and still append one event.
    for (let sent = 0; sent < FLOOD; sent += 25) {
      const wave = Array.from({ length: 25 }, (_, index) =>
        postToTelegram(app.baseUrl, textUpdate({ text: `pay me ${sent + index}`, from: STRANGER })),
      );
      for (const response of await Promise.all(wave)) expect(response.status).toBe(200);
    }
    expect(await app.count('goals')).toBe(0);
    expect(await app.count('inbox')).toBe(0);
    expect(await app.count('events')).toBe(eventsBefore + 1);
    const event = await app.spine.db.pool.query(
      `SELECT verb, object, payload FROM events WHERE actor = 'telegram:${STRANGER}'`,
    );
    expect(event.rows).toHaveLength(1);
    expect(event.rows[0]).toMatchObject({ verb: 'was refused when trying to', object: 'send a message' });
    const day = new Date().toISOString().slice(0, 10);
    const counted = await app.spine.db.pool.query(
      `SELECT refusals, event_id FROM stranger_refusals WHERE channel = 'telegram' AND user_id = $1`,
      [String(STRANGER)],
    );
    expect(counted.rows).toHaveLength(1);
    expect(Number(counted.rows[0]?.refusals)).toBe(FLOOD);
    expect(counted.rows[0]?.event_id).not.toBeNull();
    expect(
      await new StrangerRefusalRepository(app.spine.db.pool).count('telegram', String(STRANGER), day),
    ).toBe(FLOOD);
    const answers = app.telegram.of('sendMessage').filter((call) => call.params.chat_id === String(STRANGER));
    expect(answers).toHaveLength(3);
    expect(String(answers[0]?.params.text)).toContain('I only work for my operator');
    // One warning for the day, not a thousand.
    expect(app.logs().match(/refused a request from someone who is not the operator/g)).toHaveLength(1);
    // A thousand HTTP round trips on a shared two-core machine: room to finish, no timing asserted.
  }, 240_000);

  it('a stranger who blocked the bot (403 on the refusal) does not stop long polling: the operator is answered next', async () => {
    const app = await freshApp({
      telegramMode: 'polling',
      tuning: { deliveryAttempts: 3, retryDelayMs: 20 },
    });
    const blocked = 778;
    app.telegram.blockedChats.add(blocked);
    app.telegram.push(textUpdate({ text: 'hello?', from: blocked }));
    app.telegram.push(textUpdate({ text: 'remember that strangers cannot stall me' }));
    await app.telegram.waitFor((calls) =>
      calls.some(
        (call) => call.method === 'sendMessage' && String(call.params.text).includes('cannot stall me'),
      ),
    );
    // The refusal was tried once, failed with 403, was logged, and the update counted as handled.
    expect(
      app.telegram.of('sendMessage').filter((call) => call.params.chat_id === String(blocked)),
    ).toHaveLength(1);
    expect(app.logs()).toContain('could not answer a stranger (they may have blocked the bot)');
    expect(app.logs()).toContain('bot was blocked by the user');
    expect(await app.count('dead_letters')).toBe(0);
    expect(await app.count('events', `actor = 'telegram:${blocked}'`)).toBe(1);
    expect(await app.count('goals')).toBe(1);
  });

  it('counts per stranger per day: a new day appends a new event, another stranger has their own', async () => {
    const db = await databases.open();
    await migrate(db.pool, db.schema);
    const refusals = new StrangerRefusalRepository(db.pool);
    const refuse = (userId: string, day: string) =>
      refusals.record({
        channel: 'slack',
        userId,
        day,
        attempted: 'send a message',
        event: {
          operatorId: null,
          actor: `slack:${userId}`,
          verb: 'was refused when trying to',
          object: 'send a message',
          channel: 'slack',
        },
      });
    const first = await refuse('U9', '2026-03-01');
    expect(first.refusals).toBe(1);
    expect(first.eventId).not.toBeNull();
    expect(await refuse('U9', '2026-03-01')).toEqual({ refusals: 2, eventId: first.eventId });
    const nextDay = await refuse('U9', '2026-03-02');
    expect(nextDay.refusals).toBe(1);
    expect(nextDay.eventId).not.toBe(first.eventId);
    expect((await refuse('U10', '2026-03-01')).refusals).toBe(1);
    // Ten at once on a fresh day: one event, ten counted.
    const concurrent = await Promise.all(Array.from({ length: 10 }, () => refuse('U11', '2026-03-03')));
    expect(concurrent.map((count) => count.refusals).sort((a, b) => a - b)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    const events = await db.pool.query(`SELECT actor FROM events ORDER BY id`);
    expect(events.rows.map((row) => row.actor)).toEqual(['slack:U9', 'slack:U9', 'slack:U10', 'slack:U11']);
  });
});
