import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.ts';
import type { Database } from '../../db/database.ts';
import { loadMigrations, migrate } from '../../db/migrate.ts';
import { ingestDocument } from '../../memory/document-ingest.ts';
import type { Embedder } from '../../memory/embedder.ts';
import { englishLexeme } from '../../memory/english-lexeme.ts';
import { LocalEmbedder } from '../../memory/local-embedder.ts';
import { PgvectorMemoryStore, SERVER_SEARCH_SETTINGS } from '../../memory/pgvector-memory-store.ts';
import { ProvenanceSigner } from '../../memory/provenance-signer.ts';
import { embeddingSketch } from '../../memory/vector-sketch.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';

const console = { source: 'console' as const, assertedBy: 'operator' };
const vectorText = (vector: number[]) => `[${vector.join(',')}]`;

describe.each(DATABASE_KINDS)('memory store conformance on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);
  // What Spine uses on each database (a halfvec index and two statements at once on a server).
  const searchSettings = kind === 'server' ? SERVER_SEARCH_SETTINGS : {};

  afterAll(async () => {
    await databases.closeAll();
  });

  async function fresh(
    options: { embedder?: Embedder; clock?: ManualClock; key?: string } = {},
  ): Promise<{ db: Database; store: PgvectorMemoryStore; operatorId: number; clock: ManualClock }> {
    const db = await databases.open();
    await migrate(db.pool, db.schema);
    const operator = await db.pool.query(
      `INSERT INTO operators (name, timezone) VALUES ('Ada', 'UTC') RETURNING id`,
    );
    const clock = options.clock ?? new ManualClock('2026-05-20T10:00:00Z');
    const store = new PgvectorMemoryStore(db.pool, {
      embedder: options.embedder ?? new LocalEmbedder({ dimension: 256 }),
      signer: new ProvenanceSigner(options.key ?? 'test-signing-key-0123456789'),
      clock,
      ...searchSettings,
    });
    await store.init();
    return { db, store, operatorId: Number(operator.rows[0]?.id), clock };
  }

  it('a new value of a fact supersedes the old one, keeps the history, and is found by exact lookup first', async () => {
    const { store, operatorId, clock } = await fresh();
    await store.remember({
      operatorId,
      kind: 'fact',
      content: "Dana's phone is 555-0100",
      provenance: console,
    });
    clock.advance(60_000);
    await store.remember({
      operatorId,
      kind: 'note',
      content: 'Dana called about the phone bill',
      provenance: console,
    });
    clock.advance(60_000);
    const second = await store.remember({
      operatorId,
      kind: 'fact',
      content: "Dana's phone is 555-0199",
      provenance: console,
    });
    const current = await store.lookupFact(operatorId, 'dana', 'PHONE');
    expect(current?.id).toBe(second.id);
    expect(current?.snippet).toContain('555-0199');
    const history = await store.factHistory(operatorId, 'Dana', 'phone');
    expect(history.map((pointer) => pointer.snippet)).toEqual([
      "Dana's phone is 555-0199",
      "Dana's phone is 555-0100",
    ]);
    const recalled = await store.recall("what is Dana's phone?", { operatorId, limit: 5 });
    expect(recalled[0]).toMatchObject({ id: second.id, layer: 'fact' });
    expect(recalled.some((pointer) => pointer.snippet.includes('555-0100'))).toBe(false);
  });

  it('stores a document as chunks that point back to it and to their position', async () => {
    const { store, operatorId } = await fresh();
    const paragraphs = Array.from(
      { length: 12 },
      (_, index) =>
        `Section ${index + 1}. ${index === 7 ? 'The warranty on the espresso machine lasts thirty months.' : 'Routine terms and conditions apply to this part of the agreement.'} ${'Filler sentence about the contract. '.repeat(6)}`,
    );
    const progress: number[] = [];
    const result = await ingestDocument(store, {
      operatorId,
      name: 'supplier-contract.md',
      bytes: new TextEncoder().encode(`# Supplier contract\n\n${paragraphs.join('\n\n')}`),
      provenance: { source: 'document:supplier-contract.md', assertedBy: 'operator' },
      onProgress: ({ stage, done }) => {
        if (stage === 'stored') progress.push(done);
      },
    });
    expect(result.chunks).toBeGreaterThan(2);
    expect(progress.at(-1)).toBe(result.chunks);
    const found = await store.recall('how long is the espresso machine warranty?', { operatorId, limit: 3 });
    const chunk = found.find((pointer) => pointer.snippet.includes('thirty months'));
    expect(chunk?.documentId).toBe(result.document.id);
    expect(chunk?.chunkIndex).toBeGreaterThan(0);
    expect(chunk?.chunkIndex).toBeLessThan(result.chunks);
  });

  it('filters by kind, source, sensitivity and time inside the query', async () => {
    const { store, operatorId, clock } = await fresh();
    await store.remember({
      operatorId,
      kind: 'note',
      content: 'Invoice 42 for the harbour project was paid',
      provenance: console,
      occurredAt: new Date('2026-03-02T09:00:00Z'),
    });
    await store.remember({
      operatorId,
      kind: 'episode',
      content: 'Goal: chase invoice 42 for the harbour project',
      provenance: { source: 'system', assertedBy: 'spine' },
    });
    await store.remember({
      operatorId,
      kind: 'note',
      content: 'Invoice 42 harbour project reminder from the mailbox',
      provenance: { source: 'connector:email', assertedBy: 'connector:email' },
      occurredAt: new Date('2026-05-12T09:00:00Z'),
    });
    await store.remember({
      operatorId,
      kind: 'note',
      content: 'Invoice 42 harbour project bank password is hunter2',
      provenance: console,
      sensitivity: 'secret',
    });
    const query = 'invoice 42 harbour project';
    const notes = await store.recall(query, { operatorId, limit: 10, kinds: ['note'] });
    expect(notes.map((pointer) => pointer.kind)).toEqual(['note', 'note']);
    expect(notes.some((pointer) => pointer.snippet.includes('hunter2'))).toBe(false);
    const secrets = await store.recall(query, {
      operatorId,
      limit: 10,
      kinds: ['note'],
      maxSensitivity: 'secret',
    });
    expect(secrets.some((pointer) => pointer.snippet.includes('hunter2'))).toBe(true);
    const fromConnectors = await store.recall(query, { operatorId, limit: 10, sources: ['connector:*'] });
    expect(fromConnectors.map((pointer) => pointer.source)).toEqual(['connector:email']);
    const march = await store.recall(query, {
      operatorId,
      limit: 10,
      since: new Date('2026-03-01T00:00:00Z'),
      until: new Date('2026-04-01T00:00:00Z'),
    });
    expect(march.map((pointer) => pointer.snippet)).toEqual(['Invoice 42 for the harbour project was paid']);
    expect(clock.now().toISOString()).toBe('2026-05-20T10:00:00.000Z');
  });

  it('the vector layer alone honours the filters, by the HNSW index or by an exact ranking of a narrow filter', async () => {
    const { db, store, operatorId } = await fresh();
    const topics = ['harbour invoice', 'espresso machine', 'garden fence', 'tax return', 'bicycle repair'];
    const memories = Array.from({ length: 40 }, (_, index) => ({
      operatorId,
      kind: (index % 4 === 0 ? 'episode' : 'note') as 'episode' | 'note',
      content: `${topics[index % topics.length]} item ${index}`,
      provenance: console,
      occurredAt: new Date(Date.UTC(2026, index % 5, 3)),
    }));
    const written = await store.rememberMany(memories);
    const byId = new Map(written.map((pointer, index) => [pointer.id, memories[index]!]));
    const embedding = await store.embedder.embedQuery('espresso machine');
    const everything = { operatorId, kinds: ['fact', 'note', 'document', 'episode'] as const };
    const indexed = await store.nearest(embedding, { ...everything, kinds: [...everything.kinds] }, 5);
    expect(indexed).toHaveLength(5);
    expect(byId.get(indexed[0]!)?.content).toContain('espresso machine');
    const narrow = { operatorId, kinds: ['note' as const], since: new Date(Date.UTC(2026, 1, 1)) };
    const exact = await store.nearest(embedding, narrow, 5, true);
    expect(await store.nearest(embedding, narrow, 5)).toEqual(exact);
    for (const id of exact) {
      expect(byId.get(id)?.kind).toBe('note');
      expect(byId.get(id)!.occurredAt!.getTime()).toBeGreaterThanOrEqual(narrow.since.getTime());
    }
    // The same narrow filter through the HNSW index (iterative scan) when the exact ranking is off.
    const viaIndex = new PgvectorMemoryStore(db.pool, {
      embedder: store.embedder,
      exactUnder: 0,
      ...searchSettings,
    });
    const scanned = await viaIndex.nearest(embedding, narrow, 5);
    expect(scanned.length).toBeGreaterThan(0);
    for (const id of scanned) expect(byId.get(id)?.kind).toBe('note');
  });

  it('ranks a narrow filter from its own index, without reading a table page per memory', async () => {
    const { db, store, operatorId } = await fresh();
    const kinds = [
      'note',
      'note',
      'note',
      'note',
      'note',
      'note',
      'note',
      'note',
      'episode',
      'document',
    ] as const;
    const topics = ['harbour', 'espresso', 'garden', 'tax'];
    for (let start = 0; start < 2000; start += 500) {
      await store.rememberMany(
        Array.from({ length: 500 }, (_, offset) => {
          const index = start + offset;
          return {
            operatorId,
            kind: kinds[index % kinds.length]!,
            content: `entry ${index} about ${topics[index % topics.length]} work`,
            provenance: console,
            occurredAt: new Date(Date.UTC(2026, 0, 1) + index * 3_600_000),
          };
        }),
      );
    }
    // What autovacuum does after a load: statistics, and the pages marked all-visible. A transaction
    // of a test running beside this one (same database) keeps VACUUM from marking them until it
    // ends: vacuum again until they are (tests' transactions last milliseconds; 30 s at most).
    let visible = false;
    for (let attempt = 0; attempt < 300 && !visible; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      await db.pool.query('VACUUM (ANALYZE) memories, memory_vectors, memory_sketches');
      const pages = await db.pool.query(
        `SELECT bool_and(relallvisible >= relpages) AS visible FROM pg_class
         WHERE oid IN ('memories'::regclass, 'memory_vectors'::regclass, 'memory_sketches'::regclass)`,
      );
      visible = pages.rows[0]?.visible === true;
    }
    expect(visible, 'VACUUM could not mark the pages all-visible: a transaction stayed open for 30 s').toBe(
      true,
    );
    // The store's own statement, explained on the connection (and settings) it runs on.
    const plans: string[] = [];
    const pool = watchedPool(db, async (client, text, values) => {
      if (!text.includes('WITH vec AS MATERIALIZED')) return;
      const plan = await client.query(`EXPLAIN (ANALYZE) ${text}`, values);
      plans.push(plan.rows.map((row) => String(row['QUERY PLAN'])).join('\n'));
    });
    // The server's settings on both databases (embedded PGlite ranks 32-bit through the table: its
    // WebAssembly build has no SIMD for 16-bit floats), so the migration and SQL are checked on both.
    const probe = new PgvectorMemoryStore(pool, { embedder: store.embedder, ...SERVER_SEARCH_SETTINGS });
    const narrow = { operatorId, kinds: ['document' as const], since: new Date(Date.UTC(2026, 1, 1)) };
    const found = await probe.nearest(await store.embedder.embedQuery('espresso work'), narrow, 5);
    expect(found).toHaveLength(5);
    expect(found).toEqual(
      await store.nearest(await store.embedder.embedQuery('espresso work'), narrow, 5, true),
    );
    expect(plans).toHaveLength(1);
    // The sketches, in an index-only scan; the exact distance is read for the best 200 only.
    expect(plans[0]).toMatch(/Index Only Scan using memory_sketches_scope_idx/);
    expect(plans[0]).toMatch(/Heap Fetches: 0/);
    // Without the sketches, the 16-bit copies, in an index-only scan too.
    const halves = new PgvectorMemoryStore(pool, {
      embedder: store.embedder,
      ...SERVER_SEARCH_SETTINGS,
      sketchRanking: false,
    });
    expect(await halves.nearest(await store.embedder.embedQuery('espresso work'), narrow, 5)).toEqual(found);
    expect(plans).toHaveLength(2);
    expect(plans[1]).toMatch(/Index Only Scan using memory_vectors_scope_idx/);
    expect(plans[1]).toMatch(/Heap Fetches: 0/);
  });

  /**
   * The database's pool, which calls `watch` with each statement (text only) before it runs it, with
   * the connection it runs on (the pool itself for `pool.query`): to count the store's statements,
   * or to explain them on the connection they run on.
   */
  function watchedPool(
    db: Database,
    watch: (on: Pick<pg.PoolClient, 'query'>, text: string, values?: unknown[]) => Promise<void> | void,
  ): pg.Pool {
    return new Proxy(db.pool as pg.Pool, {
      get(target, property, receiver) {
        if (property === 'query')
          return async (text: unknown, values?: unknown[]) => {
            if (typeof text === 'string') await watch(target, text, values);
            return target.query(text as string, values);
          };
        if (property === 'connect')
          return async () => {
            const client = await target.connect();
            return new Proxy(client, {
              get(inner, name, innerReceiver) {
                if (name !== 'query') return Reflect.get(inner, name, innerReceiver);
                return async (text: unknown, values?: unknown[]) => {
                  if (typeof text === 'string') await watch(inner, text, values);
                  return inner.query(text as string, values);
                };
              },
            });
          };
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  /** `count` (600) notes of 4–8 words from a dozen, the same on every run. */
  async function sixHundredNotes(store: PgvectorMemoryStore, operatorId: number, count = 600): Promise<void> {
    const words = 'harbour espresso garden tax invoice fence tiles roof boiler quote client supplier'.split(
      ' ',
    );
    const next = (() => {
      let state = 11;
      return () => {
        state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
        return state / 2_147_483_648;
      };
    })();
    const texts = Array.from({ length: count }, (_, index) =>
      Array.from({ length: 4 + (index % 5) }, () => words[Math.floor(next() * words.length)]).join(' '),
    );
    await store.rememberMany(
      texts.map((content) => ({ operatorId, kind: 'note' as const, content, provenance: console })),
    );
  }

  it('ranks by sketch nearly as exactly, over more memories than it re-ranks', async () => {
    const { db, store, operatorId } = await fresh();
    await sixHundredNotes(store, operatorId);
    const sketched = new PgvectorMemoryStore(db.pool, {
      embedder: store.embedder,
      ...SERVER_SEARCH_SETTINGS,
      sketchRerank: 60,
    });
    // The same ranking in two halves at once, split at the median time (each half re-ranks its own
    // best 60: their union holds the best 60 of the whole, so it can only find more).
    const split = new PgvectorMemoryStore(db.pool, {
      embedder: store.embedder,
      ...SERVER_SEARCH_SETTINGS,
      sketchRerank: 60,
      splitFrom: 100,
    });
    const scope = { operatorId, kinds: ['note' as const], since: new Date(Date.UTC(2020, 0, 1)) };
    let overlap = 0;
    const queries = ['espresso garden', 'tax invoice client', 'roof boiler quote', 'harbour fence', 'tiles'];
    for (const query of queries) {
      const embedding = await store.embedder.embedQuery(query);
      const found = await sketched.nearest(embedding, scope, 10);
      const truth = new Set(await sketched.nearest(embedding, scope, 10, true));
      expect(found).toHaveLength(10);
      const kept = found.filter((id) => truth.has(id)).length;
      overlap += kept;
      const halves = await split.nearest(embedding, scope, 10);
      expect(halves).toHaveLength(10);
      expect(halves.filter((id) => truth.has(id)).length).toBeGreaterThanOrEqual(kept);
      // A whole search through the halves finds what the whole ranking finds first.
      const [first] = await split.recall(query, { ...scope, limit: 1 });
      expect(first?.id).toBe((await sketched.recall(query, { ...scope, limit: 1 }))[0]?.id);
    }
    // 60 of 600 re-ranked: a sketch that ranked at random would keep a tenth of the exact top 10.
    expect(overlap / (10 * queries.length)).toBeGreaterThanOrEqual(0.9);
  });

  it('sorts only the sketches within an estimated cut, and all of them when the cut kept too few', async () => {
    const { db, store, operatorId } = await fresh();
    await sixHundredNotes(store, operatorId);
    // Each ranking with a cut, explained on its own connection: how many scans of the sketches ran.
    const scans: number[] = [];
    const pool = watchedPool(db, async (client, text, values) => {
      if (!text.includes('WITH near AS MATERIALIZED')) return;
      const plan = await client.query(`EXPLAIN (ANALYZE) ${text}`, values);
      const lines = plan.rows.map((row) => String(row['QUERY PLAN']));
      scans.push(
        lines.filter((line) => /Index Only Scan using memory_sketches_scope_idx.*\(actual/.test(line)).length,
      );
    });
    const ranking = (sketchCut: boolean | number, splitFrom?: number) =>
      new PgvectorMemoryStore(pool, {
        embedder: store.embedder,
        ...SERVER_SEARCH_SETTINGS,
        sketchRerank: 60,
        sketchCut,
        splitFrom,
      });
    const whole = ranking(false);
    const cut = ranking(true);
    // A cut that aims at a twentieth of the 60 re-ranked: fewer than 60 are within it.
    const tight = ranking(0.05);
    const halves = ranking(false, 100);
    const cutHalves = ranking(true, 100);
    const scope = { operatorId, kinds: ['note' as const], since: new Date(Date.UTC(2020, 0, 1)) };
    for (const query of [
      'espresso garden',
      'tax invoice client',
      'roof boiler quote',
      'harbour fence',
      'tiles',
    ]) {
      const embedding = await store.embedder.embedQuery(query);
      const expected = await whole.nearest(embedding, scope, 10);
      expect(expected).toHaveLength(10);
      expect(scans).toEqual([]);
      // The cut keeps enough: one scan of the sketches, and the same ranking.
      expect(await cut.nearest(embedding, scope, 10)).toEqual(expected);
      expect(scans.splice(0)).toEqual([1]);
      // Too tight a cut: the sketches are scanned again without it, and the ranking is still the same.
      expect(await tight.nearest(embedding, scope, 10)).toEqual(expected);
      expect(scans.splice(0)).toEqual([2]);
      // In halves (each ranks about 300 of the 600: under the 8 × 60 a cut needs to pay, so none).
      expect(await cutHalves.nearest(embedding, scope, 10)).toEqual(
        await halves.nearest(embedding, scope, 10),
      );
      expect(scans.splice(0)).toEqual([]);
      // A whole search gives the same results with the cut.
      const ids = (found: { id: number }[]) => found.map((pointer) => pointer.id);
      expect(ids(await cut.recall(query, { ...scope, limit: 10 }))).toEqual(
        ids(await whole.recall(query, { ...scope, limit: 10 })),
      );
      expect(scans.splice(0)).toEqual([1]);
    }
  });

  it('estimates the cut from a sample of pages when the table has more sketches than it samples', async () => {
    const { db, store, operatorId } = await fresh();
    await sixHundredNotes(store, operatorId, 2000);
    await db.pool.query('ANALYZE memory_sketches');
    const samples: string[] = [];
    const pool = watchedPool(db, (_on, text) => {
      if (text.includes('FROM memory_sketches') && text.includes('LIMIT 512')) samples.push(text);
    });
    const ranking = (sketchCut: boolean) =>
      new PgvectorMemoryStore(pool, {
        embedder: store.embedder,
        ...SERVER_SEARCH_SETTINGS,
        sketchRerank: 60,
        sketchCut,
      });
    const [whole, cut] = [ranking(false), ranking(true)];
    const scope = { operatorId, kinds: ['note' as const], since: new Date(Date.UTC(2020, 0, 1)) };
    for (const query of ['espresso garden', 'tax invoice client', 'roof boiler quote']) {
      const embedding = await store.embedder.embedQuery(query);
      expect(await cut.nearest(embedding, scope, 10)).toEqual(await whole.nearest(embedding, scope, 10));
    }
    // One sample (cached), of whole pages: 2,000 sketches are more than three times the 512 it keeps.
    expect(samples).toHaveLength(1);
    expect(samples[0]).toMatch(/TABLESAMPLE SYSTEM/);
  });

  it('writes a sketch with every embedding, fills the missing ones, and never keeps a stale one', async () => {
    const { db, store, operatorId } = await fresh();
    const stored = await store.rememberMany(
      ['espresso machine service', 'garden fence quote', 'espresso beans order', 'tax return filed'].map(
        (content) => ({ operatorId, kind: 'note' as const, content, provenance: console }),
      ),
    );
    const sketches = async () => {
      const result = await db.pool.query(
        `SELECT v.memory_id AS id, v.sketch::text AS copy, s.sketch::text AS narrow,
                m.embedding_sketch::text AS own, m.embedding::text AS embedding
         FROM memory_vectors v JOIN memories m ON m.id = v.memory_id
           LEFT JOIN memory_sketches s ON s.memory_id = v.memory_id ORDER BY v.memory_id`,
      );
      return result.rows.map((row) => {
        // The table the ranking reads follows the copy.
        expect(row.narrow).toBe(row.copy);
        return {
          id: Number(row.id),
          copy: row.copy as string | null,
          own: row.own as string | null,
          // What the sketch of the stored embedding is, as Postgres prints bit strings.
          expected: bits(embeddingSketch(JSON.parse(String(row.embedding)) as number[])!),
        };
      });
    };
    const bits = (hex: string) =>
      [...hex.slice(1)].map((digit) => Number.parseInt(digit, 16).toString(2).padStart(4, '0')).join('');
    for (const row of await sketches()) {
      expect(row.copy).toBe(row.expected);
      expect(row.own).toBe(row.expected);
    }
    expect((await store.init()).sketchesNeeded).toBe(false);

    // A store from before migration 021: no sketches anywhere.
    await db.pool.query('UPDATE memories SET embedding_sketch = NULL');
    await db.pool.query('UPDATE memory_vectors SET sketch = NULL');
    expect((await store.init()).sketchesNeeded).toBe(true);
    expect(await store.unsketchedCount()).toBe(4);
    // Meanwhile searches rank the 16-bit copies (or, on PGlite, the table) and find the same.
    const narrow = { operatorId, kinds: ['note' as const], since: new Date(Date.UTC(2020, 0, 1)) };
    const fresh16 = new PgvectorMemoryStore(db.pool, { embedder: store.embedder, ...SERVER_SEARCH_SETTINGS });
    const embedding = await store.embedder.embedQuery('espresso');
    const truth = await fresh16.nearest(embedding, narrow, 2, true);
    expect(await fresh16.nearest(embedding, narrow, 2)).toEqual(truth);
    expect(await store.fillSketches(3)).toEqual({ done: 3, remaining: true });
    expect(await store.fillSketches(3)).toEqual({ done: 1, remaining: false });
    for (const row of await sketches()) {
      expect(row.copy).toBe(row.expected);
      expect(row.own).toBeNull();
    }
    expect((await store.init()).sketchesNeeded).toBe(false);
    // Other changes to a memory keep the sketch the fill wrote.
    await db.pool.query(
      `UPDATE memories SET content = content || '.', expires_at = now() + interval '1 year'`,
    );
    for (const row of await sketches()) expect(row.copy).toBe(row.expected);

    // A new embedding written around the store (a script) clears the old sketch; the fill writes
    // the new one.
    const other = vectorText(await store.embedder.embedQuery('completely different words'));
    await db.pool.query('UPDATE memories SET embedding = $2::vector WHERE id = $1', [stored[0]!.id, other]);
    const changed = (await sketches()).find((row) => row.id === stored[0]!.id)!;
    expect(changed.copy).toBeNull();
    expect(changed.own).toBeNull();
    expect(await store.fillSketches()).toEqual({ done: 1, remaining: false });
    for (const row of await sketches()) expect(row.copy).toBe(row.expected);

    // A copy without a sketch (a writer that bypassed the store) is still ranked: it sorts first.
    const sketched = new PgvectorMemoryStore(db.pool, {
      embedder: store.embedder,
      ...SERVER_SEARCH_SETTINGS,
      // Three of the four memories get their exact distance: the copy without a sketch is one.
      candidates: 1,
      sketchRerank: 1,
    });
    const espresso = await store.embedder.embedQuery('espresso beans order');
    expect(await sketched.nearest(espresso, narrow, 1)).toEqual([stored[2]!.id]);
    await db.pool.query('UPDATE memory_vectors SET sketch = NULL WHERE memory_id = $1', [stored[2]!.id]);
    expect(await sketched.nearest(espresso, narrow, 1)).toEqual([stored[2]!.id]);
  });

  /**
   * Rows where memory_vectors and memories disagree (the copy every embedding of up to 1,024
   * dimensions should have, with the columns the filters read), and rows where memory_sketches and
   * memory_vectors disagree (the same without the embedding, with the sketch): 0 when the triggers
   * kept both in step.
   */
  /** Two notes about espresso and one about a fence, in that order. */
  function threeNotes(store: PgvectorMemoryStore, operatorId: number) {
    return store.rememberMany(
      ['espresso machine service', 'garden fence quote', 'espresso beans order'].map((content) => ({
        operatorId,
        kind: 'note' as const,
        content,
        provenance: console,
      })),
    );
  }

  async function copyDrift(db: Database): Promise<number> {
    const columns = `operator_id, kind, occurred_at, superseded_by, expires_at, sensitivity, source, embedder,
      embedding_dim`;
    const result = await db.pool.query(
      `WITH expected AS (
         SELECT id, ${columns}, (embedding::halfvec)::text AS half FROM memories
         WHERE embedding IS NOT NULL AND embedder IS NOT NULL AND embedding_dim IS NOT NULL
           AND vector_dims(embedding) <= 1024),
       actual AS (SELECT memory_id AS id, ${columns}, embedding::text AS half FROM memory_vectors),
       copies AS (SELECT memory_id AS id, ${columns}, sketch::text AS sketch FROM memory_vectors),
       narrow AS (SELECT memory_id AS id, ${columns}, sketch::text AS sketch FROM memory_sketches)
       SELECT (SELECT count(*)::int FROM ((SELECT * FROM expected EXCEPT SELECT * FROM actual)
         UNION ALL (SELECT * FROM actual EXCEPT SELECT * FROM expected)) d)
         + (SELECT count(*)::int FROM ((SELECT * FROM copies EXCEPT SELECT * FROM narrow)
         UNION ALL (SELECT * FROM narrow EXCEPT SELECT * FROM copies)) e) AS n`,
    );
    return Number(result.rows[0]?.n);
  }

  it('keeps a 16-bit copy of every embedding up to 1,024 dimensions in step, whatever changes the memory', async () => {
    const clock = new ManualClock('2026-05-20T10:00:00Z');
    const { db, store, operatorId } = await fresh({ clock });
    const stored = await threeNotes(store, operatorId);
    const copies = async () =>
      (await db.pool.query('SELECT count(*)::int AS n FROM memory_vectors')).rows[0]?.n;
    expect(await copies()).toBe(3);
    expect(await copyDrift(db)).toBe(0);
    // A new value of a fact supersedes the old one (its copy leaves the filter index); an expiry.
    const memories: Array<{ kind: 'fact' | 'note'; content: string; expiresAt?: Date }> = [
      { kind: 'fact', content: "Dana's phone is 555-0100" },
      { kind: 'fact', content: "Dana's phone is 555-0199" },
      { kind: 'note', content: 'gate code 4321', expiresAt: new Date('2026-05-20T11:00:00Z') },
    ];
    for (const memory of memories) {
      await store.remember({ operatorId, provenance: console, ...memory });
      expect(await copyDrift(db)).toBe(0);
    }
    clock.set('2026-05-20T12:00:00Z');
    expect(await store.sweepExpired()).toBe(1);
    expect(await copyDrift(db)).toBe(0);
    // A document and its chunks, forgotten together (the chunks go by the foreign key's cascade).
    const document = await ingestDocument(store, {
      operatorId,
      name: 'espresso-manual.md',
      bytes: new TextEncoder().encode(
        Array.from({ length: 6 }, (_, index) => `Step ${index}: descale the machine. `.repeat(40)).join(
          '\n\n',
        ),
      ),
      provenance: { source: 'document:espresso-manual.md', assertedBy: 'operator' },
    });
    expect(document.chunks).toBeGreaterThan(1);
    expect(await copyDrift(db)).toBe(0);
    expect(await store.forget(operatorId, [document.document.id, stored[1]!.id])).toBeGreaterThan(2);
    expect(await copyDrift(db)).toBe(0);
    // From a session whose search_path does not name Spine's schema (psql, qualified names).
    await db.pool.query(
      `BEGIN; SET LOCAL search_path TO public;
       UPDATE ${db.schema}.memories SET expires_at = '2027-01-01' WHERE id = ${Number(stored[0]!.id)}; COMMIT`,
    );
    expect(await copyDrift(db)).toBe(0);
    // A change of any other column leaves the copy as it is.
    await db.pool.query(`UPDATE memories SET content = 'espresso machine serviced' WHERE id = $1`, [
      stored[0]!.id,
    ]);
    await db.pool.query(`UPDATE memories SET sensitivity = 'secret' WHERE id = $1`, [stored[2]!.id]);
    expect(await copyDrift(db)).toBe(0);
    // Re-embedding with another embedder, then one too large for a copy.
    for (const dimension of [128, 1025]) {
      const next = new PgvectorMemoryStore(db.pool, { embedder: new LocalEmbedder({ dimension }) });
      await next.init();
      while ((await next.reembedBatch(2)).remaining > 0) {}
      expect(await copyDrift(db)).toBe(0);
    }
    expect(await copies()).toBe(0);
    await store.rememberMany(
      ['espresso machine service', 'garden fence quote'].map((content) => ({
        operatorId,
        kind: 'note' as const,
        content,
        provenance: console,
      })),
    );
    expect(await copies()).toBe(2);
    await db.pool.query('TRUNCATE memories CASCADE');
    expect(await copies()).toBe(0);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM memory_sketches')).rows[0]?.n).toBe(0);
  });

  /** A database migrated up to (not including) `version`, with one operator. */
  async function storeBefore(version: number): Promise<{ db: Database; operatorId: number }> {
    const db = await databases.open();
    await migrate(
      db.pool,
      db.schema,
      loadMigrations().filter((migration) => migration.version < version),
    );
    const operator = await db.pool.query(
      `INSERT INTO operators (name, timezone) VALUES ('Ada', 'UTC') RETURNING id`,
    );
    return { db, operatorId: Number(operator.rows[0]?.id) };
  }

  /** The upgraded store finds the three notes, in the order of the exact ranking. */
  async function expectExactAfterUpgrade(store: PgvectorMemoryStore, embedder: Embedder, operatorId: number) {
    const narrow = { operatorId, kinds: ['note' as const], since: new Date(Date.UTC(2020, 0, 1)) };
    const query = await embedder.embedQuery('espresso');
    const found = await store.nearest(query, narrow, 3);
    expect(found).toHaveLength(3);
    expect(found).toEqual(await store.nearest(query, narrow, 3, true));
  }

  it('moves the sketches to their own table when a store from before migration 022 is upgraded', async () => {
    const { db, operatorId } = await storeBefore(22);
    const embedder = new LocalEmbedder({ dimension: 256 });
    const store = new PgvectorMemoryStore(db.pool, { embedder, ...SERVER_SEARCH_SETTINGS });
    const stored = await threeNotes(store, operatorId);
    // One copy without its sketch (a store upgraded to 021 whose fill has not reached it).
    await db.pool.query('UPDATE memories SET embedding_sketch = NULL WHERE id = $1', [stored[1]!.id]);
    await db.pool.query('UPDATE memory_vectors SET sketch = NULL WHERE memory_id = $1', [stored[1]!.id]);
    await migrate(db.pool, db.schema);
    expect(await copyDrift(db)).toBe(0);
    const sketched = await db.pool.query(
      'SELECT count(*)::int AS n FROM memory_sketches WHERE sketch IS NOT NULL',
    );
    expect(sketched.rows[0]?.n).toBe(2);
    // The fill writes the copy; its sketch reaches the narrow table, which the ranking reads.
    expect(await store.fillSketches()).toEqual({ done: 1, remaining: false });
    expect(await copyDrift(db)).toBe(0);
    await expectExactAfterUpgrade(store, embedder, operatorId);
  });

  it('copies the memories stored before the 16-bit copies existed when the store is upgraded', async () => {
    const { db, operatorId } = await storeBefore(19);
    const embedder = new LocalEmbedder({ dimension: 256 });
    const texts = ['espresso machine service', 'garden fence quote', 'espresso beans order'];
    for (const content of texts)
      await db.pool.query(
        `INSERT INTO memories (operator_id, kind, content, source, asserted_by, embedding, embedder, embedding_dim)
         VALUES ($1, 'note', $2, 'console', 'operator', $3::vector, $4, 256)`,
        [operatorId, content, `[${(await embedder.embedQuery(content)).join(',')}]`, embedder.id],
      );
    await migrate(db.pool, db.schema);
    expect(await copyDrift(db)).toBe(0);
    const store = new PgvectorMemoryStore(db.pool, { embedder, indexType: 'halfvec' });
    await expectExactAfterUpgrade(store, embedder, operatorId);
  });

  it('orders memories at equal distance the same way whichever plan ranks them', async () => {
    const { db, store, operatorId } = await fresh();
    // Twelve copies of one note: every distance ties, and so does every full-text score.
    await store.rememberMany(
      Array.from({ length: 12 }, (_, index) => ({
        operatorId,
        kind: 'note' as const,
        content: 'espresso machine service booked',
        provenance: console,
        occurredAt: new Date(Date.UTC(2026, 0, 1)),
        metadata: { copy: index },
      })),
    );
    const exact = new PgvectorMemoryStore(db.pool, { embedder: store.embedder, ...searchSettings });
    const graph = new PgvectorMemoryStore(db.pool, {
      embedder: store.embedder,
      ...searchSettings,
      exactUnder: 0,
    });
    const narrow = { operatorId, kinds: ['note' as const], since: new Date(Date.UTC(2025, 0, 1)), limit: 12 };
    const orders: number[][] = [];
    for (const probe of [exact, graph, exact])
      orders.push((await probe.recall('espresso service', narrow)).map((pointer) => pointer.id));
    expect(orders[0]).toHaveLength(12);
    expect(orders[1]).toEqual(orders[0]);
    expect(orders[2]).toEqual(orders[0]);
  });

  it('stores and ranks embeddings too large for the filter index (1,536 dimensions) through the table', async () => {
    const { store, operatorId } = await fresh({ embedder: new LocalEmbedder({ dimension: 1536 }) });
    const written = await threeNotes(store, operatorId);
    const narrow = { operatorId, kinds: ['note' as const], since: new Date(Date.UTC(2026, 0, 1)) };
    const embedding = await store.embedder.embedQuery('espresso');
    const found = await store.nearest(embedding, narrow, 2);
    expect(new Set(found)).toEqual(new Set([written[0]!.id, written[2]!.id]));
    const recalled = await store.recall('espresso machine', { ...narrow, limit: 1 });
    expect(recalled[0]?.id).toBe(written[0]!.id);
  });

  it('on a large store takes word frequencies from Postgres statistics and still ranks the rare word first', async () => {
    const { db, store, operatorId } = await fresh();
    await store.rememberMany(
      Array.from({ length: 30 }, (_, index) => ({
        operatorId,
        kind: 'note' as const,
        content:
          index === 17 ? 'the quarterly invoice from Zephyrine Logistics' : `routine invoice number ${index}`,
        provenance: console,
      })),
    );
    await db.pool.query('ANALYZE memories');
    const large = new PgvectorMemoryStore(db.pool, {
      embedder: store.embedder,
      statisticsFrom: 0,
      ...searchSettings,
    });
    const found = await large.recall('zephyrine invoice', { operatorId, limit: 3, kinds: ['note'] });
    expect(found[0]?.snippet).toBe('the quarterly invoice from Zephyrine Logistics');
    // A question of stop words only has no full-text side and a zero vector (cosine NaN, which
    // Postgres sorts above every number): the statement still runs and finds nothing.
    expect(await large.recall('is it?', { operatorId, limit: 3, kinds: ['note'] })).toEqual([]);
  });

  it("computes a query word's lexeme as Postgres's English configuration does (no round trip)", async () => {
    const db = await databases.open();
    const bases = [
      'connect',
      'generate',
      'happy',
      'run',
      'agree',
      'news',
      'sky',
      'die',
      'lie',
      'ski',
      'proceed',
      'exceed',
      'gentle',
      'early',
      'only',
      'single',
      'invoice',
      'photograph',
      'relate',
      'condition',
      'hope',
      'plan',
      'stop',
      'fizz',
      'hop',
      'fail',
      'file',
      'cry',
      'sing',
      'national',
      'digit',
      'formal',
      'sensible',
      'electric',
      'adjust',
      'adopt',
      'depend',
      'communism',
      'activate',
      'angular',
      'homologous',
      'effective',
      'bowdler',
      'quarter',
      'zephyrine',
      'mirisuna',
      'kasate',
      'catalogue',
    ];
    const suffixes = [
      '',
      's',
      'es',
      'ed',
      'ing',
      'ly',
      'ness',
      'ful',
      'ation',
      'ational',
      'izer',
      'ization',
      'iveness',
      'ement',
      'ity',
      'ies',
      'ied',
      'eed',
      'eedly',
      'ingly',
      'ousness',
      'alism',
      'iciti',
      'ative',
      'ous',
    ];
    const words = [
      ...bases.flatMap((base) => suffixes.map((suffix) => base + suffix)),
      ...['skies', 'dying', 'lying', 'tying', 'news', 'innings', 'outing', 'canning', 'herring', 'earring'],
      ...['proceed', 'exceed', 'succeed', 'atlas', 'cosmos', 'bias', 'andes', 'gently', 'ugly', 'generous'],
      ...['2024', '2023', 'q3', 'b2b', '3d', 'covid19', 'x1', '555', '0100', '3437', 'st3', 'd13'],
    ];
    const result = await db.pool.query(
      `SELECT q.word, (SELECT lexeme FROM unnest(to_tsvector('english', q.word)) LIMIT 1) AS lexeme
       FROM unnest($1::text[]) AS q(word)`,
      [words],
    );
    const compared = result.rows.filter((row) => row.lexeme !== null);
    expect(compared.length).toBeGreaterThan(1000);
    const disagreements = compared
      .filter((row) => englishLexeme(String(row.word)) !== row.lexeme)
      .map((row) => `${row.word}: Postgres ${row.lexeme}, here ${englishLexeme(String(row.word))}`);
    expect(disagreements).toEqual([]);
  });

  it('understands "last week" and "in March" from the memories\u2019 own times (with an injected clock)', async () => {
    const clock = new ManualClock('2026-05-20T10:00:00Z'); // a Wednesday
    const { store, operatorId } = await fresh({ clock });
    const old = await store.remember({
      operatorId,
      kind: 'note',
      content: 'Met the printer about the catalogue proofs',
      provenance: console,
      occurredAt: new Date('2026-03-10T12:00:00Z'),
    });
    const recent = await store.remember({
      operatorId,
      kind: 'note',
      content: 'Met the printer about the catalogue paper',
      provenance: console,
      occurredAt: new Date('2026-05-13T12:00:00Z'),
    });
    const lastWeek = await store.recall('what did I discuss with the printer last week?', {
      operatorId,
      limit: 2,
    });
    expect(lastWeek[0]?.id).toBe(recent.id);
    const inMarch = await store.recall('what did I discuss with the printer in March?', {
      operatorId,
      limit: 2,
    });
    expect(inMarch[0]?.id).toBe(old.id);
  });

  it('fuses the vector and full-text rankings by reciprocal rank fusion', async () => {
    const { store, operatorId } = await fresh();
    // "both" matches the query in both lists; the others only lexically or only by character n-grams.
    const both = await store.remember({
      operatorId,
      kind: 'note',
      content: 'The photography workshop is on Saturday',
      provenance: console,
    });
    const lexical = await store.remember({
      operatorId,
      kind: 'note',
      content: 'Workshop rota: cleaning duty, inventory, keys, alarm codes, bins, recycling',
      provenance: console,
    });
    const found = await store.recall('photography workshop', { operatorId, limit: 5 });
    expect(found[0]?.id).toBe(both.id);
    expect(found.map((pointer) => pointer.id)).toContain(lexical.id);
    expect(found[0]!.score).toBeGreaterThan(found[1]!.score);
    // RRF with k = 20, full text weighted 1.5: a memory first in both lists scores (1 + 1.5) / 21.
    expect(found[0]!.score).toBeCloseTo(2.5 / 21, 6);
  });

  it('answers the same whether the two sides of a search run as one statement or two at once', async () => {
    const clock = new ManualClock('2026-05-20T10:00:00Z');
    const { db, store, operatorId } = await fresh({ clock });
    const people = ['Dana', 'Sam', 'operator'];
    const topics = [
      'invoice',
      'catalogue proofs',
      'photography workshop',
      'espresso machine',
      'supplier quote',
    ];
    await store.rememberMany(
      Array.from({ length: 60 }, (_, index) => ({
        operatorId,
        kind: index % 7 === 0 ? ('fact' as const) : ('note' as const),
        ...(index % 7 === 0 ? { subject: people[index % 3]!, attribute: 'topic' } : {}),
        content: `${people[index % 3]} wrote about the ${topics[index % 5]} (${index % 4 === 0 ? 'urgent' : 'later'})`,
        provenance: { source: 'console', assertedBy: people[index % 3]! },
        occurredAt: new Date(Date.UTC(2026, 2, 1) + index * 36 * 3_600_000),
      })),
    );
    // Vector statements sent by the one-statement store: one per search, never a second one.
    let vectorStatements = 0;
    const counted = watchedPool(db, (_client, text) => {
      if (text.includes('WITH vec AS MATERIALIZED')) vectorStatements += 1;
    });
    const one = new PgvectorMemoryStore(counted, {
      embedder: store.embedder,
      clock,
      ...searchSettings,
      parallelSides: false,
    });
    const two = new PgvectorMemoryStore(db.pool, {
      embedder: store.embedder,
      clock,
      ...searchSettings,
      parallelSides: true,
    });
    const questions = [
      'what did Dana say about the invoice last week?',
      'Sam topic',
      'urgent photography workshop',
      'espresso machine in April',
      'supplier quote',
      'is it?',
    ];
    let compared = 0;
    for (const question of questions) {
      for (const options of [
        { operatorId, limit: 5 },
        { operatorId, limit: 8, kinds: ['note' as const], since: new Date('2026-04-01T00:00:00Z') },
      ]) {
        const before = vectorStatements;
        const byOne = await one.recall(question, options);
        expect(vectorStatements - before).toBe(1);
        expect(await two.recall(question, options)).toEqual(byOne);
        compared += byOne.length;
      }
    }
    expect(compared).toBeGreaterThan(30);
    // Facts come first, and the fused ranking follows (a fact the question names, by subject).
    const named = await two.recall('Sam topic', { operatorId, limit: 5 });
    expect(named[0]?.layer).toBe('fact');
    expect(named.some((pointer) => pointer.layer === 'hybrid')).toBe(true);
  });

  it('adds the episodes of the same goal or thread after the hybrid layer', async () => {
    const { db, store, operatorId } = await fresh();
    await store.remember({
      operatorId,
      kind: 'episode',
      content: 'Asked to draft the quarterly letter; drafted it',
      provenance: { source: 'system', assertedBy: 'spine' },
      threadRef: 'console:local',
    });
    const found = await store.recall('quarterly letter', {
      operatorId,
      limit: 5,
      threadRef: 'console:local',
    });
    expect(found.map((pointer) => pointer.layer)).toEqual(['episode']);
    const none = await store.recall('quarterly letter', { operatorId, limit: 5 });
    expect(none).toEqual([]);
    expect(db.kind).toBe(kind);
  });

  it('signs connector memories and flags a row altered with SQL', async () => {
    const { db, store, operatorId } = await fresh();
    const pointer = await store.remember({
      operatorId,
      kind: 'note',
      content: 'Supplier invoice INV-9 is due on 30 May',
      provenance: { source: 'connector:email', sourceRef: 'message 17', assertedBy: 'connector:email' },
    });
    expect(pointer.verified).toBe(true);
    const signature = await db.pool.query('SELECT signature FROM memories WHERE id = $1', [pointer.id]);
    expect(String(signature.rows[0]?.signature)).toMatch(/^v1:/);
    const intact = await store.recall('supplier invoice INV-9', { operatorId });
    expect(intact[0]).toMatchObject({ id: pointer.id, verified: true });
    await db.pool.query(
      `UPDATE memories SET content = 'Supplier invoice INV-9 is due on 1 May' WHERE id = $1`,
      [pointer.id],
    );
    const tampered = await store.recall('supplier invoice INV-9', { operatorId });
    expect(tampered[0]).toMatchObject({ id: pointer.id, verified: false });
    // Operator memories are not signed: nothing to verify.
    const own = await store.remember({
      operatorId,
      kind: 'note',
      content: 'my own note',
      provenance: console,
    });
    expect(own.verified).toBeNull();
  });

  it('hides expired memories at once and the sweep deletes them with the history they superseded', async () => {
    const clock = new ManualClock('2026-05-20T10:00:00Z');
    const { db, store, operatorId } = await fresh({ clock });
    await store.remember({
      operatorId,
      kind: 'fact',
      content: "The door's code is 1111",
      provenance: console,
    });
    clock.advance(1000);
    await store.remember({
      operatorId,
      kind: 'fact',
      content: "The door's code is 2222",
      provenance: console,
      expiresAt: new Date('2026-05-20T11:00:00Z'),
    });
    const kept = await store.remember({
      operatorId,
      kind: 'note',
      content: 'The door sticks in winter',
      provenance: console,
    });
    expect((await store.recall('door code', { operatorId })).map((p) => p.snippet)).toContain(
      "The door's code is 2222",
    );
    clock.set('2026-05-20T11:00:01Z');
    const after = await store.recall('door code', { operatorId });
    expect(after.map((p) => p.snippet)).toEqual(['The door sticks in winter']);
    expect(await store.lookupFact(operatorId, 'the door', 'code')).toBeNull();
    expect(await store.sweepExpired()).toBe(2);
    const left = await db.pool.query('SELECT id FROM memories ORDER BY id');
    expect(left.rows.map((row) => Number(row.id))).toEqual([kept.id]);
  });

  it('re-embeds every memory when the embedder changes, with progress', async () => {
    const { db, store, operatorId } = await fresh();
    const names = ['Avery', 'Blake', 'Casey', 'Devon', 'Emery', 'Finley', 'Harper'];
    const texts = names.map((name) => `Client ${name} ordered blue tiles`);
    for (const content of texts)
      await store.remember({ operatorId, kind: 'note', content, provenance: console });
    const next = new PgvectorMemoryStore(db.pool, { embedder: new LocalEmbedder({ dimension: 128 }) });
    expect(await next.init()).toEqual({ reembedNeeded: true, sketchesNeeded: false });
    const progress: Array<[number, number]> = [];
    for (;;) {
      const step = await next.reembedBatch(3);
      progress.push([step.total - step.remaining, step.total]);
      if (step.remaining === 0) break;
    }
    expect(progress).toEqual([
      [3, 7],
      [6, 7],
      [7, 7],
    ]);
    const embedders = await db.pool.query('SELECT id, state FROM memory_embedders ORDER BY id');
    expect(embedders.rows).toEqual([
      { id: 'local-hash-v1-128', state: 'active' },
      { id: 'local-hash-v1-256', state: 'retired' },
    ]);
    const found = await next.recall('tiles for Emery', { operatorId, limit: 1 });
    expect(found[0]?.snippet).toBe('Client Emery ordered blue tiles');
    const stale = await db.pool.query('SELECT count(*) AS n FROM memories WHERE embedding_dim <> 128');
    expect(Number(stale.rows[0]?.n)).toBe(0);
    // Each new embedding came with its own sketch, copied with it.
    const copies = await db.pool.query(
      `SELECT v.sketch = m.embedding_sketch AS same, m.embedding::text AS embedding, v.sketch::text AS sketch
       FROM memory_vectors v JOIN memories m ON m.id = v.memory_id`,
    );
    expect(copies.rows).toHaveLength(7);
    for (const row of copies.rows) {
      expect(row.same).toBe(true);
      const hex = embeddingSketch(JSON.parse(String(row.embedding)) as number[])!;
      const expected = [...hex.slice(1)]
        .map((digit) => Number.parseInt(digit, 16).toString(2).padStart(4, '0'))
        .join('');
      expect(row.sketch).toBe(expected);
    }
  });

  it('forgets what a query names, with a document taking its chunks along', async () => {
    const { db, store, operatorId } = await fresh();
    await store.remember({
      operatorId,
      kind: 'note',
      content: 'Gym membership renews in June',
      provenance: console,
    });
    await store.remember({ operatorId, kind: 'note', content: 'Buy oat milk', provenance: console });
    const preview = await store.forgetPreview(operatorId, 'gym membership');
    expect(preview.map((pointer) => pointer.snippet)).toEqual(['Gym membership renews in June']);
    expect(
      await store.forget(
        operatorId,
        preview.map((pointer) => pointer.id),
      ),
    ).toBe(1);
    const left = await db.pool.query('SELECT content FROM memories');
    expect(left.rows.map((row) => row.content)).toEqual(['Buy oat milk']);
  });
});
