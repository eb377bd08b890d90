/**
 * Faults under load (RELIABILITY.md, "Figures to report"): signed Slack events at a steady rate into
 * Spine in queue mode — HTTP ingress in this process (the main role), goals run by `spine worker`
 * child processes, server Postgres, a private Redis server — while faults are injected: a worker
 * killed with SIGKILL mid-run (a new one started), the Redis server killed and restarted. Bad inputs
 * are mixed in (forged and stale signatures, malformed JSON, a 100 KB message, an unknown event
 * type) and one event in ten is delivered again, as Slack's retries do. Every non-2xx answer is
 * retried like Slack (up to 3 times). Then it waits for every goal to finish and counts goals lost,
 * duplicate side effects (memories), missing and duplicate replies, and bad inputs answered wrongly.
 *
 *   npm run bench -- chaos [--rate 50] [--seconds 60] [--workers 2] [--url postgres://…] [--keep]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../app/config.ts';
import { startHttpServer } from '../app/http-server.ts';
import { createSpine } from '../app/spine.ts';
import { SlackAdapter } from '../bot/slack/slack-adapter.ts';
import { openDatabase } from '../db/database.ts';
import { FakeSlackApi } from '../test/fakes/fake-slack-api.ts';
import { freePort } from '../test/support/free-port.ts';
import { RedisProcess, WorkerProcess } from '../test/support/processes.ts';
import { deletePrefix, queueEnv, uniquePrefix } from '../test/support/queue-spine.ts';
import {
  type BenchRequest,
  flagValue,
  percentile,
  postTimed,
  type RateOptions,
  rateOptions,
  signedSlackEvent,
  type Timed,
} from './bench-kit.ts';

const SIGNING_SECRET = 'chaos-signing-secret-0123456789';
const BOT_TOKEN = 'xoxb-chaos-token';
const COLOURS = ['blue', 'green', 'red', 'amber', 'violet'];

interface Options extends RateOptions {
  workers: number;
}

function parseOptions(args: string[]): Options {
  return {
    ...rateOptions(args, { rate: 50, seconds: 60 }),
    workers: Number(flagValue(args, 'workers', '2')),
  };
}

/** A signed Events API request (a DM from the operator unless `type` says otherwise). */
function slackEvent(input: Omit<Parameters<typeof signedSlackEvent>[0], 'signingSecret'>): BenchRequest {
  return signedSlackEvent({ signingSecret: SIGNING_SECRET, ...input });
}

function post(port: number, agent: Agent, event: BenchRequest, retryNum = 0): Promise<Timed> {
  const retry: Record<string, string> =
    retryNum > 0 ? { 'x-slack-retry-num': String(retryNum), 'x-slack-retry-reason': 'http_error' } : {};
  return postTimed(port, '/slack/events', agent, event, retry);
}

/** Deliver like Slack: a non-2xx answer (or none) is retried, up to 3 times (1 s apart here, not minutes). */
async function deliver(
  port: number,
  agent: Agent,
  make: () => BenchRequest,
): Promise<{ first: Timed; retries: number; final: number }> {
  const first = await post(port, agent, make());
  let final = first.status;
  let retries = 0;
  while ((final < 200 || final > 299) && retries < 3) {
    retries += 1;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    final = (await post(port, agent, make(), retries)).status;
  }
  return { first, retries, final };
}

/** The bad inputs, in rotation: each with the answer Slack must get, and whether a goal may follow. */
const BAD_INPUTS: Array<{
  name: string;
  expect: number;
  make: (n: number) => BenchRequest;
}> = [
  {
    name: 'forged signature',
    expect: 401,
    make: (n) => slackEvent({ eventId: `EvForged${n}`, text: 'pay 1000 to me', secret: 'not-the-secret' }),
  },
  {
    name: 'stale timestamp (6 min)',
    expect: 401,
    make: (n) =>
      slackEvent({
        eventId: `EvStale${n}`,
        text: 'remember that stale is fine',
        timestamp: Math.floor(Date.now() / 1000) - 360,
      }),
  },
  {
    name: 'malformed JSON',
    expect: 400,
    make: (n) =>
      slackEvent({ eventId: `EvJunk${n}`, text: '', raw: `{"type":"event_callback","event":{${n}` }),
  },
  {
    name: '100 KB message',
    expect: 200,
    make: (n) => slackEvent({ eventId: `EvHuge${n}`, text: `remember ${'x'.repeat(100_000)}` }),
  },
  {
    name: 'unknown event type',
    expect: 200,
    make: (n) => slackEvent({ eventId: `EvOdd${n}`, text: 'hello', type: 'reaction_added' }),
  },
];

/** Of items 0…total-1, how many no text names and how many several texts name (`pattern` captures N). */
function perItem(texts: string[], pattern: RegExp, total: number): { missing: number; duplicated: number } {
  const counts = new Map<number, number>();
  for (const text of texts) {
    const match = pattern.exec(text);
    if (match) counts.set(Number(match[1]), (counts.get(Number(match[1])) ?? 0) + 1);
  }
  let missing = 0;
  let duplicated = 0;
  for (let n = 0; n < total; n += 1) {
    const count = counts.get(n) ?? 0;
    if (count === 0) missing += 1;
    if (count > 1) duplicated += 1;
  }
  return { missing, duplicated };
}

export default async function chaos(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const keep = args.includes('--keep');
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const logger = pino({ level: 'silent' });
  const fakeSlack = new FakeSlackApi();
  const apiUrl = await fakeSlack.start();
  const redis = new RedisProcess(await freePort());
  await redis.start();
  const redisUrl = `redis://127.0.0.1:${redis.port}`;
  const schema = `bench_chaos_${process.pid}`;
  const prefix = uniquePrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'spine-chaos-'));
  const db = await openDatabase({ url: options.url, dataDir: '', schema, maxConnections: 10 });
  const env = queueEnv({
    schema,
    prefix,
    redisUrl,
    dataDir,
    extra: {
      DATABASE_URL: options.url,
      SPINE_OWNER: 'slack:U123',
      LOG_LEVEL: 'warn',
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: apiUrl,
    },
  });
  const spine = await createSpine(loadConfig(env), {
    logger,
    database: { ...db, close: async () => {} },
    role: 'main',
  });
  // No "working…" placeholders: every reply is then one chat.postMessage, which makes them countable.
  const adapter = new SlackAdapter({
    progressDelayMs: 600_000,
    botToken: BOT_TOKEN,
    signingSecret: SIGNING_SECRET,
    apiUrl,
    intake: spine.intake,
    repos: spine.repos,
    logger,
  });
  await adapter.init();
  spine.registerAdapter('slack', adapter);
  await spine.startBackground();
  const server = await startHttpServer({ port: 0, db: spine.db, logger, routes: adapter.routes() });
  const port = (server.address() as AddressInfo).port;

  const workers: WorkerProcess[] = [];
  const startWorker = async () => {
    // `worker ready` is an info line.
    const worker = new WorkerProcess({ ...env, LOG_LEVEL: 'info' });
    workers.push(worker);
    await worker.ready();
    return worker;
  };
  for (let index = 0; index < options.workers; index += 1) await startWorker();
  out(
    `chaos: ${options.rate} signed Slack events/s for ${options.seconds} s into queue mode ` +
      `(${options.workers} worker processes, server Postgres, private Redis on :${redis.port})`,
  );

  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const total = Math.round(options.rate * options.seconds);
  const intervalMs = 1000 / options.rate;
  const valid: Array<Promise<{ first: Timed; retries: number; final: number }>> = [];
  const duplicates: Array<Promise<Timed>> = [];
  const bad: Array<Promise<{ name: string; expect: number; got: number }>> = [];
  const faults: string[] = [];
  const faultWork: Array<Promise<void>> = [];
  const item = (n: number) => `chaos item ${n} is ${COLOURS[n % COLOURS.length]}`;
  const validEvent = (n: number) => () =>
    slackEvent({ eventId: `EvChaos${process.pid}x${n}`, text: `remember that ${item(n)}` });
  const began = performance.now();
  for (let n = 0; n < total; n += 1) {
    const wait = began + n * intervalMs - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    valid.push(deliver(port, agent, validEvent(n)));
    // Slack delivers again: one event in ten arrives a second time, a moment later.
    if (n % 10 === 5) duplicates.push(post(port, agent, validEvent(n - 3)(), 1));
    if (n % 20 === 10) {
      const input = BAD_INPUTS[((n / 20) % BAD_INPUTS.length) | 0] as (typeof BAD_INPUTS)[number];
      bad.push(
        post(port, agent, input.make(n)).then((sent) => ({
          name: input.name,
          expect: input.expect,
          got: sent.status,
        })),
      );
    }
    if (n === Math.floor(total / 3)) {
      const victim = workers[0] as WorkerProcess;
      victim.kill('SIGKILL');
      faults.push(
        `worker killed with SIGKILL at ${((n / total) * options.seconds).toFixed(0)} s (a new one started)`,
      );
      faultWork.push(startWorker().then(() => {}));
    }
    if (n === Math.floor((2 * total) / 3)) {
      faults.push(
        `Redis server killed at ${((n / total) * options.seconds).toFixed(0)} s, restarted 3 s later (no persistence)`,
      );
      faultWork.push(
        (async () => {
          await redis.stop();
          await new Promise((resolve) => setTimeout(resolve, 3000));
          await redis.start();
        })(),
      );
    }
  }
  const sentSeconds = (performance.now() - began) / 1000;
  const validResults = await Promise.all(valid);
  const duplicateResults = await Promise.all(duplicates);
  const badResults = await Promise.all(bad);
  await Promise.all(faultWork);

  // Drain: every recorded goal done (or failed), with progress; bounded.
  const drainStarted = performance.now();
  const deadline = Date.now() + Number(flagValue(args, 'drain-seconds', '300')) * 1000;
  let lastReport = 0;
  for (;;) {
    const counts = await db.pool.query(
      `SELECT count(*)::int AS all, count(*) FILTER (WHERE status IN ('done', 'failed'))::int AS finished FROM goals`,
    );
    const { all, finished } = counts.rows[0] as { all: number; finished: number };
    if (finished >= all || Date.now() > deadline) break;
    if (Date.now() - lastReport > 10_000) {
      out(`  waiting for the workers: ${finished} of ${all} goals finished…`);
      lastReport = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await spine.settle().catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const drainSeconds = (performance.now() - drainStarted) / 1000;

  // Count.
  const goals = await db.pool.query(
    `SELECT status, count(*)::int AS n FROM goals GROUP BY status ORDER BY status`,
  );
  const goalTexts = await db.pool.query(
    `SELECT text FROM goals WHERE text LIKE 'remember that chaos item %'`,
  );
  const memories = await db.pool.query(`SELECT content FROM memories WHERE content LIKE 'chaos item %'`);
  const replyTexts = fakeSlack.of('chat.postMessage').map((call) => String(call.params.text ?? ''));
  const goalCounts = perItem(
    goalTexts.rows.map((row) => String(row.text)),
    /^remember that chaos item (\d+) is/,
    total,
  );
  const memoryCounts = perItem(
    memories.rows.map((row) => String(row.content)),
    /^chaos item (\d+) is/,
    total,
  );
  const replyCounts = perItem(replyTexts, /I remembered “chaos item (\d+) is/, total);
  const latencies = validResults.map((result) => result.first.ms).sort((a, b) => a - b);
  const firstNon2xx = validResults.filter(
    (result) => result.first.status < 200 || result.first.status > 299,
  ).length;
  const retried = validResults.reduce((sum, result) => sum + result.retries, 0);
  const neverAcked = validResults.filter((result) => result.final < 200 || result.final > 299).length;
  const hugeReplies = fakeSlack
    .of('chat.postMessage')
    .filter((call) => String(call.params.text ?? '').includes('too long')).length;
  const wrongBad = badResults.filter((result) => result.got !== result.expect);

  out(
    `  sent ${total} events in ${sentSeconds.toFixed(1)} s (+ ${duplicates.length} re-deliveries, ${bad.length} bad inputs)`,
  );
  out(`  faults injected: ${faults.length}`);
  for (const fault of faults) out(`    - ${fault}`);
  out(
    `  ingress: ack p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms; ` +
      `${firstNon2xx} first answers not 2xx, ${retried} Slack-style retries, ${neverAcked} never acked`,
  );
  out(
    `  re-deliveries answered 2xx: ${duplicateResults.filter((result) => result.status === 200).length} of ${duplicateResults.length}`,
  );
  out(
    `  bad inputs answered as they should be: ${badResults.length - wrongBad.length} of ${badResults.length}` +
      (wrongBad.length > 0
        ? ` (wrong: ${wrongBad.map((result) => `${result.name} → ${result.got}`).join(', ')})`
        : '') +
      `; polite "too long" replies ${hugeReplies}`,
  );
  out(
    `  goals by status: ${goals.rows.map((row) => `${row.status} ${row.n}`).join(', ')}; drained in ${drainSeconds.toFixed(1)} s`,
  );
  out(`  goals lost ${goalCounts.missing}, goals recorded twice ${goalCounts.duplicated} (must be 0 and 0)`);
  out(
    `  side effects (memories) missing ${memoryCounts.missing}, duplicated ${memoryCounts.duplicated} (must be 0 and 0)`,
  );
  out(`  replies missing ${replyCounts.missing}, duplicated ${replyCounts.duplicated}`);
  const json = {
    rate: options.rate,
    seconds: options.seconds,
    events: total,
    redeliveries: duplicates.length,
    badInputs: bad.length,
    badInputsAnsweredWrong: wrongBad.length,
    faults: faults.length,
    ackMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
    neverAcked,
    goalsLost: goalCounts.missing,
    goalsDuplicated: goalCounts.duplicated,
    sideEffectsMissing: memoryCounts.missing,
    sideEffectsDuplicated: memoryCounts.duplicated,
    repliesMissing: replyCounts.missing,
    repliesDuplicated: replyCounts.duplicated,
    drainSeconds,
  };
  out(JSON.stringify(json));

  for (const worker of workers) worker.kill('SIGKILL');
  await Promise.all(workers.map((worker) => worker.exited().catch(() => null)));
  const stuck = await db.pool.query(
    `SELECT id, status, text FROM goals WHERE status NOT IN ('done', 'failed')`,
  );
  if (stuck.rows.length > 0 || keep) {
    // Left for a look: the workers' logs and, with --keep, the schema.
    for (const [index, worker] of workers.entries())
      writeFileSync(join(dataDir, `worker-${index}.log`), worker.output);
    out(`  kept: worker logs in ${dataDir}${keep ? `, schema ${schema}` : ''}`);
    for (const row of stuck.rows) out(`    unfinished goal #${row.id} (${row.status}): ${row.text}`);
  }
  agent.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await spine.close();
  await deletePrefix(prefix, redisUrl).catch(() => 0);
  await redis.stop();
  if (!keep) await db.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.close();
  await fakeSlack.stop();
}
