import type pg from 'pg';
import type { Clock } from '../core/clock.ts';
import { systemClock } from '../core/clock.ts';
import type { Queryable } from '../db/database.ts';
import type { Embedder } from './embedder.ts';
import { englishLexeme } from './english-lexeme.ts';
import { parseFact } from './fact-parser.ts';
import { CONTEXT_SEPARATOR } from './local-embedder.ts';
import type {
  MemoryKind,
  MemoryPointer,
  MemoryStore,
  NewMemory,
  RecallOptions,
  Sensitivity,
} from './memory-store.ts';
import { needsSignature, type ProvenanceSigner, type SignedFields } from './provenance-signer.ts';
import { isStopWord, stem, words } from './text-normaliser.ts';
import { parseTimeWindow } from './time-window.ts';
import {
  embeddingSketch,
  hammingCut,
  hammingDistance,
  SKETCH_BITS,
  sketchable,
  sketchWords,
} from './vector-sketch.ts';

const SNIPPET_LENGTH = 280;
/**
 * The columns a pointer is made of (with what its signature covers): reads never fetch the
 * embedding or the full-text vector, which Postgres would turn into kilobytes of text per row.
 */
const POINTER_COLUMNS = [
  'id',
  'operator_id',
  'kind',
  'subject',
  'attribute',
  'content',
  'metadata',
  'source',
  'source_ref',
  'asserted_by',
  'signature',
  'sensitivity',
  'occurred_at',
  'document_id',
  'chunk_index',
  'dedupe_key',
];
const POINTER = POINTER_COLUMNS.join(', ');
/**
 * What a ranking returns of each candidate: its id; for the fusion, what the time and speaker
 * bonuses read; or the whole pointer.
 */
const COLUMN_SETS = {
  id: ['id'],
  fusion: ['id', 'occurred_at', 'asserted_by'],
  pointer: POINTER_COLUMNS,
} as const;
type ColumnSet = keyof typeof COLUMN_SETS;
/** A column set as a select list, its columns qualified by `alias` when one is given. */
function columnList(set: ColumnSet, alias?: string): string {
  return COLUMN_SETS[set].map((column) => (alias ? `${alias}.${column}` : column)).join(', ');
}
/** Vector candidates from one or more statements, nearest first (ties by id, as in SQL). */
function nearestFirst(rows: Row[]): Row[] {
  return [...rows].sort((a, b) => Number(a.distance) - Number(b.distance) || Number(a.id) - Number(b.id));
}
const DEFAULT_KINDS: MemoryKind[] = ['fact', 'note', 'document'];
const SENSITIVITY_RANK: Record<Sensitivity, number> = { normal: 0, private: 1, secret: 2 };

export interface PgvectorMemoryStoreOptions {
  embedder: Embedder;
  /** Signs memories from connectors at write and verifies them on read. */
  signer?: ProvenanceSigner | undefined;
  clock?: Clock | undefined;
  /** Candidates each side (vector, full text) contributes to the fusion; at least 3× the limit. */
  candidates?: number | undefined;
  /** Reciprocal rank fusion constant: score = Σ 1 / (k + rank). */
  rrfK?: number | undefined;
  /** A vector-only candidate needs at least this cosine similarity (unrelated queries find nothing). */
  minSimilarity?: number | undefined;
  /** Weight of the full-text list relative to the vector list in the fusion. */
  textWeight?: number | undefined;
  /** Fusion bonus for memories inside a time window the query names ("last week", "in May"). */
  timeBoost?: number | undefined;
  /**
   * Fusion bonus (in units of 1/k) for memories asserted by someone the query names: "what did
   * Dana say about the quote" prefers Dana's own messages.
   */
  speakerBoost?: number | undefined;
  /** HNSW candidate list size at search (pgvector's ef_search); at least the candidate count. */
  efSearch?: number | undefined;
  /** Full-text weight of a memory's context (neighbouring turns, title) relative to its own text. */
  contextTextWeight?: number | undefined;
  /**
   * Element type of vector search: `halfvec` (16-bit floats: half the HNSW index size, and the exact
   * ranking of a narrow filter reads the 16-bit copies in memory_vectors) or `vector` (32-bit, both
   * through the memories table). Stored embeddings stay 32-bit either way.
   */
  indexType?: 'vector' | 'halfvec' | undefined;
  /** HNSW graph degree (pgvector's m) and build-time candidate list, used when the index is created. */
  hnswM?: number | undefined;
  hnswEfConstruction?: number | undefined;
  /** A filtered vector search over fewer memories than this ranks them all exactly (no HNSW). */
  exactUnder?: number | undefined;
  /** Stores with more memories than this take word frequencies from Postgres's statistics. */
  statisticsFrom?: number | undefined;
  /**
   * Run the vector side and the full-text side of a search as two statements at once, on two
   * pooled connections (a Postgres server, whose cores share them); otherwise as one statement
   * (embedded PGlite has one connection: two statements would only run one after the other).
   */
  parallelSides?: boolean | undefined;
  /**
   * Rank a filtered set of up to `sketchUnder` memories by the Hamming distance of their sketches
   * (memory/vector-sketch.ts, migration 021), then the best few hundred by exact distance, instead
   * of reading every 16-bit embedding or walking the graph. Needs the 16-bit copies (halfvec).
   */
  sketchRanking?: boolean | undefined;
  /** With sketchRanking: a vector search over fewer memories than this ranks sketches (no HNSW). */
  sketchUnder?: number | undefined;
  /** With sketchRanking: how many of the nearest by sketch get their exact distance (at least the candidates). */
  sketchRerank?: number | undefined;
  /**
   * With sketchRanking and parallelSides: a sketch ranking of at least this many memories is split
   * in two at the median time of those memories, and the halves run at once on two connections.
   */
  splitFrom?: number | undefined;
  /**
   * With sketchRanking (default on): a large ranking sorts only the memories within an estimated
   * Hamming distance of the query, and ranks them all when too few were (same results, less work).
   * A number sets how many times `sketchRerank` memories the cut aims to keep (default 3).
   */
  sketchCut?: boolean | number | undefined;
}

/**
 * HNSW settings for a Postgres server with many memories: a halfvec index (half the size) with a
 * denser graph and a wider search — vector recall@10 0.97 at 100k synthetic memories instead of 0.82
 * with pgvector's defaults (BENCHMARKS.md, Scale). Not the default: on embedded PGlite (WebAssembly,
 * no SIMD) halfvec and the denser graph make every insert 5–14× slower, and its stores are small.
 */
export const SERVER_SEARCH_SETTINGS = {
  indexType: 'halfvec',
  hnswM: 32,
  hnswEfConstruction: 128,
  efSearch: 400,
  parallelSides: true,
  sketchRanking: true,
} as const satisfies Partial<PgvectorMemoryStoreOptions>;

/** What `forget` would remove, shown before the operator confirms. */
export interface ForgetPreview {
  pointers: MemoryPointer[];
}

type Row = Record<string, unknown>;

/** The filters every retrieval layer applies: SQL over alias `m` and its parameters. */
interface Filters {
  where: string;
  params: unknown[];
  /**
   * `where` in two parts: what the scope indexes answer (operator, kinds, current, time), and the
   * rest (expiry, sensitivity, sources) with the columns it reads — a ranking by sketch applies the
   * rest only to the few memories within its cut.
   */
  indexed: string;
  rest: { sql: string; columns: string[] };
  /**
   * The part of the filters the scope index (operator, kind, time) answers alone, as a statement of
   * its own (parameters from $1) with a key for the count of memories that pass it; null when
   * nothing narrows the search beyond the operator.
   */
  scope: { sql: string; params: unknown[]; key: string } | null;
}

function snippet(content: string): string {
  const single = content.replace(/\s+/g, ' ').trim();
  return single.length <= SNIPPET_LENGTH ? single : `${single.slice(0, SNIPPET_LENGTH - 1)}…`;
}

function iso(value: unknown): string {
  return (value instanceof Date ? value : new Date(String(value))).toISOString();
}

function vectorLiteral(vector: number[]): string {
  return `[${vector.map((value) => (Number.isFinite(value) ? Number(value.toFixed(6)) : 0)).join(',')}]`;
}

function signedFields(row: Row): SignedFields {
  return {
    operatorId: Number(row.operator_id),
    kind: String(row.kind),
    subject: (row.subject as string | null) ?? null,
    attribute: (row.attribute as string | null) ?? null,
    content: String(row.content),
    source: String(row.source),
    sourceRef: (row.source_ref as string | null) ?? null,
    assertedBy: String(row.asserted_by),
    occurredAt: iso(row.occurred_at),
    sensitivity: String(row.sensitivity ?? 'normal'),
  };
}

/** Search words of a query: content words, once each. */
function queryWords(query: string): string[] {
  return [...new Set(words(query).filter((word) => word.length > 1 && !isStopWord(word)))];
}

/** One word as a tsquery operand, quoted so punctuation cannot inject tsquery syntax. */
function quoteTerm(term: string): string {
  return `'${term.replaceAll("'", "''")}'`;
}

/** An embedder that can weight query terms (the local one): the store passes IDF weights. */
interface WeightedQueryEmbedder {
  embedQueryWeighted(text: string, termWeights: ReadonlyMap<string, number>): number[];
}

function canWeight(embedder: Embedder): embedder is Embedder & WeightedQueryEmbedder {
  return typeof (embedder as Partial<WeightedQueryEmbedder>).embedQueryWeighted === 'function';
}

/**
 * Document frequencies are counted up to this many rows: enough to tell rare from common, and to
 * know when one word alone is over the full-text budget.
 */
const DF_CAP = 1501;
/**
 * A filtered vector search over fewer memories than this ranks them all exactly instead of scanning
 * the HNSW graph (at 100k memories a kind + 90-day filter leaves ~7,000: the exact ranking reads
 * about as many buffers as the filtered graph scan, and its recall is 1).
 */
const EXACT_UNDER = 10_000;
/**
 * Embeddings of up to this many dimensions, from an embedder whose id fits in 255 bytes, have a
 * 16-bit copy in memory_vectors (migration 019), whose index an exact ranking reads: a B-tree entry
 * must fit in 2,704 bytes.
 */
const HALF_MAX_DIMENSION = 1024;
const HALF_MAX_EMBEDDER_ID = 255;
/**
 * How the vector side searches: the HNSW graph, every memory that passes the filters ranked exactly
 * (picked by 16-bit distance where a copy exists), or the 32-bit ground truth through the table.
 */
type VectorPlan = 'index' | 'exact' | 'sketch' | 'truth';
/** How long a filter's count (which picks the plan) is kept. */
const PLAN_TTL_MS = 10 * 60_000;
/**
 * With sketches, a vector search over fewer memories than this ranks them all by sketch: at 100k
 * memories about as fast as the graph walk, with recall@10 0.995 instead of 0.97 (BENCHMARKS.md).
 */
const SKETCH_UNDER = 100_000;
/**
 * How many of the nearest by sketch get their exact distance computed (each costs a row of
 * memories, ~4 µs). Their top 10 held 0.986 of the exact top 10 for the ~7,400 memories of a kind +
 * 90-day filter at 100k memories (0.994 with 400), and 0.995 for the ~74,000 at 1M (two halves of 200;
 * 0.997 with 400), at 0.8–1.5 ms less (BENCHMARKS.md, Scale).
 */
const SKETCH_RERANK = 200;
/**
 * A sketch ranking of at least this many memories runs as two halves at once (a server's two cores):
 * at 1M memories a kind + 90-day filter leaves ~74,000.
 */
const SPLIT_FROM = 30_000;
/**
 * A sketch ranking sorts only the memories within a cut that about this many times `sketchRerank` of
 * them are estimated to be within, when at least SKETCH_CUT_FROM times `sketchRerank` pass the filters
 * (under that, the sort is cheap and the cut would often keep too few).
 */
const SKETCH_CUT_SHARE = 3;
const SKETCH_CUT_FROM = 8;
/** How many of an operator's sketches the cut is estimated from, and how few make no estimate. */
const SKETCH_SAMPLE = 512;
const SKETCH_SAMPLE_MIN = 64;
/** How long "every copy has its sketch" is trusted before it is checked again. */
const SKETCH_STATE_TTL_MS = 60_000;
const ALL_KINDS = 4;
/** Stores with more memories than this take word frequencies from Postgres's statistics. */
const LARGE_FROM = 50_000;
/** How long estimated word frequencies are cached. */
const STATS_TTL_MS = 10 * 60_000;
/** A word in more than this share of memories says little; the full-text side leaves it out. */
const COMMON_SHARE = 0.2;
/** Stores smaller than this keep every query word on the full-text side. */
const PRUNE_FROM = 5000;
/**
 * On large stores the full-text side ranks at most about this many matching rows: the most common
 * query words are dropped until the rest match fewer. The rarest word stays unless it alone matches
 * more than twice as many: then every word is common, the full-text side is left out, and the
 * vector side (which weights words by rarity too) ranks alone. Ranking the 70,000 memories of one
 * such word took 360 ms at 1M memories.
 */
const TEXT_BUDGET = 1500;
/**
 * A filtered full-text side whose words match at most about this many memories reads those and
 * filters them, instead of intersecting the word index with the filter's index.
 */
const WORDS_FIRST_UNDER = 5000;

/** Word n-grams (1–3) of a query: the candidates for an exact fact subject. */
function subjectCandidates(query: string): string[] {
  const tokens = query
    .toLowerCase()
    .replace(/['’]s\b/g, '')
    .match(/[\p{L}\p{N}&.@-]+/gu);
  if (!tokens) return [];
  const grams = new Set<string>();
  for (let size = 1; size <= 3; size += 1) {
    for (let start = 0; start + size <= tokens.length; start += 1) {
      const gram = tokens.slice(start, start + size).join(' ');
      if (size > 1 || !isStopWord(gram)) grams.add(gram.replace(/[.?!]+$/, ''));
    }
  }
  return [...grams];
}

/**
 * The memory store on Postgres + pgvector, the same on PGlite and a server. Retrieval is layered:
 * exact facts (subject/attribute) first, then hybrid recall — HNSW cosine search and full-text
 * search fused by reciprocal rank fusion, with filters applied inside the index scan — then the
 * episodes of the same goal or thread. Expired, superseded and too-sensitive rows never match.
 */
export class PgvectorMemoryStore implements MemoryStore {
  readonly #db: Queryable;
  readonly #embedder: Embedder;
  readonly #signer: ProvenanceSigner | undefined;
  readonly #clock: Clock;
  readonly #candidates: number;
  readonly #rrfK: number;
  readonly #minSimilarity: number;
  readonly #textWeight: number;
  readonly #timeBoost: number;
  readonly #rankWeights: string;
  readonly #speakerBoost: number;
  readonly #efSearch: number;
  readonly #indexType: 'vector' | 'halfvec';
  readonly #hnswM: number;
  readonly #hnswEfConstruction: number;
  readonly #exactUnder: number;
  /**
   * Whether the exact ranking reads the 16-bit copies in memory_vectors: with halfvec search, for an
   * embedder whose memories have them (see HALF_MAX_DIMENSION). Not on embedded PGlite, whose
   * WebAssembly build computes 16-bit distances without SIMD: LoCoMo queries took 4 ms longer there.
   */
  readonly #halfCopies: boolean;
  readonly #statisticsFrom: number;
  readonly #parallelSides: boolean;
  readonly #configured = new WeakMap<object, number>();
  readonly #sizes = new Map<number, { count: number; large: boolean; at: number }>();
  /** Word statistics of a large store (from `pg_stats`). */
  #statistics: { shares: Map<string, number>; rarest: number; at: number } | undefined;
  readonly #plans = new Map<string, { count: number; limit: number; at: number; split?: Date | undefined }>();
  readonly #sketchRanking: boolean;
  readonly #sketchUnder: number;
  readonly #sketchRerank: number;
  readonly #splitFrom: number;
  /** How many times the re-ranked count the sketch cut aims to keep; 0 for no cut. */
  readonly #sketchCutShare: number;
  #sketchState: { ready: boolean; at: number } | undefined;
  readonly #sketchSamples = new Map<number, { words: Uint32Array[]; at: number }>();
  /** The sketches of the query embeddings being searched (each is needed two or three times). */
  readonly #querySketches = new WeakMap<number[], string | null>();

  constructor(db: Queryable, options: PgvectorMemoryStoreOptions) {
    this.#db = db;
    this.#embedder = options.embedder;
    this.#signer = options.signer;
    this.#clock = options.clock ?? systemClock;
    this.#candidates = options.candidates ?? 60;
    this.#rrfK = options.rrfK ?? 20;
    this.#minSimilarity = options.minSimilarity ?? 0.12;
    this.#textWeight = options.textWeight ?? 1.5;
    this.#timeBoost = options.timeBoost ?? 0.5;
    this.#speakerBoost = options.speakerBoost ?? 0.6;
    this.#efSearch = options.efSearch ?? 200;
    this.#indexType = options.indexType ?? 'vector';
    this.#hnswM = options.hnswM ?? 16;
    this.#hnswEfConstruction = options.hnswEfConstruction ?? 64;
    this.#exactUnder = Math.trunc(options.exactUnder ?? EXACT_UNDER);
    this.#halfCopies =
      this.#indexType === 'halfvec' &&
      Math.trunc(options.embedder.dimension) <= HALF_MAX_DIMENSION &&
      Buffer.byteLength(options.embedder.id) <= HALF_MAX_EMBEDDER_ID;
    this.#statisticsFrom = options.statisticsFrom ?? LARGE_FROM;
    this.#parallelSides = options.parallelSides ?? false;
    this.#sketchRanking =
      (options.sketchRanking ?? false) &&
      this.#halfCopies &&
      sketchable(Math.trunc(options.embedder.dimension));
    this.#sketchUnder = Math.trunc(options.sketchUnder ?? SKETCH_UNDER);
    this.#sketchRerank = Math.trunc(options.sketchRerank ?? SKETCH_RERANK);
    this.#splitFrom = Math.trunc(options.splitFrom ?? SPLIT_FROM);
    const cut = options.sketchCut ?? true;
    this.#sketchCutShare = cut === true ? SKETCH_CUT_SHARE : cut === false ? 0 : Math.max(0, cut);
    // ts_rank weights are {D, C, B, A}: context is stored as C, the memory's own text as A.
    this.#rankWeights = `{0.1, ${options.contextTextWeight ?? 0.2}, 0.4, 1.0}`;
  }

  get embedder(): Embedder {
    return this.#embedder;
  }

  /**
   * The HNSW index this store searches: one per dimension and element type, on an expression cast
   * and partial on the dimension. The scale benchmark builds it itself (after a bulk load).
   */
  indexDefinition(): string {
    const dim = Math.trunc(this.#embedder.dimension);
    const type = this.#indexType;
    const name = `memories_embedding_hnsw_${type === 'halfvec' ? 'half_' : ''}${dim}`;
    const m = Math.trunc(this.#hnswM);
    const efConstruction = Math.trunc(this.#hnswEfConstruction);
    return `CREATE INDEX IF NOT EXISTS ${name} ON memories
       USING hnsw ((embedding::${type}(${dim})) ${type}_cosine_ops) WITH (m = ${m}, ef_construction = ${efConstruction})
       WHERE embedding_dim = ${dim}`;
  }

  /**
   * Record the embedder and make sure its HNSW index exists. Returns whether memories embedded with
   * another embedder exist (then a re-embed job should run), and whether copies without a sketch
   * exist (then the sweep should fill them: `fillSketches`).
   */
  async init(): Promise<{ reembedNeeded: boolean; sketchesNeeded: boolean }> {
    const { id, dimension } = this.#embedder;
    const dim = Math.trunc(dimension);
    await this.#db.query(this.indexDefinition());
    const active = await this.#db.query(`SELECT id FROM memory_embedders WHERE state = 'active'`);
    if (active.rows.length === 0) {
      await this.#db.query(
        `INSERT INTO memory_embedders (id, dimension, state) VALUES ($1, $2, 'active')
         ON CONFLICT (id) DO UPDATE SET state = 'active', dimension = $2, updated_at = now()`,
        [id, dim],
      );
    } else if (active.rows[0]?.id !== id) {
      await this.#db.query(
        `INSERT INTO memory_embedders (id, dimension, state) VALUES ($1, $2, 'pending')
         ON CONFLICT (id) DO UPDATE SET state = 'pending', dimension = $2, updated_at = now()`,
        [id, dim],
      );
    }
    const stale = await this.#db.query(
      'SELECT 1 FROM memories WHERE embedder IS DISTINCT FROM $1 AND embedding IS NOT NULL LIMIT 1',
      [id],
    );
    return {
      reembedNeeded: stale.rows.length > 0 || (active.rows.length > 0 && active.rows[0]?.id !== id),
      sketchesNeeded: await this.#anyUnsketched(),
    };
  }

  async remember(memory: NewMemory): Promise<MemoryPointer> {
    const [pointer] = await this.rememberMany([memory]);
    return pointer!;
  }

  /**
   * Store memories in one multi-row insert with their embeddings. A fact with a subject and
   * attribute supersedes the current value (history is kept: the old row points to the new one).
   */
  async rememberMany(memories: NewMemory[]): Promise<MemoryPointer[]> {
    if (memories.length === 0) return [];
    const prepared = memories.map((memory) => this.#prepare(memory));
    const embeddings = await this.#embedder.embedDocuments(
      prepared.map((row) => (row.context ? `${row.content}${CONTEXT_SEPARATOR}${row.context}` : row.content)),
    );
    const columns = {
      operator: [] as number[],
      kind: [] as string[],
      subject: [] as (string | null)[],
      attribute: [] as (string | null)[],
      content: [] as string[],
      context: [] as (string | null)[],
      metadata: [] as string[],
      embedding: [] as string[],
      source: [] as string[],
      sourceRef: [] as (string | null)[],
      assertedBy: [] as string[],
      signature: [] as (string | null)[],
      sensitivity: [] as string[],
      goal: [] as (number | null)[],
      occurred: [] as string[],
      expires: [] as (string | null)[],
      dedupe: [] as (string | null)[],
      document: [] as (number | null)[],
      chunk: [] as (number | null)[],
      thread: [] as (string | null)[],
      sketch: [] as (string | null)[],
    };
    prepared.forEach((row, index) => {
      columns.operator.push(row.operatorId);
      columns.kind.push(row.kind);
      columns.subject.push(row.subject);
      columns.attribute.push(row.attribute);
      columns.content.push(row.content);
      columns.context.push(row.context);
      columns.metadata.push(JSON.stringify(row.metadata));
      columns.embedding.push(vectorLiteral(embeddings[index]!));
      columns.source.push(row.source);
      columns.sourceRef.push(row.sourceRef);
      columns.assertedBy.push(row.assertedBy);
      columns.signature.push(row.signature);
      columns.sensitivity.push(row.sensitivity);
      columns.goal.push(row.goalId);
      columns.occurred.push(row.occurredAt);
      columns.expires.push(row.expiresAt);
      columns.dedupe.push(row.dedupeKey);
      columns.document.push(row.documentId);
      columns.chunk.push(row.chunkIndex);
      columns.thread.push(row.threadRef);
      columns.sketch.push(embeddingSketch(embeddings[index]!));
    });
    const dim = Math.trunc(this.#embedder.dimension);
    const result = await this.#db.query(
      `WITH input AS (
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
           $7::jsonb[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
           $14::bigint[], $15::timestamptz[], $16::timestamptz[], $17::text[], $18::bigint[], $19::int[],
           $20::text[], $22::text[])
           WITH ORDINALITY AS t(operator_id, kind, subject, attribute, content, context, metadata, embedding,
             source, source_ref, asserted_by, signature, sensitivity, goal_id, occurred_at, expires_at,
             dedupe_key, document_id, chunk_index, thread_ref, sketch, ord)
       ), inserted AS (
         INSERT INTO memories (operator_id, kind, subject, attribute, content, context, metadata, embedding,
           embedder, embedding_dim, source, source_ref, asserted_by, signature, sensitivity, goal_id,
           occurred_at, expires_at, dedupe_key, document_id, chunk_index, thread_ref, embedding_sketch)
         SELECT operator_id, kind, subject, attribute, content, context, metadata, embedding::vector,
           $21, ${dim}, source, source_ref, asserted_by, signature, sensitivity, goal_id, occurred_at,
           expires_at, dedupe_key, document_id, chunk_index, thread_ref, sketch::bit(${SKETCH_BITS})
         FROM input ORDER BY ord
         ON CONFLICT (dedupe_key) DO NOTHING
         RETURNING ${POINTER}
       ), superseded AS (
         UPDATE memories old SET superseded_by = i.id
         FROM inserted i
         WHERE i.kind = 'fact' AND i.subject IS NOT NULL AND i.attribute IS NOT NULL
           AND old.kind = 'fact' AND old.operator_id = i.operator_id AND old.superseded_by IS NULL
           AND lower(old.subject) = lower(i.subject) AND lower(old.attribute) = lower(i.attribute)
           AND old.id <> i.id
         RETURNING old.id
       )
       SELECT *, 1 AS score FROM inserted ORDER BY id`,
      [
        columns.operator,
        columns.kind,
        columns.subject,
        columns.attribute,
        columns.content,
        columns.context,
        columns.metadata,
        columns.embedding,
        columns.source,
        columns.sourceRef,
        columns.assertedBy,
        columns.signature,
        columns.sensitivity,
        columns.goal,
        columns.occurred,
        columns.expires,
        columns.dedupe,
        columns.document,
        columns.chunk,
        columns.thread,
        this.#embedder.id,
        columns.sketch,
      ],
    );
    const inserted = result.rows;
    // Rows skipped by an existing dedupe key: return the memory written the first time.
    const byDedupe = new Map(inserted.map((row) => [row.dedupe_key as string | null, row]));
    const pointers: MemoryPointer[] = [];
    let next = 0;
    for (const row of prepared) {
      const found = row.dedupeKey ? byDedupe.get(row.dedupeKey) : inserted[next];
      if (!row.dedupeKey) next += 1;
      if (found) {
        if (row.dedupeKey) next += 1;
        pointers.push(this.#toPointer(found, 'hybrid'));
        continue;
      }
      const existing = await this.#db.query(
        `SELECT ${POINTER}, 1 AS score FROM memories WHERE dedupe_key = $1`,
        [row.dedupeKey],
      );
      pointers.push(this.#toPointer(existing.rows[0]!, 'hybrid'));
    }
    return pointers;
  }

  #prepare(memory: NewMemory) {
    let subject = memory.subject ?? null;
    let attribute = memory.attribute ?? null;
    if (memory.kind === 'fact' && !subject) {
      const parsed = parseFact(memory.content);
      if (parsed) {
        subject = parsed.subject;
        attribute = parsed.attribute;
      }
    }
    const occurredAt = (memory.occurredAt ?? this.#clock.now()).toISOString();
    const sensitivity = memory.sensitivity ?? 'normal';
    const row = {
      operatorId: memory.operatorId,
      kind: memory.kind,
      subject,
      attribute,
      content: memory.content,
      context: memory.context ?? null,
      metadata: {
        ...(memory.metadata ?? {}),
      } as Record<string, unknown>,
      source: memory.provenance.source as string,
      sourceRef: memory.provenance.sourceRef ?? null,
      assertedBy: memory.provenance.assertedBy,
      signature: null as string | null,
      sensitivity,
      goalId: memory.goalId ?? null,
      occurredAt,
      expiresAt: memory.expiresAt ? memory.expiresAt.toISOString() : null,
      dedupeKey: memory.dedupeKey ?? null,
      documentId: typeof memory.metadata?.documentId === 'number' ? memory.metadata.documentId : null,
      chunkIndex: typeof memory.metadata?.chunkIndex === 'number' ? memory.metadata.chunkIndex : null,
      threadRef: memory.threadRef ?? null,
    };
    if (needsSignature(row.source)) {
      if (!this.#signer)
        throw new Error(`memories from ${row.source} must be signed, but no signing key is configured`);
      row.signature = this.#signer.sign({
        operatorId: row.operatorId,
        kind: row.kind,
        subject,
        attribute,
        content: row.content,
        source: row.source,
        sourceRef: row.sourceRef,
        assertedBy: row.assertedBy,
        occurredAt,
        sensitivity,
      });
    }
    return row;
  }

  #toPointer(row: Row, layer: MemoryPointer['layer']): MemoryPointer {
    const source = String(row.source);
    let verified: boolean | null = null;
    if (needsSignature(source)) {
      verified = this.#signer
        ? this.#signer.verify(signedFields(row), row.signature as string | null)
        : false;
    }
    return {
      id: Number(row.id),
      kind: row.kind as MemoryKind,
      snippet: snippet(String(row.content)),
      source,
      sourceRef: (row.source_ref as string | null) ?? null,
      assertedBy: String(row.asserted_by),
      occurredAt: iso(row.occurred_at),
      score: Number(row.score ?? 0),
      layer,
      documentId: row.document_id == null ? null : Number(row.document_id),
      chunkIndex: row.chunk_index == null ? null : Number(row.chunk_index),
      verified,
      metadata: (row.metadata as Record<string, unknown> | undefined) ?? {},
    };
  }

  /** The current value of a fact, by exact subject (and attribute), or null. */
  async lookupFact(operatorId: number, subject: string, attribute?: string): Promise<MemoryPointer | null> {
    const now = this.#clock.now();
    const result = await this.#db.query(
      `SELECT ${POINTER}, 1 AS score FROM memories
       WHERE operator_id = $1 AND kind = 'fact' AND superseded_by IS NULL AND lower(subject) = lower($2)
         AND ($3::text IS NULL OR lower(attribute) = lower($3)) AND (expires_at IS NULL OR expires_at > $4)
       ORDER BY occurred_at DESC, id DESC LIMIT 1`,
      [operatorId, subject, attribute ?? null, now],
    );
    return result.rows[0] ? this.#toPointer(result.rows[0], 'fact') : null;
  }

  /** Every value a fact has had, newest first (superseded ones included). */
  async factHistory(operatorId: number, subject: string, attribute: string): Promise<MemoryPointer[]> {
    const result = await this.#db.query(
      `SELECT ${POINTER}, 1 AS score FROM memories
       WHERE operator_id = $1 AND kind = 'fact' AND lower(subject) = lower($2) AND lower(attribute) = lower($3)
       ORDER BY occurred_at DESC, id DESC`,
      [operatorId, subject, attribute],
    );
    return result.rows.map((row) => this.#toPointer(row, 'fact'));
  }

  /**
   * Layered recall: exact facts, then hybrid (vector + full text, RRF), then same-thread episodes.
   * The facts and the hybrid layer come from one statement.
   */
  async recall(query: string, options: RecallOptions): Promise<MemoryPointer[]> {
    const limit = options.limit ?? 5;
    const now = options.now ?? this.#clock.now();
    const kinds = options.kinds ?? DEFAULT_KINDS;
    const results: MemoryPointer[] = [];
    const seen = new Set<number>();
    const push = (pointer: MemoryPointer, extra = false) => {
      if (seen.has(pointer.id) || (!extra && results.length >= limit)) return;
      seen.add(pointer.id);
      results.push(pointer);
    };

    const filters = this.#filters(options, now, kinds);
    if (query.trim().length > 0) {
      for (const pointer of await this.#search(query, filters, options.operatorId, now, limit, kinds))
        push(pointer);
    }
    if (options.goalId !== undefined || options.threadRef !== undefined) {
      const episodes = await this.#db.query(
        `SELECT ${POINTER}, 0 AS score FROM memories
         WHERE operator_id = $1 AND kind = 'episode' AND (expires_at IS NULL OR expires_at > $2)
           AND (goal_id = $3 OR thread_ref = $4)
         ORDER BY occurred_at DESC, id DESC LIMIT 3`,
        [options.operatorId, now, options.goalId ?? null, options.threadRef ?? null],
      );
      // Up to three episodes of the same goal or thread follow the `limit` results of the other layers.
      for (const row of episodes.rows) push(this.#toPointer(row, 'episode'), true);
    }
    return results;
  }

  /**
   * The vector layer alone, as hybrid recall runs it (same filters, candidate count, index
   * settings): the ids nearest to `embedding`, nearest first. `exact` ranks every memory that
   * passes the filters by its 32-bit distance, with no index — the ground truth the scale benchmark
   * compares against.
   */
  async nearest(embedding: number[], options: RecallOptions, k: number, exact = false): Promise<number[]> {
    const now = options.now ?? this.#clock.now();
    const filters = this.#filters(options, now, options.kinds ?? DEFAULT_KINDS);
    const candidates = Math.max(this.#candidates, k * 3);
    const { plan, split, count } = exact
      ? { plan: 'truth' as const, split: undefined, count: 0 }
      : await this.#vectorPlan(filters, options.operatorId);
    const cut = await this.#sketchCut(plan, options.operatorId, embedding, count, split, candidates);
    const results = await Promise.all(
      (split ? this.#halves(filters, split) : [filters]).map((part) => {
        const values = [...part.params];
        const vec = this.#vectorCandidates(part, values, embedding, candidates, plan, 'id', cut);
        values.push(k);
        return this.#withSearchSettings(candidates, (db) =>
          db.query(
            `WITH vec AS MATERIALIZED (${vec}) SELECT id, distance FROM vec ORDER BY distance, id LIMIT $${values.length}`,
            values,
          ),
        );
      }),
    );
    return nearestFirst(results.flatMap((result) => result.rows))
      .slice(0, k)
      .map((row) => Number(row.id));
  }

  /** SQL for the filters every layer applies, with its parameters (numbered from 1). */
  #filters(options: RecallOptions, now: Date, kinds: MemoryKind[]): Filters {
    const params: unknown[] = [];
    const add = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    // The scope (what the scope index answers) comes first, so its parameters are the first ones
    // and the same SQL counts the memories that pass it on its own.
    const scope = [
      `m.operator_id = ${add(options.operatorId)}`,
      `m.kind = ANY(${add(kinds)}::text[])`,
      'm.superseded_by IS NULL',
    ];
    if (options.since) scope.push(`m.occurred_at >= ${add(options.since)}`);
    if (options.until) scope.push(`m.occurred_at < ${add(options.until)}`);
    const scopeParams = [...params];
    const rest = [
      `(m.expires_at IS NULL OR m.expires_at > ${add(now)})`,
      `(CASE m.sensitivity WHEN 'normal' THEN 0 WHEN 'private' THEN 1 ELSE 2 END) <= ${add(
        SENSITIVITY_RANK[options.maxSensitivity ?? 'private'],
      )}`,
    ];
    const restColumns = ['expires_at', 'sensitivity'];
    const sources = options.sources ?? [];
    if (sources.length > 0) {
      const exact = sources.filter((source) => !source.endsWith('*'));
      const prefixes = sources
        .filter((source) => source.endsWith('*'))
        .map((source) => `${source.slice(0, -1).replace(/[\\%_]/g, '\\$&')}%`);
      rest.push(`(m.source = ANY(${add(exact)}::text[]) OR m.source LIKE ANY(${add(prefixes)}::text[]))`);
      restColumns.push('source');
    }
    const parts = { indexed: scope.join(' AND '), rest: { sql: rest.join(' AND '), columns: restColumns } };
    const where = `${parts.indexed} AND ${parts.rest.sql}`;
    if (scope.length === 3 && kinds.length >= ALL_KINDS && sources.length === 0)
      return { where, params, ...parts, scope: null };
    // A window moved by less than an hour passes about as many memories: one count serves it.
    const hour = (bound: Date | undefined) => (bound ? Math.floor(bound.getTime() / 3_600_000) : null);
    const key = JSON.stringify([
      options.operatorId,
      [...kinds].sort(),
      hour(options.since),
      hour(options.until),
    ]);
    return { where, params, ...parts, scope: { sql: parts.indexed, params: scopeParams, key } };
  }

  /**
   * How the vector side searches, and whether the filter is wide (the full-text side then reads a
   * rare word's memories first). With sketches (a server), up to `sketchUnder` memories that pass
   * the filters are ranked by their sketches, the best 200 exactly; without, a narrow filter (a
   * kind, a time window) that few memories pass ranks them all exactly — as cheap as an HNSW scan
   * that skips the others, and exact. Anything wider walks the index. The count stops at the
   * threshold, reads only the scope index, and is cached for ten minutes per filter: it only picks
   * the plan, and every plan gives right results (a stale choice is at worst slower).
   */
  async #vectorPlan(
    filters: Filters,
    operatorId: number,
  ): Promise<{ plan: VectorPlan; wide: boolean; count: number; split?: Date | undefined }> {
    const sketches = await this.#sketchesReady();
    const scope = filters.scope;
    if (!scope) {
      const { count } = await this.#operatorSize(operatorId);
      return { plan: sketches && count < this.#sketchUnder ? 'sketch' : 'index', wide: true, count };
    }
    const cached = this.#plans.get(scope.key);
    const fresh = cached && Date.now() - cached.at < PLAN_TTL_MS ? cached : null;
    const limit = sketches ? Math.max(this.#sketchUnder, this.#exactUnder) : this.#exactUnder;
    // A count that stopped at a lower limit says nothing above it.
    let known = fresh && (fresh.count < fresh.limit || fresh.limit >= limit) ? fresh : null;
    if (!known) {
      const count = await this.#countScope(scope, limit);
      // A ranking split in two halves at the median time of the memories that pass the scope.
      const splits = sketches && this.#parallelSides && count >= this.#splitFrom && count < this.#sketchUnder;
      const split = splits ? await this.#medianTime(scope, count) : undefined;
      known = { count, limit, at: Date.now(), split };
      if (this.#plans.size > 1000) this.#plans.clear();
      this.#plans.set(scope.key, known);
    }
    const count = known.count;
    const wide = count >= this.#exactUnder;
    if (sketches && count < this.#sketchUnder) return { plan: 'sketch', wide, count, split: known.split };
    return { plan: wide ? 'index' : 'exact', wide, count };
  }

  /**
   * For a sketch ranking: a Hamming distance that about `sketchCut` (3) times the re-ranked count of
   * the memories it ranks are within (each half of a split ranks about half of `count`), estimated
   * from the query's distances to a sample of the operator's sketches (see hammingCut); undefined
   * for another plan, or when the set is too small for a cut to pay.
   */
  async #sketchCut(
    plan: VectorPlan,
    operatorId: number,
    embedding: number[],
    count: number,
    split: Date | undefined,
    candidates: number,
  ): Promise<number | undefined> {
    if (plan !== 'sketch' || this.#sketchCutShare === 0) return undefined;
    const rerank = Math.max(this.#sketchRerank, candidates);
    const ranked = split ? count / 2 : count;
    if (ranked < SKETCH_CUT_FROM * rerank) return undefined;
    const sample = await this.#sketchSample(operatorId);
    const sketch = this.#sketchOf(embedding);
    if (sample.length < SKETCH_SAMPLE_MIN || sketch === null) return undefined;
    const query = sketchWords(sketch);
    const distances = sample.map((words) => hammingDistance(query, words));
    return hammingCut(distances, (this.#sketchCutShare * rerank) / ranked);
  }

  /** The sketch of a query's embedding, computed once per search. */
  #sketchOf(embedding: number[]): string | null {
    let sketch = this.#querySketches.get(embedding);
    if (sketch === undefined) {
      sketch = embeddingSketch(embedding);
      this.#querySketches.set(embedding, sketch);
    }
    return sketch;
  }

  /**
   * About SKETCH_SAMPLE sketches of the operator's memories, cached for ten minutes: the pages of a
   * system sample of memory_sketches (a second, larger one when the operator has few of the table's
   * rows). Only the spread of their distances to a query is read from them.
   */
  async #sketchSample(operatorId: number): Promise<Uint32Array[]> {
    const cached = this.#sketchSamples.get(operatorId);
    if (cached && Date.now() - cached.at < PLAN_TTL_MS) return cached.words;
    const rows = await this.#db.query(
      `SELECT greatest(reltuples, 0) AS n FROM pg_class WHERE oid = to_regclass('memory_sketches')`,
    );
    const total = Math.max(1, Number(rows.rows[0]?.n ?? 0));
    // Whole pages at random; or, when that would be every page (a small table, or one never
    // analysed), rows at random.
    const draw = async (percent: number) =>
      (
        await this.#db.query(
          `SELECT sketch::text AS sketch FROM memory_sketches ${percent < 100 ? 'TABLESAMPLE SYSTEM ($4)' : ''}
           WHERE operator_id = $1 AND embedder = $2 AND embedding_dim = $3 AND superseded_by IS NULL
             AND sketch IS NOT NULL ${percent < 100 ? '' : 'ORDER BY random()'} LIMIT ${SKETCH_SAMPLE}`,
          [
            operatorId,
            this.#embedder.id,
            Math.trunc(this.#embedder.dimension),
            ...(percent < 100 ? [percent] : []),
          ],
        )
      ).rows.map((row) => sketchWords(String(row.sketch)));
    const percent = (100 * 3 * SKETCH_SAMPLE) / total;
    let words = await draw(percent);
    if (words.length < SKETCH_SAMPLE / 2 && percent < 100)
      words = await draw((percent * SKETCH_SAMPLE) / Math.max(1, words.length));
    if (this.#sketchSamples.size > 100) this.#sketchSamples.clear();
    this.#sketchSamples.set(operatorId, { words, at: Date.now() });
    return words;
  }

  /** When the middle memory of the `count` that pass the scope happened. */
  async #medianTime(scope: NonNullable<Filters['scope']>, count: number): Promise<Date | undefined> {
    const result = await this.#db.query(
      `SELECT m.occurred_at AS at FROM memories m WHERE ${scope.sql}
       ORDER BY m.occurred_at OFFSET ${Math.floor(count / 2)} LIMIT 1`,
      scope.params,
    );
    const at = result.rows[0]?.at as Date | string | undefined;
    return at === undefined ? undefined : new Date(at);
  }

  /** The filters of the two halves of a split ranking: before the split time, and from it. */
  #halves(filters: Filters, split: Date): Filters[] {
    const at = `$${filters.params.length + 1}`;
    return ['<', '>='].map((operator) => {
      const indexed = `${filters.indexed} AND m.occurred_at ${operator} ${at}`;
      return {
        ...filters,
        indexed,
        where: `${indexed} AND ${filters.rest.sql}`,
        params: [...filters.params, split],
      };
    });
  }

  /** How many memories pass the scope, counted up to `limit` in the scope index. */
  async #countScope(scope: NonNullable<Filters['scope']>, limit: number): Promise<number> {
    const result = await this.#db.query(
      `SELECT count(*) AS n FROM (SELECT 1 FROM memories m WHERE ${scope.sql} LIMIT ${Math.trunc(limit)}) s`,
      scope.params,
    );
    return Number(result.rows[0]?.n ?? 0);
  }

  /**
   * Whether the sketch ranking may serve searches: it is on, the embedder's memories have
   * sketches, and every copy has its sketch (a copy without one is still ranked — it sorts first —
   * but a store just upgraded has thousands until the fill is done). Checked once a minute.
   */
  async #sketchesReady(): Promise<boolean> {
    if (!this.#sketchRanking) return false;
    if (this.#sketchState && Date.now() - this.#sketchState.at < SKETCH_STATE_TTL_MS)
      return this.#sketchState.ready;
    this.#sketchState = { ready: !(await this.#anyUnsketched()), at: Date.now() };
    return this.#sketchState.ready;
  }

  /** Whether some copy has no sketch (memory_vectors_unsketched_idx answers it). */
  async #anyUnsketched(): Promise<boolean> {
    const result = await this.#db.query(
      'SELECT EXISTS (SELECT 1 FROM memory_vectors WHERE sketch IS NULL) AS any',
    );
    return result.rows[0]?.any === true;
  }

  /**
   * How many memories an operator has, and whether the store is large (then word frequencies come
   * from Postgres's statistics). Cached for a minute: it only scales the IDF.
   */
  async #operatorSize(operatorId: number): Promise<{ count: number; large: boolean }> {
    const cached = this.#sizes.get(operatorId);
    if (cached && Date.now() - cached.at < 60_000) return cached;
    // A large table: the planner's estimate is close enough for IDF and costs nothing.
    const estimate = await this.#db.query(
      `SELECT reltuples AS n FROM pg_class WHERE oid = 'memories'::regclass`,
    );
    const estimated = Number(estimate.rows[0]?.n ?? 0);
    let size = { count: estimated, large: true, at: Date.now() };
    if (estimated <= this.#statisticsFrom) {
      const result = await this.#db.query(
        'SELECT count(*) AS n FROM memories WHERE operator_id = $1 AND superseded_by IS NULL',
        [operatorId],
      );
      size = { count: Number(result.rows[0]?.n ?? 0), large: false, at: Date.now() };
    }
    this.#sizes.set(operatorId, size);
    return size;
  }

  /** IDF (BM25's formula) and document frequency of each query word. */
  async #termStats(
    operatorId: number,
    terms: string[],
  ): Promise<{ idf: Map<string, number>; df: Map<string, number>; size: number }> {
    const idf = new Map<string, number>();
    const { count: total, large } = await this.#operatorSize(operatorId);
    const size = Math.max(total, 1);
    if (terms.length === 0) return { idf, df: new Map(), size };
    const frequencies =
      (large ? await this.#estimatedFrequencies(terms, size) : null) ??
      (await this.#countedFrequencies(operatorId, terms));
    for (const [term, count] of frequencies) {
      const df = Math.min(count, size);
      frequencies.set(term, df);
      idf.set(term, Math.log(1 + (size - df + 0.5) / (df + 0.5)));
    }
    return { idf, df: frequencies, size };
  }

  /** Document frequencies counted in the index (one capped count per word, the GIN index each). */
  async #countedFrequencies(operatorId: number, terms: string[]): Promise<Map<string, number>> {
    const params: unknown[] = [operatorId, DF_CAP];
    const parts = terms.map((term) => {
      params.push(term, quoteTerm(term));
      const termParam = `$${params.length - 1}`;
      const queryParam = `$${params.length}`;
      return `SELECT ${termParam}::text AS term, (SELECT count(*) FROM (
           SELECT 1 FROM memories m WHERE m.operator_id = $1 AND m.tsv @@ to_tsquery('english', ${queryParam}::text)
           LIMIT $2) s) AS df`;
    });
    const result = await this.#db.query(parts.join(' UNION ALL '), params);
    return new Map(result.rows.map((row) => [String(row.term), Number(row.df)]));
  }

  /**
   * Document frequencies of a large store from Postgres's own statistics (`pg_stats` keeps the
   * frequency of the most common words; a rarer word gets half the least common one's, as the
   * planner assumes). The statistics are read once every ten minutes and kept here; each word's
   * lexeme is computed here as Postgres's English configuration would (`englishLexeme`). Counting
   * rows instead would cost a heap visit per match. Null when the table has no statistics yet.
   */
  async #estimatedFrequencies(terms: string[], size: number): Promise<Map<string, number> | null> {
    const stats = await this.#wordStatistics();
    if (!stats) return null;
    return new Map(
      terms.map((term) => {
        const share = stats.shares.get(englishLexeme(term)) ?? stats.rarest / 2;
        return [term, Math.max(1, Math.round(share * size))];
      }),
    );
  }

  /** The most common words of the memories' full text and their shares, from `pg_stats`. */
  async #wordStatistics(): Promise<{ shares: Map<string, number>; rarest: number } | null> {
    if (this.#statistics && Date.now() - this.#statistics.at < STATS_TTL_MS) return this.#statistics;
    const result = await this.#db.query(
      `SELECT most_common_elems::text::text[] AS elems, most_common_elem_freqs AS freqs FROM pg_stats
       WHERE schemaname = current_schema() AND tablename = 'memories' AND attname = 'tsv'`,
    );
    const row = result.rows[0];
    const elems = (row?.elems as string[] | null) ?? [];
    if (elems.length === 0) return null;
    // The frequencies array holds one share per element, then min, max and the null share.
    const freqs = ((row?.freqs as number[] | null) ?? []).map(Number);
    const shares = new Map(elems.map((elem, index) => [elem, freqs[index]!]));
    this.#statistics = { shares, rarest: Math.min(...freqs.slice(0, elems.length)), at: Date.now() };
    return this.#statistics;
  }

  /** The full-text words worth ranking: on large stores, the rarest words within the budget. */
  #textTerms(terms: string[], idf: Map<string, number>, df: Map<string, number>, size: number): string[] {
    // Pruning is for speed on large stores; on small ones every word may be "common".
    if (size < PRUNE_FROM) return terms;
    // Words that a fifth of all memories contain only cost time on the full-text side.
    const common = COMMON_SHARE * size;
    const minIdf = Math.log(1 + (size - common + 0.5) / (common + 0.5));
    const byRarity = terms
      .filter((term) => (idf.get(term) ?? 0) >= minIdf)
      .sort((a, b) => (df.get(a) ?? 0) - (df.get(b) ?? 0));
    let budget = 0;
    return byRarity.filter((term, index) => {
      budget += df.get(term) ?? 0;
      return budget <= (index === 0 ? 2 * TEXT_BUDGET : TEXT_BUDGET);
    });
  }

  /**
   * The vector side as SQL (a candidate list, nearest first), its parameters appended to `params`:
   * an HNSW scan (`index`), or every memory that passes the filters ranked by distance (`exact`,
   * through the 16-bit copies in memory_vectors where the embedder has them; `truth`,
   * 32-bit through the table).
   */
  #vectorCandidates(
    filters: Filters,
    params: unknown[],
    embedding: number[],
    candidates: number,
    plan: VectorPlan,
    columns: ColumnSet = 'id',
    cut?: number,
  ): string {
    const dim = Math.trunc(this.#embedder.dimension);
    params.push(vectorLiteral(embedding), this.#embedder.id, candidates);
    const [v, embedder, n] = [2, 1, 0].map((back) => `$${params.length - back}`);
    // Distances are exact 32-bit cosine; the index is searched with its own element type.
    const distance = `m.embedding::vector(${dim}) <=> ${v}::vector(${dim})`;
    const indexed = `m.embedding::${this.#indexType}(${dim}) <=> ${v}::${this.#indexType}(${dim})`;
    const embedderOnly = `m.embedding_dim = ${dim} AND m.embedder = ${embedder}`;
    const where = `${filters.where} AND ${embedderOnly}`;
    const selected = columnList(columns, 'm');
    if (plan === 'index')
      return `SELECT ${selected}, ${distance} AS distance FROM memories m WHERE ${where}
        ORDER BY ${indexed} LIMIT ${n}`;
    // Ranked outside the scan (OFFSET 0 keeps the planner from pulling the ORDER BY into it), so
    // the index cannot serve the order and each distance is computed once per memory that passes.
    if (plan === 'sketch') {
      // An index-only scan of the sketches (memory_sketches_scope_idx, migration 022) keeps the
      // nearest by Hamming distance (a copy still without a sketch sorts first, so it is never left
      // out); their exact 32-bit distances are read from memories. OFFSET 0 as above.
      params.push(this.#sketchOf(embedding), Math.max(this.#sketchRerank, candidates));
      const [sketch, rerank] = [1, 0].map((back) => `$${params.length - back}`);
      const hamming = `m.sketch <~> ${sketch}::bit(${SKETCH_BITS})`;
      const order = `ORDER BY h NULLS FIRST, id LIMIT ${rerank}`;
      const every = `SELECT id FROM (SELECT m.memory_id AS id, ${hamming} AS h FROM memory_sketches m
          WHERE ${where} OFFSET 0) y ${order}`;
      // With a cut (an estimate of the distance that a few times `rerank` memories are within), only
      // those are sorted, and only they are checked against the filters the index does not answer:
      // the sort copies every row it is given, and those filters cost as much again. If fewer than
      // `rerank` were within the cut, every memory is ranked after all (the second branch runs only
      // then). Either way the same memories come out: all the others are farther.
      let ids = every;
      if (cut !== undefined) {
        params.push(cut);
        const read = [...filters.rest.columns, 'embedder', 'embedding_dim'].map((column) => `m.${column}`);
        ids = `WITH near AS MATERIALIZED (SELECT id FROM (SELECT m.memory_id AS id, m.h FROM (
              SELECT m.memory_id, ${hamming} AS h, ${read.join(', ')} FROM memory_sketches m
              WHERE ${filters.indexed} AND (m.sketch IS NULL OR ${hamming} <= $${params.length}) OFFSET 0
            ) m WHERE ${filters.rest.sql} AND ${embedderOnly}) y ${order})
          SELECT id FROM near WHERE (SELECT count(*) FROM near) >= ${rerank}
          UNION ALL
          SELECT id FROM (${every}) every WHERE (SELECT count(*) FROM near) < ${rerank}`;
      }
      return `SELECT * FROM (SELECT ${selected}, ${distance} AS distance FROM (${ids}) x
        JOIN memories m ON m.id = x.id OFFSET 0) z ORDER BY distance, id LIMIT ${n}`;
    }
    if (plan === 'truth' || !this.#halfCopies)
      return `SELECT * FROM (SELECT ${selected}, ${distance} AS distance FROM memories m WHERE ${where}
        OFFSET 0) x ORDER BY distance, id LIMIT ${n}`;
    // An index-only scan of the 16-bit copies (memory_vectors, same column names) picks the
    // candidates; their 32-bit distances are then read from memories (a page each, for the few kept).
    const half = `m.embedding <=> ${v}::halfvec(${dim})`;
    return `SELECT ${selected}, ${distance} AS distance FROM (
        SELECT id, d FROM (SELECT m.memory_id AS id, ${half} AS d FROM memory_vectors m WHERE ${where}
          OFFSET 0) y ORDER BY d, id LIMIT ${n}
      ) x JOIN memories m ON m.id = x.id`;
  }

  /**
   * Exact facts first, then the hybrid layer: the candidates of the vector side and of the
   * full-text side (with the facts) are fused here by reciprocal rank. With `parallelSides` (a
   * Postgres server) the two sides are two statements at once on two pooled connections, which
   * share the machine's cores: the full-text side and the planning of both cost nothing beside the
   * vector ranking (1.5–2 ms of a 9–11 ms search at 100k memories, BENCHMARKS.md). Without it
   * (embedded PGlite, one connection) they are one statement.
   */
  async #search(
    query: string,
    filters: Filters,
    operatorId: number,
    now: Date,
    limit: number,
    kinds: MemoryKind[],
  ): Promise<MemoryPointer[]> {
    const candidates = Math.max(this.#candidates, limit * 3);
    const allTerms = queryWords(query);
    const { idf, df, size } = await this.#termStats(operatorId, allTerms);
    const textTerms = this.#textTerms(allTerms, idf, df, size);
    const stems = new Map<string, number>();
    for (const term of allTerms) {
      stems.set(stem(term), Math.max(stems.get(stem(term)) ?? 0, idf.get(term) ?? 1));
    }
    const embedding = canWeight(this.#embedder)
      ? this.#embedder.embedQueryWeighted(query, stems)
      : await this.#embedder.embedQuery(query);
    const { plan, wide, split, count } = await this.#vectorPlan(filters, operatorId);
    const cut = await this.#sketchCut(plan, operatorId, embedding, count, split, candidates);

    // Every part gives its candidates with their part (0 facts, 1 full text, 2 vector) and rank
    // within it (the vector rank numbered here when the vector side runs on its own, so that it can
    // be in halves), so that one statement or several give the same rows. Several (a server) give
    // whole pointers: reading the few results afterwards would cost a third statement, 0.6 ms. One
    // statement (PGlite) gives only what the fusion reads, and the results are read whole after it:
    // converting 120 whole rows out of WebAssembly cost 1.5 ms.
    const columns: ColumnSet = this.#parallelSides ? 'pointer' : 'fusion';
    const selected = columnList(columns, 'm');
    const named = columnList(columns);
    // The vector side over some filters: its nearest candidates (`vec`), those similar enough
    // (`kept`), and its parameters.
    const vectorSide = (part: Filters) => {
      const values = [...part.params];
      const sql = this.#vectorCandidates(part, values, embedding, candidates, plan, columns, cut);
      values.push(this.#minSimilarity);
      return {
        with: `WITH vec AS MATERIALIZED (${sql}
      ) `,
        kept: `FROM vec WHERE 1 - distance >= $${values.length} AND distance <> 'NaN'`,
        values,
      };
    };
    // One statement (PGlite) holds the vector side; two or three (a server) each have their own.
    const single = this.#parallelSides ? null : vectorSide(filters);

    // The full-text side and the exact facts. In one statement with the vector side, their
    // parameters follow its own; in a statement of their own, the filters' parameters.
    const params = single ? [...single.values] : [...filters.params];
    const add = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    // Full-text score: Σ idf(term) × ts_rank(term) — BM25's term weighting on Postgres's ranking.
    const rankWeights = textTerms.length > 0 ? add(this.#rankWeights) : '';
    const termScores = textTerms.map(
      (term) =>
        `${add(idf.get(term) ?? 1)}::float8 * ts_rank(${rankWeights}::float4[], m.tsv, to_tsquery('english', ${add(quoteTerm(term))}))`,
    );
    const anyTerm = textTerms.length > 0 ? add(textTerms.map(quoteTerm).join(' | ')) : '';
    // When a wide filter (one the graph serves) meets words that match few memories, read just
    // those and filter them (OFFSET 0 keeps the filters out of the scan): Postgres would otherwise
    // AND the word index with the scope index, whose bitmap costs as much as the filter is wide
    // (11 ms for 74,000 of 1M memories). A narrow filter's bitmap is cheap and saves heap reads.
    // (A count at the cap only says "at least": such a word is taken as matching too many.)
    const matches = textTerms.reduce((sum, term) => {
      const count = df.get(term) ?? DF_CAP;
      return sum + (count >= DF_CAP ? Number.POSITIVE_INFINITY : count);
    }, 0);
    const matching = `m.tsv @@ to_tsquery('english', ${anyTerm})`;
    const from =
      filters.scope && wide && matches <= WORDS_FIRST_UNDER
        ? `(SELECT * FROM memories m WHERE ${matching} OFFSET 0) m WHERE ${filters.where}`
        : `memories m WHERE ${filters.where} AND ${matching}`;
    const textPart =
      textTerms.length === 0
        ? ''
        : `(SELECT ${named}, 1 AS part, row_number() OVER (ORDER BY score DESC, id DESC) AS rank FROM (
          SELECT ${selected}, ${termScores.join(' + ')} AS score FROM ${from}
          ORDER BY score DESC, m.id DESC LIMIT ${Math.trunc(candidates)}) t)`;
    // Exact facts: a subject the query names (1–3 word n-grams), the named attribute first.
    const subjects = kinds.includes('fact') ? subjectCandidates(query) : [];
    const factPart =
      subjects.length === 0
        ? ''
        : `(SELECT ${selected}, 0 AS part, row_number() OVER (
           ORDER BY (lower(m.attribute) = ANY(${add(subjects)}::text[])) DESC NULLS LAST, m.occurred_at DESC, m.id DESC
         ) AS rank FROM memories m
         WHERE ${filters.where} AND m.kind = 'fact' AND m.subject IS NOT NULL
           AND lower(m.subject) = ANY($${params.length}::text[])
         ORDER BY rank LIMIT ${add(limit)})`;
    const textParts = [factPart, textPart].filter((part) => part !== '');

    const run = (sql: string, values: unknown[]) =>
      this.#withSearchSettings(candidates, (db) => db.query(sql, values));
    let rows: Row[];
    if (single) {
      const vecPart = `(SELECT ${named}, 2 AS part, row_number() OVER (ORDER BY distance, id) AS rank ${single.kept})`;
      rows = (await run(single.with + [vecPart, ...textParts].join(' UNION ALL '), params)).rows;
    } else {
      // At once on pooled connections: the vector side (in two halves when the plan splits it) and
      // the full-text side. The vector candidates are merged and numbered here.
      const [text, ...vector] = await Promise.all([
        textParts.length === 0 ? { rows: [] as Row[] } : run(textParts.join(' UNION ALL '), params),
        ...(split ? this.#halves(filters, split) : [filters]).map((part) => {
          const side = vectorSide(part);
          return run(`${side.with}SELECT ${named}, distance, 2 AS part ${side.kept}`, side.values);
        }),
      ]);
      const candidatesFound = nearestFirst(vector.flatMap((result) => result.rows)).slice(0, candidates);
      rows = [...text!.rows, ...candidatesFound.map((row, index) => ({ ...row, rank: index + 1 }))];
    }
    const part = (which: number) =>
      rows.filter((row) => Number(row.part) === which).sort((a, b) => Number(a.rank) - Number(b.rank));
    // Facts first, then the fused ranking.
    const found = [
      ...part(0).map((row) => ({ id: Number(row.id), score: 2, layer: 'fact' as const })),
      ...this.#fuse(query, now, part(2), part(1), limit).map((row) => ({ ...row, layer: 'hybrid' as const })),
    ];
    if (found.length === 0) return [];
    const whole = this.#parallelSides
      ? rows
      : (
          await this.#db.query(`SELECT ${POINTER} FROM memories WHERE id = ANY($1::bigint[])`, [
            found.map((row) => row.id),
          ])
        ).rows;
    const byId = new Map(whole.map((row) => [Number(row.id), row]));
    return found.flatMap(({ id, score, layer }) => {
      const row = byId.get(id);
      // A memory deleted since the ranking (forgotten, swept) is left out.
      return row ? [this.#toPointer({ ...row, score }, layer)] : [];
    });
  }

  /**
   * Reciprocal rank fusion of the two candidate lists (each with its rank, from 1): Σ weight / (k + rank),
   * plus the bonus of a time window the query names and of a speaker it names; best first, then
   * the most recent, then the highest id.
   */
  #fuse(
    query: string,
    now: Date,
    vectorRows: Row[],
    textRows: Row[],
    limit: number,
  ): Array<{ id: number; score: number }> {
    const fused = new Map<number, { row: Row; score: number }>();
    const add = (rows: Row[], weight: number) => {
      for (const row of rows) {
        const id = Number(row.id);
        const entry = fused.get(id) ?? { row, score: 0 };
        entry.score += weight / (this.#rrfK + Number(row.rank));
        fused.set(id, entry);
      }
    };
    add(vectorRows, 1);
    add(textRows, this.#textWeight);
    const window = parseTimeWindow(query, now);
    const named = new Set(words(query));
    const timeBoost = this.#timeBoost / this.#rrfK;
    const speakerBoost = this.#speakerBoost / this.#rrfK;
    const time = (row: Row) => new Date(row.occurred_at as string | Date).getTime();
    const scored = [...fused.values()].map(({ row, score }) => {
      const at = time(row);
      const inWindow = window !== null && at >= window.since.getTime() && at < window.until.getTime();
      const bySpeaker = named.has(String(row.asserted_by).toLowerCase());
      return { row, at, score: score + (inWindow ? timeBoost : 0) + (bySpeaker ? speakerBoost : 0) };
    });
    scored.sort((a, b) => b.score - a.score || b.at - a.at || Number(b.row.id) - Number(a.row.id));
    return scored.slice(0, limit).map(({ row, score }) => ({ id: Number(row.id), score }));
  }

  /**
   * Run a search with pgvector's iterative index scan (filters inside the HNSW scan do not starve
   * the results) and an ef_search wide enough for the candidate list, set once per connection. JIT
   * compilation is off: the planner's cost of the fact look-up can pass its threshold, and
   * compiling took 24 ms of a 75 ms search at 1M memories, for a statement that reads little.
   * `random_page_cost` is 1.1, the usual value for data in memory or on SSD: at the default 4 the
   * planner ranks a filter's memories through the heap (one page each) instead of the index-only
   * scan of memory_vectors_scope_idx.
   */
  async #withSearchSettings<T>(candidates: number, work: (db: Queryable) => Promise<T>): Promise<T> {
    const efSearch = Math.max(this.#efSearch, candidates);
    const isPool = !('release' in this.#db) && typeof (this.#db as pg.Pool).connect === 'function';
    const client = isPool ? await (this.#db as pg.Pool).connect() : (this.#db as pg.PoolClient);
    try {
      if (this.#configured.get(client) !== efSearch) {
        await client.query(
          `SELECT set_config('hnsw.iterative_scan', 'relaxed_order', false), set_config('hnsw.ef_search', $1, false),
             set_config('jit', 'off', false), set_config('random_page_cost', '1.1', false)`,
          [String(efSearch)],
        );
        this.#configured.set(client, efSearch);
      }
      return await work(client);
    } finally {
      if (isPool) client.release();
    }
  }

  /** The operators that have memories (a re-embed tells each of them). */
  async operatorsWithMemories(): Promise<number[]> {
    const result = await this.#db.query('SELECT DISTINCT operator_id FROM memories ORDER BY operator_id');
    return result.rows.map((row) => Number(row.operator_id));
  }

  /** What `forget <query>` would remove: the memories the query finds (any kind but episodes). */
  async forgetPreview(operatorId: number, query: string, limit = 10): Promise<MemoryPointer[]> {
    const found = await this.recall(query, {
      operatorId,
      limit,
      kinds: ['fact', 'note', 'document'],
      maxSensitivity: 'secret',
    });
    // Only memories the query names: a vector neighbour that shares no word with it is not offered.
    const terms = new Set(words(query).filter((word) => !isStopWord(word)));
    return found.filter((pointer) => words(pointer.snippet).some((word) => terms.has(word)));
  }

  /** Delete memories by id (and a document's chunks with it). Returns how many rows went. */
  async forget(operatorId: number, ids: number[]): Promise<number> {
    if (ids.length === 0) return 0;
    await this.#db.query(
      'UPDATE memories SET superseded_by = NULL WHERE operator_id = $1 AND superseded_by = ANY($2::bigint[])',
      [operatorId, ids],
    );
    const result = await this.#db.query(
      'DELETE FROM memories WHERE operator_id = $1 AND (id = ANY($2::bigint[]) OR document_id = ANY($2::bigint[]))',
      [operatorId, ids],
    );
    return result.rowCount ?? 0;
  }

  /**
   * Delete expired memories. An expired fact takes the history it superseded with it (an expired
   * value must not resurrect its predecessor). Returns how many rows went.
   */
  async sweepExpired(now: Date = this.#clock.now()): Promise<number> {
    const result = await this.#db.query(
      `WITH RECURSIVE doomed AS (
         SELECT id FROM memories WHERE expires_at IS NOT NULL AND expires_at <= $1
         UNION
         SELECT m.id FROM memories m JOIN doomed d ON m.superseded_by = d.id
       ), unlinked AS (
         UPDATE memories SET superseded_by = NULL
         WHERE superseded_by IN (SELECT id FROM doomed) AND id NOT IN (SELECT id FROM doomed)
       )
       DELETE FROM memories WHERE id IN (SELECT id FROM doomed) OR document_id IN (SELECT id FROM doomed)`,
      [now],
    );
    return result.rowCount ?? 0;
  }

  /**
   * Write the sketches of up to `batch` copies that have none (memories stored before migration 021,
   * or written around the store), from their 32-bit embeddings. Returns how many were written and
   * whether any remain; the sweep calls it until none do. Safe beside other writers: a copy that
   * changed since it was read (its row version differs) is left for the next call.
   */
  async fillSketches(batch = 1000): Promise<{ done: number; remaining: boolean }> {
    const rows = await this.#db.query(
      `SELECT v.memory_id AS id, v.xmin::text AS version, m.embedding::text AS embedding
       FROM memory_vectors v JOIN memories m ON m.id = v.memory_id
       WHERE v.sketch IS NULL ORDER BY v.memory_id LIMIT $1`,
      [Math.trunc(batch)],
    );
    let done = 0;
    if (rows.rows.length > 0) {
      const sketches = rows.rows.map((row) => embeddingSketch(JSON.parse(String(row.embedding)) as number[]));
      const written = await this.#db.query(
        `UPDATE memory_vectors v SET sketch = u.sketch::bit(${SKETCH_BITS})
         FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(id, version, sketch)
         WHERE v.memory_id = u.id AND v.xmin::text = u.version AND v.sketch IS NULL AND u.sketch IS NOT NULL`,
        [rows.rows.map((row) => Number(row.id)), rows.rows.map((row) => String(row.version)), sketches],
      );
      done = written.rowCount ?? 0;
    }
    const remaining = await this.#anyUnsketched();
    this.#sketchState = { ready: !remaining, at: Date.now() };
    return { done, remaining };
  }

  /** How many copies have no sketch yet (the fill's progress). */
  async unsketchedCount(): Promise<number> {
    const result = await this.#db.query('SELECT count(*) AS n FROM memory_vectors WHERE sketch IS NULL');
    return Number(result.rows[0]?.n ?? 0);
  }

  /**
   * Re-embed up to `batch` memories not yet embedded with this store's embedder. Returns how many
   * were done in this call and how many remain; the job calls it until nothing remains.
   */
  async reembedBatch(batch = 200): Promise<{ done: number; remaining: number; total: number }> {
    const id = this.#embedder.id;
    const dim = Math.trunc(this.#embedder.dimension);
    const rows = await this.#db.query(
      `SELECT id, content, context FROM memories WHERE embedder IS DISTINCT FROM $1 ORDER BY id LIMIT $2`,
      [id, batch],
    );
    if (rows.rows.length > 0) {
      const vectors = await this.#embedder.embedDocuments(
        rows.rows.map((row) =>
          row.context
            ? `${String(row.content)}${CONTEXT_SEPARATOR}${String(row.context)}`
            : String(row.content),
        ),
      );
      await this.#db.query(
        `UPDATE memories m SET embedding = u.embedding::vector, embedder = $3, embedding_dim = ${dim},
           embedding_sketch = u.sketch::bit(${SKETCH_BITS})
         FROM unnest($1::bigint[], $2::text[], $4::text[]) AS u(id, embedding, sketch) WHERE m.id = u.id`,
        [
          rows.rows.map((row) => Number(row.id)),
          vectors.map(vectorLiteral),
          id,
          vectors.map((vector) => embeddingSketch(vector)),
        ],
      );
    }
    const counts = await this.#db.query(
      `SELECT count(*) FILTER (WHERE embedder IS DISTINCT FROM $1) AS remaining, count(*) AS total FROM memories`,
      [id],
    );
    const remaining = Number(counts.rows[0]?.remaining ?? 0);
    const total = Number(counts.rows[0]?.total ?? 0);
    await this.#db.query(
      `UPDATE memory_embedders SET done = $2, total = $3, updated_at = now() WHERE id = $1`,
      [id, total - remaining, total],
    );
    if (remaining === 0) {
      await this.#db.query(
        `UPDATE memory_embedders SET state = 'retired' WHERE state = 'active' AND id <> $1`,
        [id],
      );
      await this.#db.query(`UPDATE memory_embedders SET state = 'active' WHERE id = $1`, [id]);
    }
    return { done: rows.rows.length, remaining, total };
  }
}
