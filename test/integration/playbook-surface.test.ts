import type { Server } from 'node:http';
import { AIMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer } from '../../app/http-server.ts';
import { playbookSignature } from '../../bot/playbook-webhook.ts';
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
    const secret = /Webhook secret: ([0-9a-f]+)/.exec(shown)?.[1] ?? '';
    expect(secret).toHaveLength(48);
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
    const post = (signature: string, delivery = 'd-1') =>
      fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-spine-signature': signature,
          'x-spine-delivery': delivery,
        },
        body,
      });
    const runs = async () => {
      const playbook = await spine.playbooks.store.get(spine.operator.id, 'new-signup');
      return spine.playbooks.store.recentRuns(playbook?.id ?? 0, 10);
    };

    expect((await post(playbookSignature('wrong-secret', body))).status).toBe(401);
    expect((await post(playbookSignature(secret, `${body} `))).status).toBe(401);
    expect((await post('')).status).toBe(401);
    expect(await runs()).toHaveLength(0);
    const events = await spine.db.pool.query('SELECT count(*)::int AS n FROM trigger_events');
    expect(events.rows[0]?.n).toBe(0);

    expect((await post(playbookSignature(secret, body))).status).toBe(202);
    expect((await post(playbookSignature(secret, body))).status).toBe(202);
    await spine.runner.idle();
    expect(await runs()).toHaveLength(1);
    expect(chat.texts().at(-1)).toContain('Playbook new-signup finished.');
    expect((await post(playbookSignature(secret, body), 'd-2')).status).toBe(202);
    await spine.runner.idle();
    expect(await runs()).toHaveLength(2);
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
