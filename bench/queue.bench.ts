/**
 * `npm run bench -- queue [--jobs N] [--runs R] [--goals G] [--only throughput|latency]`
 *
 * 1. No-op jobs per second through Spine's job layer (BullWorker: group lock + dispatch; the Redis
 *    lease and the Postgres advisory lock) with 1 and 2 worker processes, side by side with bare
 *    BullMQ workers in the same run.
 * 2. End-to-end latency of a simple goal (message in → reply out, offline planner), p50/p99,
 *    in-process (embedded and server Postgres) and in queue mode (one `spine worker` process).
 *
 * Needs the Redis and Postgres of scripts/setup-services.sh. Uses its own queue prefixes and
 * schemas and removes them afterwards.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../app/config.ts';
import { createSpine, type Spine } from '../app/spine.ts';
import type { MessageRef, ThreadRef } from '../core/domain.ts';
import type { ChatSender, OutboundMessage } from '../core/message.ts';
import { openDatabase } from '../db/database.ts';
import { QUEUE_NAME } from '../jobs/queue-names.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/spine_test';
const CONCURRENCY = 4;

function option(args: string[], name: string, fallback: number): number {
  const index = args.indexOf(name);
  return index >= 0 ? Number(args[index + 1]) : fallback;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

async function deletePrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

function startChild(args: string[], env: NodeJS.ProcessEnv, readyText: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env });
    let output = '';
    const timer = setTimeout(() => reject(new Error(`child did not start:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(readyText)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited (${code}):\n${output}`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Jobs per second for `jobs` no-op jobs on `workers` worker processes of `mode`. */
async function throughput(
  mode: 'raw' | 'spine' | 'spine-postgres',
  workers: number,
  jobs: number,
  schema: string,
): Promise<number> {
  const prefix = `{bench${randomUUID().slice(0, 8)}}`;
  const children: ChildProcess[] = [];
  const queue = new Queue(QUEUE_NAME, { connection: { url: REDIS_URL }, prefix });
  try {
    for (let index = 0; index < workers; index += 1) {
      children.push(
        await startChild(
          [
            '--import',
            'tsx',
            'bench/queue-worker.ts',
            mode,
            prefix,
            String(CONCURRENCY),
            REDIS_URL,
            DATABASE_URL,
            schema,
          ],
          process.env,
          'ready',
        ),
      );
    }
    const started = performance.now();
    for (let offset = 0; offset < jobs; offset += 500) {
      await queue.addBulk(
        Array.from({ length: Math.min(500, jobs - offset) }, (_, index) => ({
          name: 'run-goal',
          data: { goalId: offset + index + 1 },
          opts: { jobId: `goal-${offset + index + 1}` },
        })),
      );
    }
    while ((await queue.getCompletedCount()) < jobs) await new Promise((resolve) => setTimeout(resolve, 10));
    return jobs / ((performance.now() - started) / 1000);
  } finally {
    for (const child of children) await stopChild(child);
    await queue.close();
    await deletePrefix(prefix);
  }
}

/** A chat that resolves a waiter on each post. */
class TimedChat implements ChatSender {
  #waiter: (() => void) | undefined;
  #sequence = 0;
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }
  async post(thread: ThreadRef, _message: OutboundMessage): Promise<MessageRef> {
    this.#sequence += 1;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
    return { channel: thread.channel, conversation: thread.conversation, messageId: String(this.#sequence) };
  }
  async update(): Promise<void> {}
}

/** Message in → reply out, `goals` times, one after the other. */
async function latencies(spine: Spine, chat: TimedChat, goals: number): Promise<number[]> {
  const samples: number[] = [];
  for (let index = 0; index < goals + 3; index += 1) {
    const reply = chat.next();
    const started = performance.now();
    await spine.intake.handleMessage({
      channel: 'console',
      deliveryId: randomUUID(),
      userId: 'local',
      text: `remember that bench fact ${index} is true`,
      thread: { channel: 'console', conversation: 'local' },
    });
    await reply;
    // The first few warm the caches and connections.
    if (index >= 3) samples.push(performance.now() - started);
  }
  return samples;
}

async function latencyRun(
  kind: 'in-process (embedded)' | 'in-process (server)' | 'queue (1 worker process)',
  goals: number,
): Promise<number[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'spine-bench-'));
  const schema = `bench_${randomUUID().slice(0, 8)}`;
  const prefix = `{bench${randomUUID().slice(0, 8)}}`;
  const env: Record<string, string> = {
    SPINE_DATA_DIR: dataDir,
    SPINE_OPERATOR_NAME: 'Bench',
    SPINE_TIMEZONE: 'UTC',
    LOG_LEVEL: 'silent',
    ...(kind === 'in-process (embedded)' ? {} : { DATABASE_URL, SPINE_DB_SCHEMA: schema }),
    ...(kind === 'queue (1 worker process)' ? { REDIS_URL, SPINE_QUEUE_PREFIX: prefix } : {}),
  };
  const spine = await createSpine(loadConfig(env), { logger: pino({ level: 'silent' }) });
  const chat = new TimedChat();
  spine.registerAdapter('console', chat);
  let worker: ChildProcess | undefined;
  try {
    if (spine.queueMode) {
      worker = await startChild(
        [join(ROOT, 'bin', 'spine.js'), 'worker'],
        { ...process.env, ...env, LOG_LEVEL: 'info' },
        'worker ready',
      );
    }
    return await latencies(spine, chat, goals);
  } finally {
    if (worker) await stopChild(worker);
    await spine.close();
    if (kind !== 'in-process (embedded)') {
      const db = await openDatabase({ url: DATABASE_URL, dataDir: '' });
      await db.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.close();
    }
    if (kind === 'queue (1 worker process)') await deletePrefix(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export default async function queueBench(args: string[]): Promise<void> {
  const jobs = option(args, '--jobs', 2000);
  const runs = option(args, '--runs', 3);
  const goals = option(args, '--goals', 50);
  const onlyIndex = args.indexOf('--only');
  const only = onlyIndex >= 0 ? args[onlyIndex + 1] : undefined;
  const schema = `bench_${randomUUID().slice(0, 8)}`;
  const db = await openDatabase({ url: DATABASE_URL, dataDir: '', schema });
  await db.close();

  console.log(
    `Queue benchmark: ${jobs} no-op jobs per run, median of ${runs} runs, concurrency ${CONCURRENCY} per worker`,
  );
  console.log(
    'workers | raw BullMQ jobs/s | Spine (Redis lock) jobs/s | ratio | Spine (Postgres lock) jobs/s | ratio',
  );
  for (const workers of only === 'latency' ? [] : [1, 2]) {
    const raw: number[] = [];
    const spine: number[] = [];
    const spinePostgres: number[] = [];
    for (let run = 0; run < runs; run += 1) {
      raw.push(await throughput('raw', workers, jobs, schema));
      spine.push(await throughput('spine', workers, jobs, schema));
      spinePostgres.push(await throughput('spine-postgres', workers, jobs, schema));
    }
    const ratio = (value: number[]) => `${((median(value) / median(raw)) * 100).toFixed(0)}%`.padStart(5);
    console.log(
      `${workers}       | ${median(raw).toFixed(0).padStart(17)} | ${median(spine).toFixed(0).padStart(25)} | ${ratio(spine)} | ${median(spinePostgres).toFixed(0).padStart(28)} | ${ratio(spinePostgres)}`,
    );
  }
  const cleanup = await openDatabase({ url: DATABASE_URL, dataDir: '' });
  await cleanup.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await cleanup.close();

  console.log(`\nSimple goal, message in → reply out (offline planner), ${goals} goals one after another`);
  console.log('mode                      | p50 ms | p99 ms');
  for (const kind of ['in-process (embedded)', 'in-process (server)', 'queue (1 worker process)'] as const) {
    if (goals <= 0 || only === 'throughput') break;
    const samples = await latencyRun(kind, goals);
    console.log(
      `${kind.padEnd(25)} | ${percentile(samples, 50).toFixed(1).padStart(6)} | ${percentile(samples, 99).toFixed(1).padStart(6)}`,
    );
  }
}
