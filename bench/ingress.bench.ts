/**
 * Slack ingress: signed Events API requests at a steady rate against Spine's real ingress path
 * (HTTP server → signature + two-sided timestamp check → Bolt → Intake: one statement for identity,
 * chat-trigger check, inbox dedupe, goal and event, one commit; enqueue) on a server Postgres, side
 * by side with a bare Bolt app that only acks. Goals are enqueued to a counting queue, as in queue
 * mode where workers run in other processes: this measures ingress, not the goal graph.
 *
 * A third series is the floor under Spine's figures: the recording statement alone, sent at the
 * same rate on the same pool, without HTTP (what a durable ack must wait for).
 *
 *   npm run bench -- ingress [--rate 200] [--seconds 10] [--runs 3] [--url postgres://…]
 */
import { Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App } from '@slack/bolt';
import pino from 'pino';
import { loadConfig } from '../app/config.ts';
import { startHttpServer } from '../app/http-server.ts';
import { createSpine } from '../app/spine.ts';
import { SlackAdapter } from '../bot/slack/slack-adapter.ts';
import type { SpineJob } from '../core/jobs.ts';
import { openDatabase, type Queryable } from '../db/database.ts';
import { recordRequestOnce } from '../db/repositories/goal-intake.ts';
import { FakeSlackApi } from '../test/fakes/fake-slack-api.ts';
import {
  type BenchRequest,
  flagValue,
  percentile,
  postTimed,
  type RateOptions,
  rateOptions,
  signedSlackEvent,
} from './bench-kit.ts';

const SIGNING_SECRET = 'bench-signing-secret-0123456789';
const BOT_TOKEN = 'xoxb-bench-token';

interface Options extends RateOptions {
  runs: number;
}

function parseOptions(args: string[]): Options {
  return { ...rateOptions(args, { rate: 200, seconds: 10 }), runs: Number(flagValue(args, 'runs', '3')) };
}

interface RunResult {
  sent: number;
  errors: number;
  p50: number;
  p99: number;
  max: number;
}

let eventCounter = 0;
function signedEvent(): BenchRequest {
  eventCounter += 1;
  return signedSlackEvent({
    signingSecret: SIGNING_SECRET,
    eventId: `EvBench${process.pid}x${eventCounter}`,
    text: `remember that bench event ${eventCounter} arrived`,
  });
}

/**
 * Open loop: start one `send` every 1/rate s for `seconds`, whatever the earlier ones are doing
 * (what Slack does), and time each until it settles. `send` says whether it succeeded, and may time
 * itself (`ms`, e.g. from after the request was signed).
 */
async function openLoop(
  options: Options,
  send: () => Promise<{ ok: boolean; ms?: number }>,
): Promise<RunResult> {
  const latencies: number[] = [];
  let errors = 0;
  const total = Math.round(options.rate * options.seconds);
  const intervalMs = 1000 / options.rate;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let index = 0; index < total; index += 1) {
    const due = start + index * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const began = performance.now();
    pending.push(
      send().then(
        ({ ok, ms }) => {
          latencies.push(ms ?? performance.now() - began);
          if (!ok) errors += 1;
        },
        () => {
          latencies.push(performance.now() - began);
          errors += 1;
        },
      ),
    );
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  return {
    sent: total,
    errors,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? Number.NaN,
  };
}

/** Signed events to `path`, open loop; an answer other than 200 is an error. */
async function drive(port: number, path: string, options: Options): Promise<RunResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  try {
    return await openLoop(options, async () => {
      const { status, ms } = await postTimed(port, path, agent, signedEvent());
      return { ok: status === 200, ms };
    });
  } finally {
    agent.destroy();
  }
}

/** The recording statement alone, open loop at the same rate: the commit Spine's ack waits for. */
function driveStatement(pool: Queryable, operatorUser: string, options: Options): Promise<RunResult> {
  return openLoop(options, async () => {
    eventCounter += 1;
    const text = `remember that bench event ${eventCounter} arrived`;
    const record = await recordRequestOnce(pool, {
      channel: 'slack',
      deliveryId: `StBench${process.pid}x${eventCounter}`,
      userId: operatorUser,
      thread: { channel: 'slack', conversation: 'D1', thread: '1.2' },
      text,
      requestedBy: `slack:${operatorUser}`,
      eventObject: `“${text}”`,
      chatTriggers: { notMatching: [] },
    });
    return { ok: record.kind === 'recorded' };
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export default async function ingress(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const logger = pino({ level: 'silent' });
  const fakeSlack = new FakeSlackApi();
  const apiUrl = await fakeSlack.start();
  const schema = `bench_ingress_${process.pid}`;
  const db = await openDatabase({ url: options.url, dataDir: '', schema, maxConnections: 10 });

  // Spine's ingress.
  const config = loadConfig({
    DATABASE_URL: options.url,
    SPINE_DB_SCHEMA: schema,
    SPINE_OWNER: 'slack:U123',
    SPINE_TIMEZONE: 'UTC',
    SPINE_OPERATOR_NAME: 'Bench',
  });
  let enqueued = 0;
  const jobQueue = {
    enqueue: async (_job: SpineJob) => {
      enqueued += 1;
    },
  };
  // Spine's own intake (commands, playbook chat triggers, goals), with jobs counted, not run.
  const spine = await createSpine(config, {
    logger,
    database: { ...db, close: async () => {} },
    jobQueue,
  });
  const intake = spine.intake;
  // No worker answers here, so keep the "working…" indicator from firing during the measurement.
  const adapter = new SlackAdapter({
    progressDelayMs: 600_000,
    botToken: BOT_TOKEN,
    signingSecret: SIGNING_SECRET,
    apiUrl,
    intake,
    repos: spine.repos,
    logger,
  });
  await adapter.init();
  spine.registerAdapter('slack', adapter);
  const server = await startHttpServer({ port: 0, db: spine.db, logger, routes: adapter.routes() });
  const spinePort = (server.address() as AddressInfo).port;

  // A bare Bolt app on its own HTTP receiver that only acks.
  const bare = new App({
    token: BOT_TOKEN,
    signingSecret: SIGNING_SECRET,
    logger: undefined,
    clientOptions: { slackApiUrl: apiUrl },
    port: 0,
  });
  bare.event('message', async () => {});
  const bareServer = (await bare.start(0)) as { address(): AddressInfo };
  const barePort = bareServer.address().port;

  // Warm both (JIT, connections, Bolt's one auth.test).
  await drive(spinePort, '/slack/events', { ...options, seconds: 1 });
  await drive(barePort, '/slack/events', { ...options, seconds: 1 });

  const spineRuns: RunResult[] = [];
  const boltRuns: RunResult[] = [];
  const statementRuns: RunResult[] = [];
  for (let run = 0; run < options.runs; run += 1) {
    process.stderr.write(`ingress: run ${run + 1} of ${options.runs}…\n`);
    spineRuns.push(await drive(spinePort, '/slack/events', options));
    boltRuns.push(await drive(barePort, '/slack/events', options));
    statementRuns.push(await driveStatement(db.pool, 'U123', options));
  }
  const goals = await db.pool.query(
    "SELECT count(*)::int AS n FROM inbox WHERE delivery_id LIKE 'EvBench%' AND goal_id IS NOT NULL",
  );

  const row = (name: string, runs: RunResult[]) => {
    const p50 = median(runs.map((run) => run.p50));
    const p99 = median(runs.map((run) => run.p99));
    const errors = runs.reduce((sum, run) => sum + run.errors, 0);
    const sent = runs.reduce((sum, run) => sum + run.sent, 0);
    return { name, p50, p99, errors, sent, max: Math.max(...runs.map((run) => run.max)) };
  };
  const spineRow = row('Spine ingress', spineRuns);
  const boltRow = row('bare Bolt (ack only)', boltRuns);
  const statementRow = row('statement alone', statementRuns);
  const fmt = (ms: number) => `${ms.toFixed(2)} ms`;
  process.stdout.write(
    `Slack ingress: ${options.rate} signed events/s for ${options.seconds} s, ${options.runs} runs each (medians of per-run percentiles)\n`,
  );
  for (const r of [spineRow, boltRow, statementRow]) {
    process.stdout.write(
      `  ${r.name.padEnd(22)} p50 ${fmt(r.p50).padStart(10)}  p99 ${fmt(r.p99).padStart(10)}  max ${fmt(r.max).padStart(10)}  errors ${r.errors}/${r.sent}\n`,
    );
  }
  process.stdout.write(
    `  ratio Spine/Bolt       p50 ${(spineRow.p50 / boltRow.p50).toFixed(2)}×  p99 ${(spineRow.p99 / boltRow.p99).toFixed(2)}×\n` +
      `  1.5× of Bolt allows    p50 ${fmt(1.5 * boltRow.p50).padStart(10)}  p99 ${fmt(1.5 * boltRow.p99).padStart(10)}` +
      `  (Bolt + statement alone: p50 ${fmt(boltRow.p50 + statementRow.p50)}, p99 ${fmt(boltRow.p99 + statementRow.p99)})\n` +
      `  goals recorded ${goals.rows[0]?.n} (enqueued ${enqueued}) for ${spineRow.sent + Math.round(options.rate)} Spine events sent (incl. 1 s warm-up)\n`,
  );

  await bare.stop();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await spine.close();
  await db.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.close();
  await fakeSlack.stop();
}
