import { afterEach, describe, expect, it } from 'vitest';
import type { MessageRef, ThreadRef } from '../../core/domain.ts';
import type { ChatSender, OutboundMessage } from '../../core/message.ts';
import type { Database } from '../../db/database.ts';
import { DoorbellRinger } from '../../jobs/chat-doorbell.ts';
import { OutboxChatSender } from '../../jobs/chat-outbox.ts';
import { TestDatabases } from '../support/databases.ts';
import { freePort } from '../support/free-port.ts';
import { RedisProcess } from '../support/processes.ts';
import {
  createQueueSpine,
  deletePrefix,
  type QueueSpine,
  uniquePrefix,
  waitUntil,
} from '../support/queue-spine.ts';

const CONSOLE: ThreadRef = { channel: 'console', conversation: 'local' };
// Fast polls and retries; delivery itself never depends on them being fast.
const FAST = { SPINE_CHAT_POLL_MS: '50', SPINE_CHAT_RETRY_MS: '20' };

/** A chat adapter that fails while `failing(text)` says so, and logs what it showed. */
class FlakyChat implements ChatSender {
  readonly shown: string[] = [];
  readonly updated: Array<{ ref: MessageRef; text: string }> = [];
  calls = 0;
  #sequence = 0;
  constructor(private readonly failing: (text: string) => boolean = () => false) {}

  async post(thread: ThreadRef, message: OutboundMessage): Promise<MessageRef> {
    this.calls += 1;
    if (this.failing(message.text)) throw new Error('the chat platform answered 503');
    this.#sequence += 1;
    this.shown.push(message.text);
    return { channel: thread.channel, conversation: thread.conversation, messageId: `m${this.#sequence}` };
  }

  async update(ref: MessageRef, message: OutboundMessage): Promise<void> {
    this.updated.push({ ref, text: message.text });
  }
}

describe('the chat outbox of queue mode (server Postgres, real Redis)', () => {
  const databases = new TestDatabases('server');
  let spines: QueueSpine[] = [];
  let prefixes: string[] = [];
  let redisServers: RedisProcess[] = [];

  afterEach(async () => {
    for (const each of spines) await each.spine.close();
    for (const server of redisServers) await server.stop();
    for (const prefix of prefixes) await deletePrefix(prefix);
    spines = [];
    prefixes = [];
    redisServers = [];
    await databases.closeAll();
  });

  async function setup(redisUrl?: string) {
    const db = await databases.open();
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const start = async (role: 'main' | 'worker', env: Record<string, string> = {}) => {
      const each = await createQueueSpine(db, {
        prefix,
        role,
        env: { ...FAST, ...env },
        ...(redisUrl ? { redisUrl } : {}),
      });
      spines.push(each);
      return each;
    };
    return { db, prefix, start };
  }

  async function stop(each: QueueSpine): Promise<void> {
    await each.spine.close();
    spines = spines.filter((other) => other !== each);
  }

  async function rows(db: Database) {
    const result = await db.pool.query(
      `SELECT kind, message ->> 'text' AS text, delivered_at IS NOT NULL AS delivered,
              given_up_at IS NOT NULL AS given_up, attempts, last_error
         FROM chat_outbox ORDER BY id`,
    );
    return result.rows as Array<{
      kind: string;
      text: string;
      delivered: boolean;
      given_up: boolean;
      attempts: number;
      last_error: string | null;
    }>;
  }

  it('delivers a reply a worker wrote while no main process ran, once, when one starts', async () => {
    const { db, start } = await setup();
    const first = await start('main');
    await first.send('remember that the gate code is 1234');
    await stop(first);
    await start('worker');
    await waitUntil(
      async () =>
        (await rows(db)).some((row) => row.text === 'Got it — I remembered “the gate code is 1234”.'),
      'the reply in the outbox',
    );
    expect((await rows(db)).every((row) => !row.delivered)).toBe(true);

    const second = await start('main');
    await second.spine.settle();
    expect(second.chat.texts()).toEqual(['Got it — I remembered “the gate code is 1234”.']);
    await second.spine.settle();
    expect(second.chat.texts()).toHaveLength(1);
    expect((await rows(db)).map((row) => [row.delivered, row.attempts])).toEqual([[true, 1]]);
  });

  it('does not show a console message that waited longer than ten minutes for a terminal', async () => {
    const { db, start } = await setup();
    const first = await start('main');
    await first.send('remember that the alarm code is 9876');
    await stop(first);
    await start('worker');
    await waitUntil(async () => (await rows(db)).length === 1, 'the reply in the outbox');
    // Nobody ran `spine chat` for eleven minutes.
    await db.pool.query(`UPDATE chat_outbox SET created_at = now() - interval '11 minutes'`);
    const second = await start('main');
    await second.spine.settle();
    expect(second.chat.texts()).toEqual([]);
    expect((await rows(db)).map((row) => [row.delivered, row.given_up, row.last_error])).toEqual([
      [false, true, 'a console message nobody was there to read in time'],
    ]);
  });

  it('delivers once across a Redis restart (no persistence), and while Redis is down', async () => {
    const port = await freePort();
    const redis = new RedisProcess(port);
    redisServers.push(redis);
    await redis.start();
    const redisUrl = `redis://127.0.0.1:${port}`;
    const { db, prefix, start } = await setup(redisUrl);
    const worker = await start('worker');
    // Posted while no main process runs; the worker is done; then Redis restarts empty.
    const card = await worker.spine.chat.post(CONSOLE, { text: 'Approval #1 needed' });
    await stop(worker);
    await redis.stop();
    await redis.start();
    const main = await start('main');
    await main.spine.settle();
    expect(main.chat.texts()).toEqual(['Approval #1 needed']);

    // Redis down: a worker's chat sender (as `spine worker` wires it) cannot ring the doorbell;
    // the poll still delivers, and the card is updated in place (its name resolves in Postgres).
    await redis.stop();
    const ringer = new DoorbellRinger({ redisUrl, prefix });
    const sender = new OutboxChatSender({ pool: db.pool, ring: () => ringer.ring() });
    try {
      await sender.post(CONSOLE, { text: 'Still here' });
      await sender.update(card, { text: 'Approval #1: approved' });
      await waitUntil(() => main.chat.updates.length === 1, 'the card update without Redis');
    } finally {
      await ringer.close();
    }
    await redis.start();
    await main.spine.settle();
    expect(main.chat.texts()).toEqual(['Approval #1 needed', 'Still here']);
    expect(main.chat.updates).toEqual([
      { ref: main.chat.posts[0]?.ref, message: { text: 'Approval #1: approved' } },
    ]);
    expect((await rows(db)).every((row) => row.delivered && row.attempts === 1)).toBe(true);
  });

  it('updates a card a worker posted in place after the main process restarted', async () => {
    const { start } = await setup();
    const worker = await start('worker');
    const before = await start('main');
    const card = await worker.spine.chat.post(CONSOLE, { text: 'Approval #1 needed' });
    await before.spine.settle();
    const shown = before.chat.posts[0]?.ref;
    expect(shown?.messageId).toBe('1');
    await stop(before);

    // A new process: only the table knows which message the worker's name became.
    const after = await start('main');
    await worker.spine.chat.update(card, { text: 'Approval #1: approved by Ada' });
    await after.spine.settle();
    // The main process's own intake resolves the worker's name the same way.
    await after.spine.queueMode?.intakeChat.update(card, { text: 'Approval #1: done' });
    expect(after.chat.updates).toEqual([
      { ref: shown, message: { text: 'Approval #1: approved by Ada' } },
      { ref: shown, message: { text: 'Approval #1: done' } },
    ]);
    expect(after.chat.posts).toEqual([]);
  });

  it('leaves a channel nobody serves waiting without holding up others; an update waits behind its post', async () => {
    const { db, start } = await setup();
    const worker = await start('worker');
    const main = await start('main');
    const slackThread: ThreadRef = { channel: 'slack', conversation: 'C1' };
    const slackCard = await worker.spine.chat.post(slackThread, { text: 'Slack card' });
    await worker.spine.chat.post(CONSOLE, { text: 'Console reply' });
    // The intake's own update of a worker's card not shown yet waits in the outbox behind it.
    await main.spine.queueMode?.intakeChat.update(slackCard, { text: 'Slack card: approved' });
    await main.spine.settle();
    expect(main.chat.texts()).toEqual(['Console reply']);
    expect((await rows(db)).map((row) => [row.text, row.delivered])).toEqual([
      ['Slack card', false],
      ['Console reply', true],
      ['Slack card: approved', false],
    ]);

    const slack = new FlakyChat();
    main.spine.registerAdapter('slack', slack);
    await main.spine.settle();
    expect(slack.shown).toEqual(['Slack card']);
    expect(slack.updated).toEqual([
      { ref: { channel: 'slack', conversation: 'C1', messageId: 'm1' }, text: 'Slack card: approved' },
    ]);
    expect((await rows(db)).every((row) => row.delivered)).toBe(true);
  });

  it('with two main processes, shows each message once and in order', async () => {
    const { db, start } = await setup();
    const worker = await start('worker');
    const shown: Array<{ by: string; text: string }> = [];
    for (const by of ['A', 'B']) {
      const main = await start('main');
      main.spine.registerAdapter('console', {
        async post(thread, message) {
          // A slow platform call widens the window in which the other process could interfere.
          await new Promise((resolve) => setTimeout(resolve, 2));
          shown.push({ by, text: message.text });
          return {
            channel: thread.channel,
            conversation: thread.conversation,
            messageId: `${by}${shown.length}`,
          };
        },
        async update() {},
      });
    }
    const texts = Array.from({ length: 40 }, (_, n) => `message ${n + 1}`);
    for (const text of texts) await worker.spine.chat.post(CONSOLE, { text });
    for (const each of spines) await each.spine.settle();
    await waitUntil(async () => (await rows(db)).every((row) => row.delivered), 'every message delivered');
    expect(shown.map((each) => each.text)).toEqual(texts);
    expect((await rows(db)).every((row) => row.attempts === 1)).toBe(true);
  });

  it('retries a failing adapter with back-off, keeping order within the conversation only', async () => {
    const { db, start } = await setup();
    const worker = await start('worker');
    const main = await start('main');
    let failHello = true;
    const chat = new FlakyChat((text) => text === 'hello' && failHello);
    main.spine.registerAdapter('console', chat);
    await worker.spine.chat.post(CONSOLE, { text: 'hello' });
    await worker.spine.chat.post(CONSOLE, { text: 'world' });
    await worker.spine.chat.post({ channel: 'console', conversation: 'other' }, { text: 'elsewhere' });
    await waitUntil(() => chat.shown.includes('elsewhere'), 'the other conversation');
    await waitUntil(async () => (await rows(db))[0]!.attempts >= 2, 'a retry');
    // The failing message holds back its own conversation only.
    expect(chat.shown).toEqual(['elsewhere']);
    failHello = false;
    await waitUntil(() => chat.shown.length === 3, 'the retried messages');
    expect(chat.shown).toEqual(['elsewhere', 'hello', 'world']);
    const [hello, world] = await rows(db);
    expect(hello).toMatchObject({ delivered: true, last_error: 'the chat platform answered 503' });
    expect(hello!.attempts).toBeGreaterThanOrEqual(2);
    expect(world).toMatchObject({ delivered: true, attempts: 1, last_error: null });
  });

  it('a platform that hangs holds up only its own channel', async () => {
    const { db, start } = await setup();
    const worker = await start('worker');
    const main = await start('main');
    let answer: () => void = () => {};
    const slackShown: string[] = [];
    main.spine.registerAdapter('slack', {
      async post(thread, message) {
        // Slack takes its time (a rate limit, a slow network) until the test lets it answer.
        await new Promise<void>((resolve) => {
          answer = resolve;
        });
        slackShown.push(message.text);
        return { channel: thread.channel, conversation: thread.conversation, messageId: 's1' };
      },
      async update() {},
    });
    const telegram = new FlakyChat();
    main.spine.registerAdapter('telegram', telegram);
    await worker.spine.chat.post({ channel: 'slack', conversation: 'C1' }, { text: 'to Slack' });
    await worker.spine.chat.post({ channel: 'telegram', conversation: '42' }, { text: 'to Telegram' });
    await waitUntil(() => telegram.shown.includes('to Telegram'), 'the Telegram message');
    expect(slackShown).toEqual([]);
    await waitUntil(() => {
      answer();
      return slackShown.length === 1;
    }, 'the Slack message');
    await waitUntil(async () => (await rows(db)).every((row) => row.delivered), 'both marked delivered');
  });

  it('gives up after the last attempt, then moves on; an update of a message never shown is dropped', async () => {
    const { db, start } = await setup();
    const worker = await start('worker');
    const main = await start('main', { SPINE_CHAT_DELIVERY_ATTEMPTS: '3' });
    const chat = new FlakyChat((text) => text === 'doomed');
    main.spine.registerAdapter('console', chat);
    const doomed = await worker.spine.chat.post(CONSOLE, { text: 'doomed' });
    await worker.spine.chat.update(doomed, { text: 'doomed: updated' });
    await worker.spine.chat.post(CONSOLE, { text: 'after' });
    await main.spine.settle();
    await waitUntil(() => chat.shown.includes('after'), 'the next message');
    expect(chat.calls).toBe(4);
    expect(chat.updated).toEqual([]);
    expect(await rows(db)).toEqual([
      expect.objectContaining({ text: 'doomed', given_up: true, attempts: 3, delivered: false }),
      expect.objectContaining({
        text: 'doomed: updated',
        given_up: true,
        last_error: 'the message it updates was never shown',
      }),
      expect.objectContaining({ text: 'after', delivered: true, attempts: 1 }),
    ]);
  });
});
