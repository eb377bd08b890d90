import pino, { type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { structuredCall } from '../../graphs/models/structured-call.ts';
import { fakeAnthropicServer } from '../fakes/fake-anthropic-server.ts';
import { fakeOpenAiServer } from '../fakes/fake-openai-server.ts';
import type { ScriptedModelServer } from '../fakes/scripted-model-server.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

const OPENAI_KEY = 'sk-test-openai-0123456789abcdef';
const ANTHROPIC_KEY = 'sk-ant-test-0123456789abcdef';

type Provider = 'openai' | 'anthropic';

const providers: Array<{
  provider: Provider;
  server: () => ScriptedModelServer;
  env: (url: string) => Record<string, string>;
}> = [
  {
    provider: 'openai',
    server: fakeOpenAiServer,
    env: (url) => ({
      OPENAI_BASE_URL: `${url}/v1`,
      OPENAI_API_KEY: OPENAI_KEY,
      SPINE_MODEL_LARGE: 'openai:gpt-4o-mini',
      SPINE_MODEL_SMALL: 'openai:gpt-4.1-nano',
    }),
  },
  {
    provider: 'anthropic',
    server: fakeAnthropicServer,
    env: (url) => ({
      ANTHROPIC_BASE_URL: url,
      ANTHROPIC_API_KEY: ANTHROPIC_KEY,
      SPINE_MODEL_LARGE: 'anthropic:claude-sonnet-4-5',
      SPINE_MODEL_SMALL: 'anthropic:claude-haiku-4-5',
    }),
  },
];

describe.each(DATABASE_KINDS)('model providers over real HTTP on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);
  const running: TestSpine[] = [];
  const servers: ScriptedModelServer[] = [];

  beforeAll(async () => {
    await databases.open();
  });

  afterAll(async () => {
    for (const test of running) await test.spine.close();
    for (const server of servers) await server.close();
    await databases.closeAll();
  });

  async function spineWith(
    provider: (typeof providers)[number],
    extraEnv: Record<string, string> = {},
    logger?: Logger,
  ): Promise<{ test: TestSpine; server: ScriptedModelServer }> {
    const server = provider.server();
    servers.push(server);
    const url = await server.start();
    const test = await createTestSpine(await databases.open(), {
      env: { SPINE_MODEL_MAX_RETRIES: '0', ...provider.env(url), ...extraEnv },
      ...(logger ? { logger } : {}),
    });
    running.push(test);
    return { test, server };
  }

  it.each(providers)(
    '$provider: scripted tool calls become proposed actions with cards, through the factory',
    async (provider) => {
      const { test, server } = await spineWith(provider);
      server.script(
        {
          toolCalls: [
            {
              name: 'email__send_email',
              args: {
                to: 'dana@example.com',
                subject: 'Tuesday',
                body: 'Tuesday works for me.',
                why: 'reply',
              },
            },
            { name: 'memory_remember', args: { text: 'Meeting Dana on Tuesday' } },
          ],
          usage: { input: 1200, output: 80 },
        },
        { text: 'I drafted the reply to Dana and noted the meeting.', usage: { input: 1400, output: 20 } },
      );
      await test.say('reply to Dana that Tuesday works and remember the meeting');

      const card = test.chat.posts.at(-1)?.message;
      expect(card?.text).toMatch(/^Approval #\d+ needed: Send an e-mail to dana@example.com/);
      expect(card?.blocks?.find((block) => block.type === 'fields')).toMatchObject({
        fields: expect.arrayContaining([
          { label: 'To', value: 'dana@example.com' },
          { label: 'Body', value: 'Tuesday works for me.' },
        ]),
      });
      expect(await test.spine.repos.approvals.listPending(test.spine.operator.id)).toHaveLength(1);
      await test.say('approve');
      const reply = test.chat.texts().at(-1) ?? '';
      expect(reply).toContain('I drafted the reply to Dana');
      expect(reply).toContain('Got it — I remembered “Meeting Dana on Tuesday”');
      expect(reply).toContain('Done: sent an e-mail to dana@example.com');

      // The real client sent the real request: model, credentials, temperature 0 and the derived tools.
      expect(server.requests).toHaveLength(2);
      const first = server.requests[0]!;
      expect(first.body.model).toBe(provider.provider === 'openai' ? 'gpt-4o-mini' : 'claude-sonnet-4-5');
      expect(first.body.temperature).toBe(0);
      if (provider.provider === 'openai') {
        expect(first.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
      } else {
        expect(first.headers['x-api-key']).toBe(ANTHROPIC_KEY);
      }
      const toolNames = (first.body.tools as Array<{ name?: string; function?: { name: string } }>).map(
        (tool) => tool.function?.name ?? tool.name,
      );
      expect(toolNames).toEqual(
        expect.arrayContaining(['email__send_email', 'memory_recall', 'memory_remember']),
      );
      // The tool results went back on the second request.
      expect(JSON.stringify(server.requests[1]!.body.messages)).toContain('Proposed.');

      const usage = await test.spine.db.pool.query(
        'SELECT model, input_tokens, output_tokens, cost_usd::float8 AS cost FROM llm_usage ORDER BY id',
      );
      expect(usage.rows).toHaveLength(2);
      expect(usage.rows[0].input_tokens).toBe(1200);
      expect(usage.rows[0].cost).toBeGreaterThan(0);
    },
  );

  it.each(providers)(
    '$provider: routine work goes to the small model, planning to the large one',
    async (provider) => {
      const { test, server } = await spineWith(provider);
      server.script({
        toolCalls: [{ name: 'respond', args: { category: 'invoice' } }],
        usage: { input: 50, output: 5 },
      });
      const result = await structuredCall(test.spine.models.gateway!, {
        purpose: 'classify',
        instruction: 'Classify the message.',
        data: 'Invoice 42 is due on Friday.',
        schema: z.object({ category: z.enum(['invoice', 'meeting', 'other']) }),
        operatorId: test.spine.operator.id,
      });
      expect(result).toEqual({ category: 'invoice' });
      expect(server.requests[0]?.body.model).toBe(
        provider.provider === 'openai' ? 'gpt-4.1-nano' : 'claude-haiku-4-5',
      );
      await test.say('what is on my plate today?');
      expect(server.requests[1]?.body.model).toBe(
        provider.provider === 'openai' ? 'gpt-4o-mini' : 'claude-sonnet-4-5',
      );
      const roles = await test.spine.db.pool.query('SELECT role, purpose FROM llm_usage ORDER BY id');
      expect(roles.rows).toEqual([
        { role: 'small', purpose: 'classify' },
        { role: 'large', purpose: 'plan' },
      ]);
    },
  );

  it.each(providers)('$provider: provider down → offline planner with a clear message', async (provider) => {
    const { test, server } = await spineWith(provider);
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    await test.say('email dana@example.com "Tuesday" Tuesday works for me.');
    const texts = test.chat.texts();
    // Told at once (not after the approval), then the offline planner's card.
    expect(texts).toHaveLength(2);
    expect(texts[0]).toMatch(/language model \(.+\) is not answering right now/);
    expect(texts[0]).toContain('offline rules');
    expect(texts[1]).toMatch(/^Approval #\d+ needed: Send an e-mail to dana@example.com/);
  });

  it.each(providers)(
    '$provider: a hung provider times out and the offline planner answers',
    async (provider) => {
      const { test, server } = await spineWith(provider, { SPINE_MODEL_TIMEOUT_MS: '1000' });
      server.script({ delayMs: 10_000, text: 'too late' });
      await test.say('remember that the printer is on floor 2');
      const [notice, reply] = test.chat.texts();
      expect(notice).toMatch(/language model \(.+\) is not answering right now/);
      expect(reply).toBe('Got it — I remembered “the printer is on floor 2”.');
    },
  );

  it.each(providers)('$provider: a rejected API key is reported, never echoed', async (provider) => {
    const logs: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
    const { test, server } = await spineWith(provider, {}, logger);
    // The fake echoes the credentials in its error body, as a careless proxy would.
    server.script({ status: 401 }, { status: 502 });
    await test.say('remember that the office closes at 6');
    const [notice, reply] = test.chat.texts();
    expect(notice).toMatch(/refused Spine's credentials .* \(HTTP 401\)\. Check (OPENAI|ANTHROPIC)_API_KEY/);
    expect(reply).toContain('I remembered “the office closes at 6”');
    await test.say('remember that the office opens at 9');
    expect(test.chat.texts()[2]).toMatch(/is not answering right now \(HTTP 502\)/);
    expect(logs.filter((line) => line.includes('model call failed'))).toHaveLength(2);
    expect(logs.join('\n')).toContain('scripted failure for');
    for (const text of [...test.chat.texts(), ...logs]) {
      expect(text).not.toContain(OPENAI_KEY);
      expect(text).not.toContain(ANTHROPIC_KEY);
    }
  });
});
