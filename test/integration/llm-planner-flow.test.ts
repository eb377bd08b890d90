import { AIMessage, type BaseMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.ts';
import { LlmCacheRepository } from '../../db/repositories/llm-cache.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

/** An AI message with token usage, as a provider would return it. */
function answer(text: string, input = 100, output = 20): AIMessage {
  return new AIMessage({
    content: text,
    usage_metadata: { input_tokens: input, output_tokens: output, total_tokens: input + output },
  });
}

const PRICED_ENV = { SPINE_MODEL_LARGE: 'openai:gpt-4o-mini', OPENAI_API_KEY: 'sk-test-planner-0123456789' };

describe.each(DATABASE_KINDS)('LLM planner in the goal graph on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);
  const running: TestSpine[] = [];

  async function spineWith(
    model: ReturnType<typeof fakeModel>,
    options: { env?: Record<string, string>; clock?: ManualClock } = {},
  ): Promise<TestSpine> {
    const test = await createTestSpine(await databases.open(), {
      env: { ...PRICED_ENV, ...options.env },
      models: { small: model, large: model },
      ...(options.clock ? { clock: options.clock } : {}),
    });
    running.push(test);
    return test;
  }

  beforeAll(async () => {
    await databases.open();
  });

  afterAll(async () => {
    for (const test of running) await test.spine.close();
    await databases.closeAll();
  });

  it('plans several steps: each external write gets its own card, bookkeeping runs on its own', async () => {
    const model = fakeModel()
      .respondWithTools([{ name: 'memory_recall', args: { query: 'Dana' } }])
      .respondWithTools([
        {
          name: 'email__send_email',
          args: { to: 'dana@example.com', subject: 'Tuesday', body: 'Tuesday works.', why: 'reply to Dana' },
        },
        {
          name: 'email__send_email',
          args: { to: 'sam@example.com', subject: 'Tuesday', body: 'Moving our call.', why: 'free the slot' },
        },
        { name: 'memory_remember', args: { text: 'Meeting Dana on Tuesday' } },
      ])
      .respond(answer('Two e-mails are ready for your approval, and I noted the meeting.'));
    const { say, chat, spine } = await spineWith(model);
    await spine.memory.remember({
      operatorId: spine.operator.id,
      kind: 'fact',
      content: 'Dana is our designer',
      provenance: { source: 'console', assertedBy: 'console:local' },
    });
    const before = chat.posts.length;
    await say('tell Dana Tuesday works, move my call with Sam, and remember the meeting');

    const cards = chat.posts.slice(before).filter((post) => post.message.text.startsWith('Approval #'));
    expect(cards.map((card) => card.message.text)).toEqual([
      expect.stringMatching(/Send an e-mail to dana@example.com$/),
      expect.stringMatching(/Send an e-mail to sam@example.com$/),
    ]);
    // The recall ran during planning and its result went back to the model as quoted data.
    const toolResult = model.calls[2]?.messages.find((message: BaseMessage) =>
      ToolMessage.isInstance(message),
    );
    expect(String(toolResult?.content)).toMatch(
      /<data kind="memory" .*trust="operator">\nDana is our designer/,
    );

    // Two cards in one thread: a bare `approve` would decide neither (issue #22), so each is named.
    for (const approval of await spine.repos.approvals.listPending(spine.operator.id))
      await say(`approve #${approval.id}`);
    const reply = chat.texts().at(-1) ?? '';
    expect(reply).toContain('Two e-mails are ready');
    expect(reply).toContain('Done: sent an e-mail to dana@example.com');
    expect(reply).toContain('Done: sent an e-mail to sam@example.com');
    expect(reply).toContain('Got it — I remembered “Meeting Dana on Tuesday”');
    const goal = (await spine.repos.goals.recent(spine.operator.id, 1))[0]!;
    expect((await spine.repos.actions.listForGoal(goal.id)).map((action) => action.status)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
    ]);
    const usage = await spine.db.pool.query('SELECT count(*)::int AS n FROM llm_usage WHERE goal_id = $1', [
      goal.id,
    ]);
    expect(usage.rows[0].n).toBe(3);
  });

  it('sends invalid tool arguments back once, and uses the corrected call', async () => {
    const model = fakeModel()
      .respondWithTools([{ name: 'email__send_email', args: { to: 'dana', subject: 'Hi', body: 'Hello' } }])
      .respondWithTools([
        { name: 'email__send_email', args: { to: 'dana@example.com', subject: 'Hi', body: 'Hello' } },
      ])
      .respond(answer('Ready for approval.'));
    const { say, chat } = await spineWith(model);
    await say('say hello to Dana');
    expect(chat.texts().at(-1)).toMatch(/Approval #\d+ needed: Send an e-mail to dana@example.com/);
    const feedback = model.calls[1]?.messages.at(-1);
    expect(ToolMessage.isInstance(feedback)).toBe(true);
    expect(String(feedback?.content)).toMatch(
      /invalid arguments for email__send_email: to: must be an e-mail/,
    );
  });

  it('reports invalid output after one retry and proposes nothing', async () => {
    const model = fakeModel()
      .respondWithTools([{ name: 'email__send_email', args: { to: 'dana', subject: 'Hi', body: 'Hello' } }])
      .respondWithTools([{ name: 'email__send_mail', args: { to: 'dana@example.com' } }]);
    const { say, chat, spine } = await spineWith(model);
    await say('say hello to Dana');
    expect(model.callCount).toBe(2);
    const reply = chat.texts().at(-1) ?? '';
    expect(reply).toContain("The model's request was still invalid after a retry, so I did not act on it");
    expect(reply).toContain('there is no tool called email__send_mail');
    expect(await spine.repos.approvals.listPending(spine.operator.id)).toHaveLength(0);
  });

  it('falls back to the offline planner with a clear message when the model fails', async () => {
    const model = fakeModel().alwaysThrow(new Error('connect ECONNREFUSED 127.0.0.1:9'));
    const { say, chat } = await spineWith(model);
    await say('remember that invoices go out on the 1st');
    const [notice, reply] = chat.texts();
    expect(notice).toBe(
      'The language model (openai:gpt-4o-mini) is not answering right now (connect ECONNREFUSED 127.0.0.1:9). ' +
        'I used my offline rules instead; try again later for a full answer.',
    );
    expect(reply).toBe('Got it — I remembered “invoices go out on the 1st”.');
  });

  it('answers a repeated deterministic request from the cache, until the TTL passes', async () => {
    const clock = new ManualClock('2026-11-25T09:00:00Z');
    const model = fakeModel()
      .respond(answer('Your next invoice run is on the 1st.'))
      .respond(answer('Still the 1st.'));
    const { say, chat, spine } = await spineWith(model, {
      clock,
      env: { SPINE_LLM_CACHE_TTL_SECONDS: '3600' },
    });
    // Separate threads: within one thread the first goal's episode joins the second one's context.
    await say('when do invoices go out?', 'thread-1');
    await say('when do invoices go out?', 'thread-2');
    expect(model.callCount).toBe(1);
    expect(chat.texts().slice(-2)).toEqual([
      'Your next invoice run is on the 1st.',
      'Your next invoice run is on the 1st.',
    ]);
    const cache = await spine.db.pool.query('SELECT hits FROM llm_cache');
    expect(cache.rows).toEqual([{ hits: 1 }]);
    const usage = await spine.db.pool.query(
      'SELECT cached, cost_usd::float8 AS cost FROM llm_usage ORDER BY id',
    );
    expect(usage.rows.map((row) => row.cached)).toEqual([false, true]);
    expect(usage.rows[1].cost).toBe(0);
    expect(await spine.models.usage.text(spine.operator.id)).toContain('2 model calls (1 from the cache)');

    clock.advance(3601 * 1000);
    await say('when do invoices go out?', 'thread-3');
    expect(model.callCount).toBe(2);
    expect(chat.texts().at(-1)).toBe('Still the 1st.');
  });

  it('deletes expired cached answers in the hourly sweep and keeps live ones', async () => {
    const clock = new ManualClock('2026-11-25T09:00:00Z');
    const { spine } = await spineWith(fakeModel(), { clock });
    const cache = new LlmCacheRepository(spine.db.pool);
    await cache.put({ key: 'old', model: 'm', response: {}, now: clock.now(), ttlSeconds: 60 });
    await cache.put({ key: 'live', model: 'm', response: {}, now: clock.now(), ttlSeconds: 7200 });
    clock.advance(61_000);
    await spine.runner.enqueue({ name: 'sweep-memories', data: { at: '2026-11-25T09' } });
    await spine.runner.idle();
    const keys = await spine.db.pool.query('SELECT key FROM llm_cache ORDER BY key');
    expect(keys.rows.map((row) => row.key)).toEqual(['live']);
  });

  it('warns once at 80% of the daily budget, stops at 100%, and resumes the next day', async () => {
    const clock = new ManualClock('2026-11-25T09:00:00Z');
    // gpt-4o-mini: $0.15 in / $0.60 out per million tokens; the budget is one cent.
    const model = fakeModel()
      .respond(answer('First.', 10_000, 12_000)) // $0.0087 → 87%
      .respond(answer('Second.', 10, 10))
      .respond(answer('Third.', 10_000, 2_000)) // over 100%
      .respond(answer('Next day.', 10, 10));
    const { say, chat, spine } = await spineWith(model, {
      clock,
      env: { SPINE_DAILY_BUDGET_USD: '0.01', SPINE_LLM_CACHE_TTL_SECONDS: '0' },
    });
    await say('first question');
    expect(chat.texts()).toEqual([
      expect.stringMatching(/^Heads-up: I have used \$0\.0087 of today's \$0\.01 model budget \(87%\)/),
      'First.',
    ]);
    await say('second question');
    expect(chat.texts().slice(2)).toEqual(['Second.']);
    await say('third question');
    expect(chat.texts().slice(3)).toEqual([
      expect.stringMatching(
        /^Today's model budget of \$0\.01 is used up \(\$0\.0\d+ spent\), so I have stopped/,
      ),
      'Third.',
    ]);
    await say('remember the budget test');
    expect(model.callCount).toBe(3);
    expect(chat.texts().slice(5)).toEqual([
      "Today's model budget ($0.01) is used up, so I used the offline rules.",
      'Got it — I remembered “the budget test”.',
    ]);
    expect(await spine.models.usage.text(spine.operator.id)).toMatch(
      /Today \(2026-11-25\): \$0\.01 — 1\d\d% of/,
    );

    clock.advance(24 * 3600 * 1000);
    await say('fourth question');
    expect(model.callCount).toBe(4);
    expect(chat.texts().at(-1)).toBe('Next day.');
  });

  it('answers `usage` in chat', async () => {
    const model = fakeModel().respond(answer('Hello.', 1_000_000, 0));
    const { say, chat, spine } = await spineWith(model);
    await say('hello there');
    await say('usage');
    const text = chat.texts().at(-1) ?? '';
    expect(text).toContain('Models: openai:gpt-4o-mini plans; openai:gpt-4o-mini does routine work.');
    expect(text).toMatch(
      /Today \(\d{4}-\d{2}-\d{2}\): \$0\.15 — 3% of your \$5\.00 daily budget; 1 model call, 1,000,000 tokens in, 0 out\./,
    );
    expect(text).toContain('• openai:gpt-4o-mini: $0.15');
    const today = (/Today \((\d{4}-\d{2}-\d{2})\)/.exec(text) ?? [])[1];
    const digest = await spine.models.usage.forDigest(spine.operator.id, today);
    expect(digest.line).toBe(`Models on ${today}: $0.15 of $5.00, 1 model call, 1,000,000 tokens in, 0 out.`);
    expect(digest.totals).toMatchObject({ calls: 1, inputTokens: 1_000_000, cacheHits: 0 });
  });

  it('opens the digest with prose from the small model, and sends it without when the model fails', async () => {
    const summary = 'You sent two invoices yesterday. One approval waits for you today.';
    const model = fakeModel()
      .respond(answer('Hello.'))
      .respond(
        new AIMessage({
          content: '',
          tool_calls: [{ name: 'respond', args: { summary }, id: 'call-1', type: 'tool_call' }],
        }),
      )
      .respond(answer('Hi again.'))
      .respond(new Error('provider down'));
    const { say, chat, spine } = await spineWith(model);
    await say('hello there');
    await spine.sendDigestNow({ channel: 'console', conversation: 'local' });
    await spine.settle();
    expect(chat.posts.at(-1)?.message.blocks?.[1]).toEqual({ type: 'section', text: summary });
    const usage = await spine.db.pool.query(`SELECT role, purpose FROM llm_usage WHERE purpose = 'digest'`);
    expect(usage.rows).toEqual([{ role: 'small', purpose: 'digest' }]);

    // A new goal changes the facts (the same facts would be answered from the cache).
    await say('hello again');
    await spine.sendDigestNow({ channel: 'console', conversation: 'local' });
    await spine.settle();
    const second = chat.posts.at(-1)?.message;
    expect(second?.text).toMatch(/^Your digest so far/);
    expect(second?.blocks?.some((block) => block.type === 'section' && block.text === summary)).toBe(false);
  });

  it("puts yesterday's model spend in the digest", async () => {
    const model = fakeModel().respond(answer('Hello.', 1_000_000, 0));
    const { say, chat, spine } = await spineWith(model);
    await say('hello there');
    await spine.sendDigestNow({ channel: 'console', conversation: 'local' });
    await spine.settle();
    const digest = chat.posts.at(-1)?.message;
    const line = digest?.blocks?.find(
      (block) => block.type === 'context' && block.text.startsWith('Models on '),
    );
    // The digest reports the previous local day; the call above was today, so that day had none.
    expect(line).toMatchObject({
      type: 'context',
      text: expect.stringMatching(/^Models on \d{4}-\d{2}-\d{2}: no calls\.$/),
    });
  });
});
