import type { Server } from 'node:http';
import { AIMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer } from '../../app/http-server.ts';
import { Intake } from '../../bot/intake.ts';
import { systemClock } from '../../core/clock.ts';
import type { SpineJob } from '../../core/jobs.ts';
import { playbookSignature } from '../../playbooks/webhook-signature.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { freePort } from '../support/free-port.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

const WEBHOOK_PLAYBOOK = `name: new-signup
description: Greet a new signup
trigger:
  webhook: {}
steps:
  - id: greeting
    draft: { template: "Welcome {{ trigger.body.name }}" }
`;

describe.each(DATABASE_KINDS)('playbook webhooks, chat commands and proposals on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);
  const running: TestSpine[] = [];
  const servers: Server[] = [];

  beforeAll(async () => {
    await databases.open();
  });

  afterAll(async () => {
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
    for (const test of running) await test.spine.close();
    await databases.closeAll();
  });

  async function fresh(options: Parameters<typeof createTestSpine>[1] = {}) {
    const test = await createTestSpine(await databases.open(), options);
    running.push(test);
    return test;
  }

  it('accepts a webhook signed with the playbook secret once per delivery id, and refuses forged ones', async () => {
    const { say, spine, chat } = await fresh();
    await say(`playbook add ${WEBHOOK_PLAYBOOK}`);
    await say('playbook enable new-signup');
    await say('playbook show new-signup');
    const shown = chat.texts().at(-1) ?? '';
    // The secret never goes into chat; the web console shows it once (webhook-replay.test.ts).
    const secret = (await spine.playbooks.store.get(spine.operator.id, 'new-signup'))?.webhookSecret ?? '';
    expect(secret).toHaveLength(48);
    expect(shown).not.toContain(secret);
    expect(shown).toContain('Webhook secret: not shown in chat');
    const port = await freePort();
    servers.push(
      await startHttpServer({
        port,
        db: spine.db,
        logger: pino({ level: 'silent' }),
        routes: spine.playbooks.routes,
      }),
    );
    const url = `http://127.0.0.1:${port}/playbooks/new-signup/webhook`;
    const body = JSON.stringify({ name: 'Dana' });
    const now = () => Math.floor(Date.now() / 1000);
    const post = (signature: string, delivery = 'd-1') =>
      fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-spine-timestamp': String(now()),
          'x-spine-signature': signature,
          'x-spine-delivery': delivery,
        },
        body,
      });
    const sign = (key: string, text: string, delivery = 'd-1') =>
      playbookSignature(key, now(), delivery, text);
    const runs = async () => {
      const playbook = await spine.playbooks.store.get(spine.operator.id, 'new-signup');
      return spine.playbooks.store.recentRuns(playbook?.id ?? 0, 10);
    };

    expect((await post(sign('wrong-secret', body))).status).toBe(401);
    expect((await post(sign(secret, `${body} `))).status).toBe(401);
    expect((await post('')).status).toBe(401);
    expect(await runs()).toHaveLength(0);
    const events = await spine.db.pool.query('SELECT count(*)::int AS n FROM trigger_events');
    expect(events.rows[0]?.n).toBe(0);

    expect((await post(sign(secret, body))).status).toBe(202);
    // The same delivery again: recognised, nothing new started.
    expect((await post(sign(secret, body))).status).toBe(200);
    await spine.runner.idle();
    expect(await runs()).toHaveLength(1);
    expect(chat.texts().at(-1)).toContain('Playbook new-signup finished.');
    expect((await post(sign(secret, body, 'd-2'), 'd-2')).status).toBe(202);
    await spine.runner.idle();
    expect(await runs()).toHaveLength(2);
  });

  it('runs a chat-triggered playbook when its command is said, through edits and enabling, and records other requests in one statement', async () => {
    const { say, spine, chat } = await fresh();
    const greeter = (command: string) =>
      `name: greeter\ndescription: Greet\ntrigger:\n  chat: { command: "${command}" }\nsteps:\n  - id: hello\n    draft: { template: "Hello from the playbook" }\n`;
    const runs = async () => {
      const playbook = await spine.playbooks.store.get(spine.operator.id, 'greeter');
      return playbook ? (await spine.playbooks.store.recentRuns(playbook.id, 10)).length : 0;
    };
    const goalsSaying = async (text: string) => {
      const result = await spine.db.pool.query('SELECT count(*)::int AS n FROM goals WHERE text = $1', [
        text,
      ]);
      return result.rows[0]?.n;
    };

    await say(`playbook add ${greeter('Hello there')}`);
    await say('hello there'); // disabled: an ordinary request
    expect([await runs(), await goalsSaying('hello there')]).toEqual([0, 1]);
    await say('playbook enable greeter');
    await say('  Hello THERE ');
    expect([await runs(), await goalsSaying('Hello THERE')]).toEqual([1, 0]);
    expect(chat.texts().at(-1)).toContain('Playbook greeter finished.');
    // A new version with another command: the old command is an ordinary request again.
    await say(`playbook add ${greeter('good morning')}`);
    expect(chat.texts().at(-1)).toContain('is now v2');
    await say('hello there');
    expect([await runs(), await goalsSaying('hello there')]).toEqual([1, 2]);
    await say('good morning');
    expect([await runs(), await goalsSaying('good morning')]).toEqual([2, 0]);
    await say('playbook disable greeter');
    await say('good morning');
    expect([await runs(), await goalsSaying('good morning')]).toEqual([2, 1]);

    // The hot path, counted on an intake of its own: one statement for an ordinary request once the
    // enabled playbooks' versions are known; a version not read yet costs more, once.
    const statements: string[] = [];
    const pool = new Proxy(spine.db.pool, {
      get(target, property) {
        if (property === 'query')
          return (...args: Parameters<typeof target.query>) => {
            const [query] = args as unknown[];
            statements.push(String(typeof query === 'string' ? query : (query as { text: string }).text));
            return (target.query as (...all: unknown[]) => unknown)(...args);
          };
        const value = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const enqueued: SpineJob[] = [];
    const intake = new Intake({
      pool,
      queue: { enqueue: async (job) => void enqueued.push(job) },
      chat,
      clock: systemClock,
      logger: pino({ level: 'silent' }),
      playbooks: spine.playbooks.commands,
    });
    let delivery = 0;
    const request = async (text: string) => {
      statements.length = 0;
      delivery += 1;
      return intake.handleMessage({
        channel: 'console',
        deliveryId: `hot-path-${delivery}`,
        userId: 'local',
        text,
        thread: { channel: 'console', conversation: 'local' },
      });
    };
    await say('playbook enable greeter');
    expect((await request('what is due this week')).kind).toBe('goal');
    expect(statements).toHaveLength(1);
    expect(statements[0]).toContain('FROM identities');
    await say(`playbook add ${greeter('good evening')}`);
    expect((await request('what is due next week')).kind).toBe('goal');
    // The statement in doubt, then the goal (the new version is read through the playbooks' store).
    expect(statements).toHaveLength(2);
    expect(statements[1]).not.toContain('FROM identities');
    expect((await request('what is due today')).kind).toBe('goal');
    expect(statements).toHaveLength(1);
    expect(await request('good evening')).toEqual({ kind: 'command' });
    expect(enqueued.map((job) => job.name)).toEqual(['run-goal', 'run-goal', 'run-goal']);
    // A stranger is refused from the same statement, and nothing is recorded.
    const refused = await intake.handleMessage({
      channel: 'console',
      deliveryId: 'hot-path-stranger',
      userId: 'someone-else',
      text: 'what is due this week',
      thread: { channel: 'console', conversation: 'local' },
    });
    expect(refused).toEqual({ kind: 'refused', reason: 'stranger' });
    expect(await spine.repos.inbox.goalFor('console', 'hot-path-stranger')).toBeNull();
  });

  it('answers the playbook commands in chat with line-numbered errors, and lists playbook in help', async () => {
    const { say, chat } = await fresh();
    await say('help');
    expect(chat.texts().at(-1)).toContain('playbook shadow <name> [days N]');
    await say('playbook list');
    expect(chat.texts().at(-1)).toContain('You have no playbooks yet');
    await say(
      `playbook add ${WEBHOOK_PLAYBOOK.replace('trigger:\n  webhook: {}', 'trigger:\n  webhook: {}\n  extra: 1')}`,
    );
    expect(chat.texts().at(-1)).toContain('playbook.yaml line 5, trigger.extra: unknown field');
    await say(`playbook add ${WEBHOOK_PLAYBOOK}`);
    await say(`playbook add ${WEBHOOK_PLAYBOOK}`);
    expect(chat.texts().at(-1)).toBe('Playbook new-signup is unchanged (v1).');
    await say('playbook list');
    expect(chat.texts().at(-1)).toContain('• new-signup v1 — disabled, webhook trigger');
    await say('playbook enable nothing-here');
    expect(chat.texts().at(-1)).toContain('There is no playbook called nothing-here.');
    await say('playbook new every Friday at 4pm, draft reminders for unpaid invoices');
    expect(chat.texts().at(-1)).toContain('needs a language model');
  });

  it('writes a draft from its prompt with the configured model, and from its template without one', async () => {
    const source = `name: newsletter\ndescription: News\ntrigger:\n  chat: { command: news }\nsteps:\n  - id: text\n    draft:\n      prompt: "Write news for {{ playbook.name }}"\n      template: "Offline news"\n  - id: review\n    checkpoint: { message: "Keep it?", show: steps.text }\n`;
    const model = fakeModel().respond(new AIMessage('Model-written news'));
    const withModel = await fresh({ models: { small: model, large: model } });
    await withModel.say(`playbook add ${source}`);
    await withModel.say('run newsletter');
    await withModel.spine.runner.idle();
    expect(JSON.stringify(withModel.chat.posts.at(-1)?.message.blocks)).toContain('Model-written news');
    const offline = await fresh();
    await offline.say(`playbook add ${source}`);
    await offline.say('run newsletter');
    await offline.spine.runner.idle();
    expect(JSON.stringify(offline.chat.posts.at(-1)?.message.blocks)).toContain('Offline news');
  });

  it('turns "every Friday at 4pm, draft reminders…" into a proposed playbook, retrying an invalid answer once', async () => {
    const yaml = (name: string, extra = '') =>
      `\`\`\`yaml\nname: ${name}\ndescription: Draft reminders\ntrigger:\n  schedule: { every: friday, at: "16:00" }${extra}\nsteps:\n  - id: draft\n    draft: { template: "Reminder" }\n\`\`\``;
    const model = fakeModel()
      .respond(new AIMessage(yaml('friday-reminders', '\n  extra: nope')))
      .respond(new AIMessage(yaml('friday-reminders')));
    const { say, chat, spine } = await fresh({ models: { small: model, large: model } });
    await say('every Friday at 4pm, draft reminders for unpaid invoices');
    const proposal = chat.posts.at(-1)?.message;
    expect(proposal?.text).toContain('Approve adds and enables it');
    expect(proposal?.text).toContain('name: friday-reminders');
    const approve = proposal?.blocks
      ?.flatMap((block) => (block.type === 'buttons' ? block.buttons : []))
      .find((button) => button.label === 'Approve');
    expect(approve?.action).toMatch(/^playbook:approve:\d+$/);
    await spine.intake.press({
      action: approve?.action ?? '',
      channel: 'console',
      userId: 'local',
      thread: { channel: 'console', conversation: 'local' },
    });
    expect(chat.texts().at(-1)).toBe('Added and enabled the playbook friday-reminders.');
    expect((await spine.playbooks.store.get(spine.operator.id, 'friday-reminders'))?.enabled).toBe(true);
  });
});
