/**
 * `npm run bench -- planner [--goals N] [--database-url postgres://…]`
 *
 * The overhead Spine adds around model calls for a scripted 3-step goal (recall → two proposed
 * e-mails → answer) against a fake OpenAI-compatible server on loopback that answers at once:
 * per goal from intake to the approval cards, how much of it is spent in the model client (HTTP to
 * the zero-latency server), and the rest (graph, Postgres, tools, cache lookups, usage rows). Then
 * the same goal served entirely from the answer cache, and a single cache-hit call.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { HumanMessage, SystemMessage } from '@langchain/core/messages';
import pino from 'pino';
import { loadConfig } from '../app/config.ts';
import { createSpine } from '../app/spine.ts';
import { createChatModel } from '../graphs/models/model-factory.ts';
import { fakeOpenAiServer } from '../test/fakes/fake-openai-server.ts';
import { RecordingChat } from '../test/fakes/recording-chat.ts';

function option(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}

function percentile(sorted: number[], share: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)] ?? Number.NaN;
}

function summary(label: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const fmt = (value: number) => value.toFixed(2).padStart(8);
  return `${label.padEnd(44)} p50 ${fmt(percentile(sorted, 0.5))} ms   p99 ${fmt(percentile(sorted, 0.99))} ms   (n=${samples.length})`;
}

export default async function plannerBenchmark(args: string[]): Promise<void> {
  const goals = Number(option(args, '--goals') ?? 60);
  const warmup = 5;
  const databaseUrl = option(args, '--database-url');
  const server = fakeOpenAiServer();
  const url = await server.start();
  const dataDir = mkdtempSync(join(tmpdir(), 'spine-bench-planner-'));
  const schema = `bench_planner_${process.pid}`;
  const baseEnv = {
    SPINE_DATA_DIR: dataDir,
    SPINE_OPERATOR_NAME: 'Ada',
    SPINE_TIMEZONE: 'UTC',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl, SPINE_DB_SCHEMA: schema } : {}),
  };
  const config = loadConfig({
    ...baseEnv,
    SPINE_MODEL_LARGE: 'openai:gpt-4o-mini',
    OPENAI_BASE_URL: `${url}/v1`,
    OPENAI_API_KEY: 'sk-bench',
    SPINE_MODEL_MAX_RETRIES: '0',
    SPINE_DAILY_BUDGET_USD: 'none',
  });
  const spine = await createSpine(config, { logger: pino({ level: 'silent' }) });
  const chat = new RecordingChat();
  spine.registerAdapter('console', chat);
  let delivery = 0;

  /** Script the three model steps of one goal. */
  const scriptGoal = (n: number) =>
    server.script(
      { toolCalls: [{ name: 'memory_recall', args: { query: 'Dana' } }], usage: { input: 900, output: 20 } },
      {
        toolCalls: [
          {
            name: 'email__send_email',
            args: { to: 'dana@example.com', subject: `Tuesday ${n}`, body: 'Tuesday works for me.' },
          },
          {
            name: 'email__send_email',
            args: { to: 'sam@example.com', subject: `Call ${n}`, body: 'Moving our call.' },
          },
        ],
        usage: { input: 1_100, output: 120 },
      },
      { text: 'Two e-mails are waiting for your approval.', usage: { input: 1_300, output: 15 } },
    );

  /** One goal from intake to its cards; returns wall time and the time inside model calls. */
  const runGoal = async (text: string): Promise<{ totalMs: number; modelMs: number; cached: number }> => {
    delivery += 1;
    const started = performance.now();
    const result = await spine.intake.handleMessage({
      channel: 'console',
      deliveryId: `bench-${delivery}`,
      userId: 'local',
      text,
      // One thread per goal: a thread's earlier episodes would change the prompt and miss the cache.
      thread: { channel: 'console', conversation: `bench-${delivery}` },
    });
    await spine.runner.idle();
    const totalMs = performance.now() - started;
    if (result.kind !== 'goal') throw new Error(`expected a goal, got ${result.kind}`);
    const usage = await spine.db.pool.query(
      `SELECT COALESCE(sum(latency_ms) FILTER (WHERE NOT cached), 0)::int AS model_ms,
              count(*) FILTER (WHERE cached)::int AS cached, count(*)::int AS calls
       FROM llm_usage WHERE goal_id = $1`,
      [result.goalId],
    );
    const row = usage.rows[0];
    if (row.calls !== 3) throw new Error(`goal #${result.goalId} made ${row.calls} model calls, not 3`);
    return { totalMs, modelMs: Number(row.model_ms), cached: Number(row.cached) };
  };

  const totals: number[] = [];
  const models: number[] = [];
  const overheads: number[] = [];
  const cachedGoals: number[] = [];
  for (let n = 0; n < warmup + goals; n += 1) {
    scriptGoal(n);
    const text = `tell Dana Tuesday works and move my call with Sam (${n})`;
    const fresh = await runGoal(text);
    if (fresh.cached !== 0) throw new Error('a fresh goal hit the cache');
    // The same request again: all three steps come from the cache, no HTTP.
    const repeat = await runGoal(text);
    if (repeat.cached !== 3) throw new Error(`a repeated goal hit the cache ${repeat.cached} times, not 3`);
    if (n < warmup) continue;
    totals.push(fresh.totalMs);
    models.push(fresh.modelMs);
    overheads.push(fresh.totalMs - fresh.modelMs);
    cachedGoals.push(repeat.totalMs);
  }

  // Baseline: the same graph and database with the offline planner (one rule-based e-mail card, no model).
  const offline = await createSpine(loadConfig({ ...baseEnv }), {
    logger: pino({ level: 'silent' }),
    database: { ...spine.db, close: async () => {} },
  });
  offline.registerAdapter('console', chat);
  const offlineGoals: number[] = [];
  for (let n = 0; n < warmup + goals; n += 1) {
    delivery += 1;
    const started = performance.now();
    await offline.intake.handleMessage({
      channel: 'console',
      deliveryId: `bench-offline-${delivery}`,
      userId: 'local',
      text: `email dana@example.com "Tuesday ${n}" Tuesday works for me.`,
      thread: { channel: 'console', conversation: 'local' },
    });
    await offline.runner.idle();
    if (n >= warmup) offlineGoals.push(performance.now() - started);
  }
  await offline.close();

  // A single cache hit through the gateway (lookup, hit count, usage row).
  const gateway = spine.models.gateway!;
  const request = {
    role: 'large' as const,
    purpose: 'bench',
    messages: [new SystemMessage('bench'), new HumanMessage('cache me')],
    operatorId: spine.operator.id,
  };
  await gateway.invoke(request);
  const hits: number[] = [];
  for (let n = 0; n < 200; n += 1) {
    const started = performance.now();
    const answer = await gateway.invoke(request);
    hits.push(performance.now() - started);
    if (!answer.cached) throw new Error('expected a cache hit');
  }

  // One model call with and without Spine's gateway (budget check, cache lookup and store, usage row),
  // both over HTTP to the zero-latency server: the difference is what the gateway adds per call.
  const raw = await createChatModel(config.models.large!, config.models);
  const direct: number[] = [];
  const through: number[] = [];
  for (let n = 0; n < 200 + warmup; n += 1) {
    server.script(
      { text: 'ok', usage: { input: 10, output: 1 } },
      { text: 'ok', usage: { input: 10, output: 1 } },
    );
    const messages = [new SystemMessage('bench'), new HumanMessage(`call ${n}`)];
    let started = performance.now();
    await raw.invoke(messages);
    const directMs = performance.now() - started;
    started = performance.now();
    const answer = await gateway.invoke({ ...request, messages });
    const throughMs = performance.now() - started;
    if (answer.cached) throw new Error('expected a cache miss');
    if (n < warmup) continue;
    direct.push(directMs);
    through.push(throughMs);
  }

  const lines = [
    `Planner benchmark — ${new Date().toISOString()} — Node ${process.version}, ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}`,
    `Database: ${spine.db.kind === 'embedded' ? 'embedded PGlite' : 'Postgres server'}; model: fake OpenAI-compatible server on loopback, zero latency; ${goals} goals (+${warmup} warm-up), 3 model calls each`,
    summary('goal, intake → cards (3 model calls)', totals),
    summary('  of which in the model client (HTTP)', models),
    summary('  Spine overhead (goal − model client)', overheads),
    summary('same goal served from the cache (3 hits)', cachedGoals),
    summary('one cache hit (gateway.invoke)', hits),
    summary('baseline: offline planner, 1 card, no model', offlineGoals),
    summary('one model call, client alone (HTTP)', direct),
    summary('one model call through the gateway (miss)', through),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (databaseUrl) await spine.db.pool.query(`DROP SCHEMA ${schema} CASCADE`);
  await spine.close();
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
