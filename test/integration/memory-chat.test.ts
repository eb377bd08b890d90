import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeEmbeddingsServer } from '../fakes/fake-embeddings-server.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

describe.each(DATABASE_KINDS)('memory in chat on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);
  const running: TestSpine[] = [];

  async function freshSpine(): Promise<TestSpine> {
    const test = await createTestSpine(await databases.open());
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

  it('cites where a recalled memory came from, and flags a tampered connector memory', async () => {
    const { say, chat, spine } = await freshSpine();
    await say('remember that the studio lease ends in September');
    await spine.memory.remember({
      operatorId: spine.operator.id,
      kind: 'note',
      content: 'The studio lease renewal offer arrived from the landlord',
      provenance: { source: 'connector:email', sourceRef: 'message 42', assertedBy: 'connector:email' },
    });
    await say('what do you know about the studio lease?');
    const answer = chat.texts().at(-1) ?? '';
    expect(answer).toMatch(
      /the studio lease ends in September — you told me in the console on \d{1,2} \w{3} \d{4}/,
    );
    expect(answer).toContain('reported from the email connector');
    expect(answer).not.toContain('not trusted');
    await spine.db.pool.query(
      `UPDATE memories SET content = content || ' (forged)' WHERE source = 'connector:email'`,
    );
    await say('what do you know about the studio lease?');
    expect(chat.texts().at(-1)).toMatch(
      /landlord \(forged\) — reported .* ⚠ altered after it was written — not trusted/,
    );
  });

  it('gives a goal the episodes of earlier goals in its own thread, not other threads', async () => {
    const { spine } = await freshSpine();
    let delivery = 0;
    async function ask(text: string, conversation: string): Promise<number> {
      delivery += 1;
      await spine.intake.handleMessage({
        channel: 'console',
        deliveryId: `episodes-${delivery}`,
        userId: 'local',
        text,
        thread: { channel: 'console', conversation },
      });
      await spine.runner.idle();
      const newest = await spine.db.pool.query('SELECT max(id) AS id FROM goals');
      return Number(newest.rows[0].id);
    }
    const first = await ask('what is on my plate this week?', 'thread-a');
    const sameThread = await ask('and tomorrow?', 'thread-a');
    const otherThread = await ask('and tomorrow?', 'thread-b');
    const episodesSeenBy = async (goalId: number) => {
      const state = await spine.graph.getState({ configurable: { thread_id: String(goalId) } });
      const memories = (
        state.values as { memories: { kind: string; goalId?: number | null; snippet: string }[] }
      ).memories;
      return memories.filter((pointer) => pointer.kind === 'episode').map((pointer) => pointer.snippet);
    };
    expect((await episodesSeenBy(sameThread)).join(' ')).toContain(`Goal #${first}`);
    expect((await episodesSeenBy(otherThread)).join(' ')).not.toContain(`Goal #${first}`);
  });

  it('forgets only after confirmation', async () => {
    const { say, chat } = await freshSpine();
    await say('remember that the gym membership renews in June');
    await say('forget gym membership');
    const preview = chat.texts().at(-1) ?? '';
    expect(preview).toContain('I would forget this memory:');
    expect(preview).toContain('the gym membership renews in June');
    const id = /forget confirm #(\d+)/.exec(preview)?.[1];
    expect(id).toBeDefined();
    await say('recall gym membership');
    expect(chat.texts().at(-1)).toContain('the gym membership renews in June');
    await say(`forget confirm #${id}`);
    expect(chat.texts().at(-1)).toBe('Forgotten: 1 memory about "gym membership".');
    await say('recall gym membership');
    expect(chat.texts().at(-1)).toContain("I don't know anything about");
    await say('forget confirm');
    expect(chat.texts().at(-1)).toContain('Nothing is waiting to be forgotten');
  });

  it('keeps memories when the forget request is cancelled', async () => {
    const { say, chat } = await freshSpine();
    await say('remember that the boiler service is booked for Friday');
    await say('forget boiler service');
    await say('forget cancel');
    expect(chat.texts().at(-1)).toBe('Kept everything about "boiler service".');
    await say('recall boiler service');
    expect(chat.texts().at(-1)).toContain('the boiler service is booked for Friday');
  });

  it('ingests a document from the console with progress, and answers from it', async () => {
    const { say, chat } = await freshSpine();
    const dir = mkdtempSync(join(tmpdir(), 'spine-doc-'));
    const file = join(dir, 'onboarding.html');
    writeFileSync(
      file,
      `<html><head><style>p{}</style></head><body><h1>Onboarding</h1>
       <p>New clients receive a welcome pack within two days.</p>
       <p>The kick-off call is scheduled by Priya, who owns client onboarding.</p></body></html>`,
    );
    const before = chat.texts().length;
    await say(`ingest ${file}`);
    const progress = chat.texts().slice(before);
    expect(progress[0]).toMatch(/^Reading onboarding\.html/);
    expect(progress).toContain('onboarding.html: 1 parts to store.');
    expect(progress.at(-1)).toMatch(/^Done: onboarding\.html is in my memory \(html/);
    await say('recall who schedules the kick-off call');
    const answer = chat.texts().at(-1) ?? '';
    expect(answer).toContain('Priya, who owns client onboarding');
    expect(answer).toContain('from the document “onboarding.html”, part 1');
  });

  it('re-embeds everything through a background job when the embedder changes, and says so', async () => {
    const db = await databases.open();
    const first = await createTestSpine(db);
    running.push(first);
    await first.say('remember that the courier picks up at 4pm');
    await first.say('remember that the warehouse closes at 6pm');
    const second = await createTestSpine(db, { env: { SPINE_EMBEDDINGS_DIMENSIONS: '128' } });
    running.push(second);
    await second.spine.runner.idle();
    const dims = await db.pool.query('SELECT DISTINCT embedding_dim FROM memories');
    expect(dims.rows.map((row) => Number(row.embedding_dim))).toEqual([128]);
    const embedders = await db.pool.query(`SELECT id, state, done, total FROM memory_embedders ORDER BY id`);
    expect(embedders.rows).toEqual([
      { id: 'local-hash-v1-128', state: 'active', done: 4, total: 4 },
      { id: 'local-hash-v1-512', state: 'retired', done: 0, total: 0 },
    ]);
    await second.say('log');
    expect(second.chat.texts().at(-1)).toContain('re-embedded 4 memories with local-hash-v1-128');
    await second.say('when does the courier come?');
    await second.say('recall courier');
    expect(second.chat.texts().at(-1)).toContain('the courier picks up at 4pm');
  });

  it('writes the search sketches of memories stored before them in the background after a restart', async () => {
    const db = await databases.open();
    const first = await createTestSpine(db);
    running.push(first);
    await first.say('remember that the courier picks up at 4pm');
    await first.say('remember that the warehouse closes at 6pm');
    const unsketched = async () =>
      Number(
        (await db.pool.query('SELECT count(*) AS n FROM memory_vectors WHERE sketch IS NULL')).rows[0]?.n,
      );
    expect(await unsketched()).toBe(0);
    // What a store from before migration 021 holds: copies without sketches.
    await db.pool.query('UPDATE memories SET embedding_sketch = NULL');
    await db.pool.query('UPDATE memory_vectors SET sketch = NULL');
    expect(await unsketched()).toBeGreaterThanOrEqual(2);
    const second = await createTestSpine(db);
    running.push(second);
    await second.spine.runner.idle();
    expect(await unsketched()).toBe(0);
    await second.say('recall courier');
    expect(second.chat.texts().at(-1)).toContain('the courier picks up at 4pm');
  });

  it('embeds through an OpenAI-compatible provider over real HTTP, re-embeds on the switch, and recalls', async () => {
    const provider = new FakeEmbeddingsServer(64);
    const baseUrl = await provider.start();
    try {
      const db = await databases.open();
      const local = await createTestSpine(db);
      running.push(local);
      await local.say('remember that the harbour ferry leaves at 7:15');
      const env = {
        SPINE_EMBEDDINGS: 'openai',
        SPINE_EMBEDDINGS_BASE_URL: baseUrl,
        SPINE_EMBEDDINGS_API_KEY: 'sk-embeddings-test-0123456789',
        SPINE_EMBEDDINGS_MODEL: 'text-embedding-3-small',
      };
      const remote = await createTestSpine(db, { env });
      running.push(remote);
      await remote.spine.runner.idle();
      const embedders = await db.pool.query(`SELECT id, state FROM memory_embedders WHERE state = 'active'`);
      expect(embedders.rows).toEqual([
        { id: expect.stringContaining('text-embedding-3-small'), state: 'active' },
      ]);
      const dims = await db.pool.query('SELECT DISTINCT embedding_dim FROM memories');
      expect(dims.rows.map((row) => Number(row.embedding_dim))).toEqual([64]);
      expect(
        provider.calls.every((call) => call.authorization === 'Bearer sk-embeddings-test-0123456789'),
      ).toBe(true);
      const before = provider.calls.length;
      await remote.say('recall when does the ferry leave');
      expect(remote.chat.texts().at(-1)).toContain('the harbour ferry leaves at 7:15');
      expect(provider.calls.length).toBeGreaterThan(before);

      // A provider that is down when Spine starts is a clear error, not a silent fallback.
      provider.failWith = 503;
      await expect(createTestSpine(await databases.open(), { env })).rejects.toThrow(
        /Could not get an embedding from openai .*SPINE_EMBEDDINGS=local/,
      );
    } finally {
      await provider.stop();
    }
  });

  it('answers a plain question from memory, with citations, when no model is configured', async () => {
    const { say, chat } = await freshSpine();
    await say('remember that Dana prefers calls before 10am');
    await say('remember that the printer is on the second floor');
    await say('when does Dana prefer calls?');
    const reply = chat.texts().at(-1) ?? '';
    expect(reply).toContain('this is what I remember about it');
    expect(reply).toMatch(/Dana prefers calls before 10am .*\(memory #\d+/);
    expect(reply).not.toContain('printer');
    expect(reply).not.toContain('Related, from memory');
  });

  it('mentions a related memory when a new goal touches it', async () => {
    const { say, chat } = await freshSpine();
    await say('remember that Dana prefers calls before 10am');
    await say('call Dana about the proposal');
    const reply = chat.texts().at(-1) ?? '';
    expect(reply).toMatch(
      /Related, from memory: “Dana prefers calls before 10am” \(memory #\d+, \d{1,2} \w{3}\)\./,
    );
  });
});
