/**
 * Memory retrieval on LoCoMo-format conversations: recall@k of the evidence turns.
 *
 *   npm run bench -- memory --dataset ../shared/bench/locomo [--k 1,5,10,20] [--json]
 *     [--database-url postgres://…] [--no-vector] [--no-text] [--no-context] [--dimension 512]
 *
 * Each conversation is its own operator (memory space). Only the turns are ingested (speaker, text,
 * image caption, the session's date as the memory's time); the annotations are never read.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDatabase } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';
import { conversationMemories } from '../memory/conversation-ingest.ts';
import { LocalEmbedder } from '../memory/local-embedder.ts';
import { PgvectorMemoryStore } from '../memory/pgvector-memory-store.ts';
import { readDataset } from './locomo-dataset.ts';

interface Args {
  dataset: string;
  ks: number[];
  json: boolean;
  databaseUrl: string | undefined;
  vector: boolean;
  text: boolean;
  context: boolean;
  dimension: number;
  textWeight: number;
  rrfK: number;
  contextTextWeight: number;
  contextVectorWeight: number;
  speakerBoost: number;
}

function parseArgs(args: string[]): Args {
  const value = (name: string) => {
    const index = args.indexOf(name);
    return index >= 0 ? args[index + 1] : undefined;
  };
  return {
    dataset: value('--dataset') ?? '../shared/bench/locomo',
    ks: (value('--k') ?? '1,5,10,20')
      .split(',')
      .map(Number)
      .filter((k) => k > 0),
    json: args.includes('--json'),
    databaseUrl: value('--database-url'),
    vector: !args.includes('--no-vector'),
    text: !args.includes('--no-text'),
    context: !args.includes('--no-context'),
    dimension: Number(value('--dimension') ?? 512),
    textWeight: Number(value('--text-weight') ?? 1.5),
    rrfK: Number(value('--rrf-k') ?? 20),
    contextTextWeight: Number(value('--context-text-weight') ?? 0.2),
    contextVectorWeight: Number(value('--context-vector-weight') ?? 0.5),
    speakerBoost: Number(value('--speaker-boost') ?? 0.6),
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (value: number, digits = 3) => Number(value.toFixed(digits));

export default async function memoryBench(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const conversations = readDataset(args.dataset);
  const dataDir = mkdtempSync(join(tmpdir(), 'spine-bench-memory-'));
  const schema = `bench_memory_${Date.now().toString(36)}`;
  const db = await openDatabase({
    url: args.databaseUrl,
    dataDir,
    schema: args.databaseUrl ? schema : 'public',
  });
  const log = (line: string) => {
    if (!args.json) process.stdout.write(`${line}\n`);
  };
  try {
    await migrate(db.pool, db.schema);
    const embedder = new LocalEmbedder({
      dimension: args.dimension,
      contextWeight: args.contextVectorWeight,
    });
    const store = new PgvectorMemoryStore(db.pool, {
      embedder,
      minSimilarity: args.vector ? 0 : 2,
      textWeight: args.text ? args.textWeight : 0,
      rrfK: args.rrfK,
      contextTextWeight: args.contextTextWeight,
      speakerBoost: args.speakerBoost,
    });
    await store.init();
    const maxK = Math.max(...args.ks);
    const hits: Record<string, number[]> = {};
    const byCategory: Record<string, Record<string, number[]>> = {};
    const latencies: number[] = [];
    let turnsIngested = 0;
    let ingestMs = 0;
    for (const conversation of conversations) {
      const operator = await db.pool.query(
        `INSERT INTO operators (name, timezone) VALUES ($1, 'UTC') RETURNING id`,
        [conversation.id],
      );
      const operatorId = Number(operator.rows[0]?.id);
      const memories = conversationMemories(conversation.turns, {
        operatorId,
        provenance: (turn) => ({ source: 'console', sourceRef: turn.id, assertedBy: turn.speaker }),
        ...(args.context ? {} : { before: 0, after: 0 }),
      });
      const started = performance.now();
      for (let index = 0; index < memories.length; index += 200) {
        await store.rememberMany(memories.slice(index, index + 200));
      }
      ingestMs += performance.now() - started;
      turnsIngested += memories.length;
      const lastTurn = conversation.turns.at(-1)?.at ?? new Date();
      const now = new Date(lastTurn.getTime() + 86_400_000);
      for (const question of conversation.questions) {
        const began = performance.now();
        const found = await store.recall(question.question, {
          operatorId,
          limit: maxK,
          kinds: ['note'],
          now,
        });
        latencies.push(performance.now() - began);
        const ids = found.map((pointer) => String(pointer.metadata?.messageId ?? pointer.sourceRef));
        const category = String(question.category);
        byCategory[category] ??= {};
        for (const k of args.ks) {
          const top = new Set(ids.slice(0, k));
          const recall = question.evidence.filter((id) => top.has(id)).length / question.evidence.length;
          hits[k] ??= [];
          hits[k].push(recall);
          const perCategory = byCategory[category]!;
          perCategory[k] ??= [];
          perCategory[k].push(recall);
        }
      }
      log(`${conversation.id}: ${memories.length} turns, ${conversation.questions.length} questions`);
    }
    const mean = (values: number[] = []) =>
      values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
    const sorted = [...latencies].sort((a, b) => a - b);
    const result = {
      questions: latencies.length,
      recall: Object.fromEntries(args.ks.map((k) => [String(k), round(mean(hits[k]))])),
      byCategory: Object.fromEntries(
        Object.entries(byCategory)
          .sort(([a], [b]) => Number(a) - Number(b))
          .map(([category, values]) => [
            category,
            Object.fromEntries(args.ks.map((k) => [String(k), round(mean(values[k]))])),
          ]),
      ),
      latencyMs: { p50: round(percentile(sorted, 50), 2), p95: round(percentile(sorted, 95), 2) },
      ingestPerSecond: round(turnsIngested / (ingestMs / 1000), 1),
      database: db.kind,
      embedder: embedder.id,
      conversations: conversations.length,
      turns: turnsIngested,
    };
    log(`database: ${db.kind}, embedder: ${embedder.id}, ${result.questions} questions scored`);
    log(`recall@k: ${args.ks.map((k) => `R@${k} ${result.recall[String(k)]}`).join('  ')}`);
    const names: Record<string, string> = {
      '1': 'multi-hop',
      '2': 'temporal',
      '3': 'open-domain',
      '4': 'single-hop',
    };
    for (const [category, values] of Object.entries(result.byCategory)) {
      log(
        `  ${category} ${names[category] ?? ''}: ${args.ks.map((k) => `R@${k} ${values[String(k)]}`).join('  ')}`,
      );
    }
    log(`query latency p50 ${result.latencyMs.p50} ms, p95 ${result.latencyMs.p95} ms`);
    log(`ingest ${result.ingestPerSecond} turns/s`);
    if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    if (db.kind === 'server') await db.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    await db.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
