/**
 * Memory at scale on a Postgres server: ingest rate, HNSW build time and size, hybrid search
 * latency with and without filters, and the vector part's recall@10 against exact search.
 *
 *   npm run bench -- memory-scale [--sizes 100000,1000000] [--database-url postgres://…]
 *     [--dimension 512] [--queries 200] [--ef-search N] [--m N] [--ef-construction N]
 *     [--index-type vector|halfvec] [--keep] [--reuse SCHEMA] [--order random|time]
 *     [--corpus words|topics] [--no-sketches] [--split-from N] [--sketch-rerank N] [--no-sketch-cut]
 *
 * `--keep` leaves the loaded schema in place (its name is printed); `--reuse SCHEMA` measures the
 * searches again on such a kept schema without loading or building anything (one size only).
 *
 * Index and search settings default to the store's settings for a Postgres server
 * (`SERVER_SEARCH_SETTINGS`). `--no-sketches` ranks filtered sets without the sketches (the 16-bit
 * copies, or the graph over 10,000 memories); `--split-from N` sets the store's `splitFrom`,
 * `--sketch-rerank N` its `sketchRerank`; `--no-sketch-cut` sorts every sketch (no estimated cut).
 *
 * Synthetic memories: Zipf-distributed words from a 30,000-word vocabulary, 8–40 words each, four
 * kinds, times spread over two years, one operator. Queries are 3–6 words taken from a random memory.
 * `--corpus words` (the default) draws every word from one Zipf distribution: memories share no
 * subject, so their embeddings have no structure — the worst case for a graph index.
 * `--corpus topics` writes as people do, about something: each memory has a topic (500 topics,
 * Zipf-popular), and two thirds of its words come from that topic's own 1,000-word Zipf list, the rest
 * from the common vocabulary.
 * `--order random` (the default) stores them in random time order — everything imported at once, the
 * worst case for a time filter; `--order time` stores them in the order they happened, as a store
 * that grows day by day does (same texts and queries, times ascending with the same jitter).
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { seededRandom } from '../core/seeded-random.ts';
import { openDatabase } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';
import { LocalEmbedder } from '../memory/local-embedder.ts';
import type { MemoryKind, NewMemory } from '../memory/memory-store.ts';
import { PgvectorMemoryStore, SERVER_SEARCH_SETTINGS } from '../memory/pgvector-memory-store.ts';
import { percentile } from './bench-kit.ts';

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/spine_test';

function parse(args: string[]) {
  const value = (name: string) => {
    const index = args.indexOf(name);
    return index >= 0 ? args[index + 1] : undefined;
  };
  return {
    sizes: (value('--sizes') ?? '100000,1000000').split(',').map(Number),
    url: value('--database-url') ?? DEFAULT_URL,
    dimension: Number(value('--dimension') ?? 512),
    queries: Number(value('--queries') ?? 200),
    efSearch: optionalNumber(value('--ef-search')),
    m: optionalNumber(value('--m')),
    efConstruction: optionalNumber(value('--ef-construction')),
    indexType: value('--index-type') as 'vector' | 'halfvec' | undefined,
    keep: args.includes('--keep'),
    reuse: value('--reuse'),
    order: (value('--order') ?? 'random') as 'random' | 'time',
    corpus: (value('--corpus') ?? 'words') as 'words' | 'topics',
    sketches: !args.includes('--no-sketches'),
    splitFrom: optionalNumber(value('--split-from')),
    sketchRerank: optionalNumber(value('--sketch-rerank')),
    sketchCut: !args.includes('--no-sketch-cut'),
  };
}

/** The store's own HNSW index, built after the bulk load; then what autovacuum would do. Seconds. */
async function buildIndex(pool: pg.Pool, store: PgvectorMemoryStore, memory: string): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query(`SET maintenance_work_mem = '${memory}'`);
    await client.query('SET max_parallel_maintenance_workers = 1');
    const began = performance.now();
    await client.query(store.indexDefinition());
    const seconds = (performance.now() - began) / 1000;
    // Statistics, and the GIN pending list merged.
    await client.query('VACUUM (ANALYZE) memories, memory_vectors, memory_sketches');
    return seconds;
  } finally {
    client.release();
  }
}

function optionalNumber(text: string | undefined): number | undefined {
  return text === undefined ? undefined : Number(text);
}

const load = () => loadavg()[0]!.toFixed(1);

const SYLLABLES = 'ka ri to me su na lo pe vi da zu ro mi te sa no ku he ba li'.split(' ');

function vocabulary(size: number, next: () => number): string[] {
  const words = new Set<string>();
  while (words.size < size) {
    const length = 2 + Math.floor(next() * 3);
    let word = '';
    for (let index = 0; index < length; index += 1) word += SYLLABLES[Math.floor(next() * SYLLABLES.length)];
    words.add(word);
  }
  return [...words];
}

/** Zipf(s≈1) sampling by inverse CDF over precomputed cumulative weights. */
function zipfSampler(size: number, next: () => number): () => number {
  const cumulative = new Float64Array(size);
  let total = 0;
  for (let rank = 0; rank < size; rank += 1) {
    total += 1 / (rank + 1) ** 1.05;
    cumulative[rank] = total;
  }
  return () => {
    const target = next() * total;
    let low = 0;
    let high = size - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (cumulative[middle]! < target) low = middle + 1;
      else high = middle;
    }
    return low;
  };
}

/**
 * `--corpus topics`: a sampler of topics; each draw returns the word sampler of one topic (its own
 * Zipf list of 1,000 words). Null for `--corpus words`.
 */
function topicCorpus(corpus: 'words' | 'topics', words: string[], next: () => number) {
  if (corpus === 'words') return null;
  const topicCount = 500;
  const perTopic = 1000;
  const topicSample = zipfSampler(topicCount, next);
  const wordSample = zipfSampler(perTopic, next);
  const topics = Array.from({ length: topicCount }, () =>
    Array.from({ length: perTopic }, () => words[Math.floor(next() * words.length)]!),
  );
  return () => {
    const topic = topics[topicSample()]!;
    return () => topic[wordSample()]!;
  };
}

const KINDS: MemoryKind[] = [
  'note',
  'note',
  'note',
  'note',
  'note',
  'note',
  'fact',
  'document',
  'document',
  'episode',
];
const TWO_YEARS = 2 * 365 * 86_400_000;

/** When memory `index` of `size` happened: random over two years, or ascending with jitter. */
function occurredAt(index: number, size: number, draw: number, order: 'random' | 'time'): Date {
  const share = order === 'time' ? (index + draw) / size : draw;
  return new Date(START + Math.floor(share * TWO_YEARS));
}
const START = Date.UTC(2024, 0, 1);

export default async function memoryScaleBench(argv: string[]): Promise<void> {
  const args = parse(argv);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(
    `memory-scale: sizes ${args.sizes.join(', ')}, dimension ${args.dimension}, corpus ${args.corpus}, memories stored in ${args.order === 'time' ? 'time' : 'random'} order, ${args.sketches ? `sketch ranking${args.splitFrom ? `, split from ${args.splitFrom}` : ''}${args.sketchRerank ? `, rerank ${args.sketchRerank}` : ''}${args.sketchCut ? '' : ', no cut'}` : 'no sketches'}, server ${args.url.replace(/\/\/[^@]*@/, '//')}`,
  );
  if (args.reuse && args.sizes.length !== 1) throw new Error('--reuse measures one size: give --sizes N');
  if (args.corpus !== 'words' && args.corpus !== 'topics')
    throw new Error(`--corpus ${args.corpus}: use words or topics`);
  for (const size of args.sizes) {
    const schema = args.reuse ?? `bench_scale_${size}_${Date.now().toString(36)}`;
    const db = await openDatabase({ url: args.url, dataDir: '', schema, maxConnections: 4 });
    const reuse = args.reuse !== undefined;
    try {
      await migrate(db.pool, db.schema);
      // Search speed at this size depends on how much of the index the server keeps in memory.
      const server = await db.pool.query(
        `SELECT current_setting('shared_buffers') AS buffers, current_setting('huge_pages') AS huge`,
      );
      out(`  server: shared_buffers ${server.rows[0]?.buffers}, huge_pages ${server.rows[0]?.huge}`);
      const operator = reuse
        ? await db.pool.query(`SELECT id FROM operators WHERE name = 'bench' ORDER BY id LIMIT 1`)
        : await db.pool.query(`INSERT INTO operators (name, timezone) VALUES ('bench', 'UTC') RETURNING id`);
      const operatorId = Number(operator.rows[0]?.id);
      if (reuse) {
        const count = await db.pool.query('SELECT count(*)::int AS n FROM memories');
        if (count.rows[0]?.n !== size)
          throw new Error(`--reuse ${schema}: it holds ${count.rows[0]?.n} memories, not ${size}`);
        out(`reusing ${schema} (${size.toLocaleString('en')} memories): nothing loaded or built`);
      } else out(`  schema ${schema}${args.keep ? ' (kept)' : ''}`);
      const embedder = new LocalEmbedder({ dimension: args.dimension });
      // What Spine uses on a Postgres server, unless a flag says otherwise.
      const store = new PgvectorMemoryStore(db.pool, {
        ...SERVER_SEARCH_SETTINGS,
        embedder,
        minSimilarity: 0,
        efSearch: args.efSearch ?? SERVER_SEARCH_SETTINGS.efSearch,
        indexType: args.indexType ?? SERVER_SEARCH_SETTINGS.indexType,
        hnswM: args.m ?? SERVER_SEARCH_SETTINGS.hnswM,
        hnswEfConstruction: args.efConstruction ?? SERVER_SEARCH_SETTINGS.hnswEfConstruction,
        sketchRanking: args.sketches,
        splitFrom: args.splitFrom,
        sketchRerank: args.sketchRerank,
        sketchCut: args.sketchCut,
      });
      const next = seededRandom(42);
      const words = vocabulary(30_000, next);
      const sample = zipfSampler(words.length, next);
      const texts: string[] = [];
      const topicWord = topicCorpus(args.corpus, words, next);
      const makeText = () => {
        const length = 8 + Math.floor(next() * 33);
        const pick = topicWord?.();
        const parts: string[] = [];
        for (let index = 0; index < length; index += 1)
          parts.push(pick && next() < 2 / 3 ? pick() : words[sample()]!);
        return parts.join(' ');
      };

      // Bulk load first (multi-row inserts through the store), then build the index: the usual way
      // to import a large memory, and it measures the two costs separately.
      const began = performance.now();
      const batchSize = 1000;
      for (let start = 0; start < size; start += batchSize) {
        const batch: NewMemory[] = [];
        for (let index = start; index < Math.min(size, start + batchSize); index += 1) {
          const content = makeText();
          if (texts.length < 5000 && next() < 0.01) texts.push(content);
          batch.push({
            operatorId,
            kind: KINDS[index % KINDS.length]!,
            content,
            occurredAt: occurredAt(index, size, next(), args.order),
            provenance: { source: 'console', assertedBy: 'operator' },
          });
        }
        // Reusing: the same seeded data is generated again (for the same queries) but not stored.
        if (!reuse) await store.rememberMany(batch);
        if (!reuse && (start / batchSize) % 100 === 99)
          out(`  loaded ${(start + batchSize).toLocaleString('en')}…`);
      }
      const ingestSeconds = (performance.now() - began) / 1000;
      if (!reuse)
        out(
          `size ${size.toLocaleString('en')}: ingest ${(size / ingestSeconds).toFixed(0)} memories/s (${ingestSeconds.toFixed(1)} s, embedding included)`,
        );

      // Memory for the graph while it is built (a 1M-memory m-32 graph needs more than 2 GB).
      const buildSeconds = reuse ? 0 : await buildIndex(db.pool, store, size > 300_000 ? '6GB' : '2GB');
      await store.init();
      // A schema kept from before the sketches (migration 021) gets them now, as the sweep would.
      const fillBegan = performance.now();
      let filled = 0;
      for (;;) {
        const { done, remaining } = await store.fillSketches(2000);
        filled += done;
        if (!remaining || done === 0) break;
        if ((filled / 2000) % 50 === 0) out(`  sketches written: ${filled.toLocaleString('en')}…`);
      }
      // What autovacuum does after that many updated rows (the index-only scans need it).
      if (filled > 0) await db.pool.query('VACUUM (ANALYZE) memory_vectors, memory_sketches');
      if (filled > 0)
        out(
          `  search sketches written for ${filled.toLocaleString('en')} memories stored before them (${((performance.now() - fillBegan) / 1000).toFixed(1)} s)`,
        );
      const index = /CREATE INDEX IF NOT EXISTS (\w+)/.exec(store.indexDefinition())?.[1];
      const sizes = await db.pool.query(
        `SELECT pg_relation_size('${index}') AS hnsw, pg_relation_size('memories_tsv_idx') AS gin,
                pg_total_relation_size('memories') AS total`,
      );
      const mb = (value: unknown) => (Number(value) / 1024 / 1024).toFixed(0);
      out(
        `  HNSW ${reuse ? '(kept)' : `build ${buildSeconds.toFixed(1)} s`} (${store
          .indexDefinition()
          .replace(/\s+/g, ' ')
          .replace(/.*USING hnsw /, '')}); ` +
          `index ${mb(sizes.rows[0]?.hnsw)} MB, full-text index ${mb(sizes.rows[0]?.gin)} MB, table+indexes ${mb(sizes.rows[0]?.total)} MB`,
      );

      const queries = Array.from({ length: args.queries }, () => {
        const source = (texts[Math.floor(next() * texts.length)] ?? makeText()).split(' ');
        const take = 3 + Math.floor(next() * 4);
        const start = Math.floor(next() * Math.max(1, source.length - take));
        return source.slice(start, start + take).join(' ');
      });
      const now = new Date(START + TWO_YEARS);
      const measure = async (label: string, options: Parameters<PgvectorMemoryStore['recall']>[1]) => {
        for (const query of queries.slice(0, 20)) await store.recall(query, options); // warm-up
        const times: number[] = [];
        for (const query of queries) {
          const start = performance.now();
          await store.recall(query, options);
          times.push(performance.now() - start);
        }
        times.sort((a, b) => a - b);
        out(
          `  hybrid search ${label}: p50 ${percentile(times, 50).toFixed(2)} ms, p95 ${percentile(times, 95).toFixed(2)} ms`,
        );
      };
      const unfiltered = {
        operatorId,
        limit: 10,
        kinds: ['fact', 'note', 'document', 'episode'] as MemoryKind[],
        now,
      };
      const filtered = {
        operatorId,
        limit: 10,
        kinds: ['note'] as MemoryKind[],
        since: new Date(now.getTime() - 90 * 86_400_000),
        now,
      };
      out(`  load average before the searches: ${load()}`);
      await measure('no filter (all kinds)', unfiltered);
      await measure('kind + time filter (notes, last 90 days)', filtered);

      // The vector layer alone, exactly as hybrid recall runs it (same filters, candidates, index
      // settings, the exact ranking of a small filtered set), against exact 32-bit cosine search.
      const sampleQueries = queries.slice(0, 100);
      const recallAt10 = async (options: typeof unfiltered) => {
        let overlap = 0;
        for (const query of sampleQueries) {
          const vector = embedder.embedSync(query);
          const found = await store.nearest(vector, options, 10);
          const truth = new Set(await store.nearest(vector, options, 10, true));
          overlap += found.filter((id) => truth.has(id)).length / Math.max(1, truth.size);
        }
        return (overlap / sampleQueries.length).toFixed(3);
      };
      out(
        `  vector recall@10 vs exact: ${await recallAt10(unfiltered)} unfiltered, ` +
          `${await recallAt10(filtered)} with the kind + time filter; load average ${load()}`,
      );
    } finally {
      // A reused schema is never dropped; a loaded one only without --keep.
      if (!args.keep && !reuse)
        await db.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
      await db.close();
    }
  }
}
