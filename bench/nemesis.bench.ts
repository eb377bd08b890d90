/**
 * A nemesis for exactly-once actions (issue #21, point 6): seeded, randomized fault schedules over a
 * mixed load of e-mails (a real SMTP server), webhooks (one receiver that honours Idempotency-Key,
 * configured `idempotent: true`, and one that ignores it) and Stripe payment links (the fake Stripe
 * API), in queue mode with `spine worker` child processes, a private Redis server restarted empty,
 * workers killed with SIGKILL (at a time, or the very moment an effect lands at a sink, before the
 * answer leaves) and faults at the sinks (SMTP connection dropped after DATA or answered after the
 * timeout, webhook committed then 500 or no answer, Stripe answer lost after the object was made).
 *
 * One deployment lives through the run — server Postgres, the main role in this process (chat
 * intake, the Stripe webhook route, the due-check), the workers, Redis and the sinks — and each
 * schedule is one episode on it: a few requests made through chat (`email …`, `call crm {…}`) or a
 * signed Stripe event that starts a playbook, each approved in chat with `approve #id` as its card
 * shows, while the schedule's faults fire. Every effect is counted at its sink, which keeps every
 * repeat. Schedule i uses seed S+i: `--seed S+i --schedules 1` replays it.
 *
 * It prints effects requested, landed, duplicated (must be 0), unknown outcomes put to the operator
 * (action `unknown` with a failure row, and with its failure card in chat), lost (a request that
 * never reached succeeded, failed or unknown: must be 0), stuck (an action still `executing`, or a
 * goal unfinished with nothing left to do: must be 0), and the time from Redis coming back to the
 * last approval it had to recover starting to execute. It exits 1 when duplicates, lost or stuck
 * are not 0, and also when an outcome is misreported (`succeeded` with nothing at the sink, `failed`
 * with an effect there) or an `unknown` outcome has no failure row (the operator is never asked);
 * 3 when --max-minutes stopped it before every schedule ran. With a violation (or --keep) the
 * schema and the processes' logs are kept for a look.
 *
 *   npm run bench -- nemesis [--schedules 200] [--seed 1] [--workers 2] [--url postgres://…]
 *     [--episode-seconds 45] [--max-minutes 60] [--recovery-ms 60000] [--keep]
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import Stripe from 'stripe';
import { loadConfig } from '../app/config.ts';
import { startHttpServer } from '../app/http-server.ts';
import { createSpine, type Spine } from '../app/spine.ts';
import { SPINE_KEY_METADATA } from '../connectors/payments/payments-connector.ts';
import { type Database, openDatabase } from '../db/database.ts';
import { FakeStripeApi } from '../test/fakes/fake-stripe-api.ts';
import { FakeWebhookServer } from '../test/fakes/fake-webhook-server.ts';
import { RecordingChat } from '../test/fakes/recording-chat.ts';
import { SmtpSink } from '../test/fakes/smtp-sink.ts';
import { freePort } from '../test/support/free-port.ts';
import { RedisProcess, WorkerProcess } from '../test/support/processes.ts';
import { queueEnv, uniquePrefix } from '../test/support/queue-spine.ts';
import { smtpEmailSection, writeSpineConfig } from '../test/support/sink-config.ts';
import { BENCH_DATABASE_URL, flagValue, percentile } from './bench-kit.ts';
import {
  bump,
  describeSchedule,
  drawSchedule,
  ITEM_KINDS,
  type ItemKind,
  KIND_LABELS,
  observePush,
  type PlannedItem,
  type ProcessFault,
  type Schedule,
  tagOfAction,
} from './nemesis-kit.ts';

const CRM_SECRET = 'nemesis-crm-webhook-secret-0123456789';
const LEDGER_SECRET = 'nemesis-ledger-webhook-secret-0123456789';
const STRIPE_KEY = 'sk_test_nemesis_0123456789';
const STRIPE_WEBHOOK_SECRET = 'whsec_nemesis_0123456789abcdef';
/** Per-attempt timeout of every connector: a late SMTP answer or a hanging webhook outlasts it. */
const TIMEOUT_SECONDS = 2;
/** The action lease: a dead executor's action is taken over within seconds. */
const LEASE_SECONDS = 2;
/** An episode this long prints where its time went. */
const SLOW_EPISODE_MS = 9000;
const FINISHED_ACTION = new Set(['succeeded', 'failed', 'unknown']);
const FINISHED_GOAL = new Set(['done', 'failed', 'cancelled']);
/** Decided by the operator or the guardrails: no effect is owed. */
const DECLINED_ACTION = new Set(['rejected', 'refused', 'cancelled']);

/** A Stripe event starts it; a payment link is money, so each run waits for an approval. */
const LINK_PLAYBOOK = `name: nemesis-links
description: A payment link for every nemesis order.
trigger:
  stripe: { events: [checkout.session.completed] }
steps:
  - id: link
    action:
      connector: payments
      operation: create_payment_link
      params:
        description: "nemesis item {{ trigger.data.object.metadata.item }}"
        amount: 10
        currency: eur
`;

interface Options {
  schedules: number;
  seed: number;
  workers: number;
  url: string;
  episodeMs: number;
  maxMs: number;
  recoveryMs: number;
  keep: boolean;
}

function parseOptions(args: string[]): Options {
  return {
    schedules: Number(flagValue(args, 'schedules', '200')),
    seed: Number(flagValue(args, 'seed', '1')),
    workers: Number(flagValue(args, 'workers', '2')),
    url: flagValue(args, 'url', BENCH_DATABASE_URL),
    episodeMs: Number(flagValue(args, 'episode-seconds', '45')) * 1000,
    maxMs: Number(flagValue(args, 'max-minutes', '60')) * 60_000,
    // The production default: only the recovery that runs when Redis reconnects is fast.
    recoveryMs: Number(flagValue(args, 'recovery-ms', '60000')),
    keep: args.includes('--keep'),
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** `promise`, or `fallback` once `ms` have passed (every wait in this benchmark is bounded). */
function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((resolve) => {
      timer = setTimeout(() => resolve(fallback), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * What to undo at the end, newest first, each step bounded; child processes are also killed
 * synchronously when this process exits, however it exits.
 */
class Teardown {
  readonly #steps: Array<{ name: string; run: () => Promise<unknown> }> = [];
  readonly #children: Array<() => ChildProcess | undefined> = [];
  #running: Promise<void> | undefined;

  /** True once the undoing began: loops stop starting new work. */
  get started(): boolean {
    return this.#running !== undefined;
  }

  constructor() {
    process.once('exit', () => this.killChildren());
  }

  /** SIGKILL every child process still running, synchronously (nothing to await, nothing to lose). */
  killChildren(): void {
    for (const child of this.#children) {
      const process = child();
      if (process && process.exitCode === null && process.signalCode === null) process.kill('SIGKILL');
    }
  }

  add(name: string, run: () => Promise<unknown>): void {
    this.#steps.push({ name, run });
  }

  child(current: () => ChildProcess | undefined): void {
    this.#children.push(current);
  }

  /** Undo every step, newest first; a second call (a signal during the normal end) waits for the first. */
  run(out: (line: string) => void): Promise<void> {
    this.#running ??= this.#undo(out);
    return this.#running;
  }

  async #undo(out: (line: string) => void): Promise<void> {
    for (const step of this.#steps.reverse()) {
      const failed = await within(
        step.run().then(
          () => null,
          (error: unknown) => String(error),
        ),
        20_000,
        'timed out after 20 s',
      );
      if (failed) out(`  teardown: ${step.name}: ${failed}`);
    }
  }
}

/** The sinks, each keeping every repeat, and a count of effects as they land (for kills on an effect). */
class Sinks {
  readonly smtp = new SmtpSink();
  readonly crm = new FakeWebhookServer(CRM_SECRET, { honoursIdempotencyKey: false });
  readonly ledger = new FakeWebhookServer(LEDGER_SECRET, { honoursIdempotencyKey: true });
  readonly stripe = new FakeStripeApi(STRIPE_KEY);
  crmUrl = '';
  ledgerUrl = '';
  stripeUrl = '';
  /** Effects landed so far, at every sink (an SMTP message, a webhook commit, a Stripe object). */
  effects = 0;
  readonly #listeners = new Set<() => void>();

  async start(teardown: Teardown): Promise<void> {
    await this.smtp.start();
    teardown.add('SMTP sink', () => this.smtp.close());
    this.crmUrl = await this.crm.start();
    teardown.add('crm receiver', () => this.crm.stop());
    this.ledgerUrl = await this.ledger.start();
    teardown.add('ledger receiver', () => this.ledger.stop());
    this.stripeUrl = await this.stripe.start();
    teardown.add('Stripe API', () => this.stripe.stop());
    // Synchronously inside the sink, after it committed and before it answers.
    const landed = () => {
      this.effects += 1;
      for (const listener of this.#listeners) listener();
    };
    observePush(this.smtp.accepted, landed);
    observePush(this.crm.committed, landed);
    observePush(this.ledger.committed, landed);
    observePush(this.stripe.createdLog, landed);
  }

  onEffect(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Faults left over when an episode ends (their request never came) are not carried into the next. */
  clearFaults(): void {
    this.smtp.script.splice(0);
    this.crm.script.splice(0);
    this.ledger.script.splice(0);
    this.stripe.faults.splice(0);
  }

  /** Effects per item tag, per kind: every message, commit and payment link, nothing deduplicated. */
  effectsByTag(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const message of this.smtp.accepted) {
      const tag = /^([a-z0-9]+)@nemesis\.example\.com$/.exec(message.to[0] ?? '')?.[1];
      if (tag) bump(counts, tag);
    }
    for (const effect of [...this.crm.committed, ...this.ledger.committed]) {
      const tag = (JSON.parse(effect.body) as { nemesis?: unknown }).nemesis;
      if (typeof tag === 'string') bump(counts, tag);
    }
    for (const link of this.stripe.paymentLinks.values()) {
      const lines = (link.line_items as Array<{ price: string }> | undefined) ?? [];
      const price = this.stripe.prices.get(lines[0]?.price ?? '');
      const product = this.stripe.products.get(String(price?.product ?? ''));
      const tag = /^nemesis item (\S+)$/.exec(String(product?.name ?? ''))?.[1];
      if (tag) bump(counts, tag);
    }
    return counts;
  }

  /** Stripe objects (any type) created more than once under one Spine step key. */
  stripeRepeats(): string[] {
    const counts = new Map<string, number>();
    for (const entry of this.stripe.createdLog) {
      const key = entry.metadata[SPINE_KEY_METADATA];
      if (typeof key === 'string') bump(counts, `${entry.type} ${key}`);
    }
    return [...counts].filter(([, count]) => count > 1).map(([key, count]) => `${key} ×${count}`);
  }
}

/** The worker processes, one per slot; a slot killed by the nemesis is refilled after a pause. */
class Workers {
  readonly slots: WorkerProcess[] = [];
  readonly everyOne: WorkerProcess[] = [];
  readonly #killed = new Set<WorkerProcess>();
  /** Exits nobody asked for (a crash): each is reported and the slot refilled. */
  readonly crashes: string[] = [];
  #closing = false;

  constructor(
    private readonly env: Record<string, string>,
    private readonly teardown: Teardown,
  ) {}

  /** Start a worker in `slot`; resolves once it is ready (or fails to be). */
  async start(slot: number): Promise<void> {
    // A restart the nemesis planned may come due while the run is being torn down.
    if (this.#closing) return;
    const worker = new WorkerProcess(this.env);
    this.slots[slot] = worker;
    this.everyOne.push(worker);
    this.teardown.child(() => worker.child);
    worker.child.once('exit', (code, signal) => {
      if (this.#killed.has(worker) || this.#closing) return;
      this.crashes.push(`worker pid ${worker.child.pid} exited by itself (code ${code}, signal ${signal})`);
      if (this.crashes.length <= 20) setTimeout(() => void this.start(slot).catch(() => {}), 500).unref();
    });
    await worker.ready().catch((error: unknown) => {
      if (!this.#killed.has(worker) && !this.#closing) throw error;
    });
  }

  /** SIGKILL the worker in `slot` (synchronous: the signal is sent before this returns). */
  kill(slot: number): void {
    const worker = this.slots[slot];
    if (!worker) return;
    this.#killed.add(worker);
    worker.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    this.#closing = true;
    for (const worker of this.everyOne) worker.kill('SIGKILL');
    await Promise.all(this.everyOne.map((worker) => worker.exited(10_000).catch(() => null)));
  }
}

/** One row per action of an item, as the database has it. */
interface ActionRow {
  id: number;
  goalId: number;
  connector: string;
  status: string;
  goalStatus: string;
  approvalId: number | null;
  approvalStatus: string | null;
  firstClaimedAt: Date | null;
  createdAt: Date;
  decidedAt: Date | null;
  executedAt: Date | null;
  goalUpdatedAt: Date;
  tag: string;
}

async function itemActions(db: Database, afterId = 0): Promise<ActionRow[]> {
  const result = await db.pool.query(
    `SELECT a.id, a.goal_id, a.connector, a.status, a.params, a.first_claimed_at, a.executed_at, a.created_at, ap.decided_at,
            g.status AS goal_status, g.updated_at AS goal_updated_at, ap.id AS approval_id, ap.status AS approval_status
     FROM actions a JOIN goals g ON g.id = a.goal_id LEFT JOIN approvals ap ON ap.action_id = a.id
     WHERE a.id > $1 AND a.connector IN ('email', 'crm', 'ledger', 'payments') ORDER BY a.id`,
    [afterId],
  );
  const rows: ActionRow[] = [];
  for (const row of result.rows as Array<Record<string, unknown>>) {
    const tag = tagOfAction(String(row.connector), row.params as Record<string, unknown>);
    if (!tag) continue;
    rows.push({
      id: Number(row.id),
      goalId: Number(row.goal_id),
      connector: String(row.connector),
      status: String(row.status),
      goalStatus: String(row.goal_status),
      approvalId: row.approval_id === null ? null : Number(row.approval_id),
      approvalStatus: row.approval_status === null ? null : String(row.approval_status),
      firstClaimedAt: row.first_claimed_at as Date | null,
      createdAt: row.created_at as Date,
      decidedAt: row.decided_at as Date | null,
      executedAt: row.executed_at as Date | null,
      goalUpdatedAt: row.goal_updated_at as Date,
      tag,
    });
  }
  return rows;
}

/** The Redis outage of the running episode, as the approver needs to know it. */
interface Outage {
  plannedAtMs: number;
  downAt?: number;
  backAt?: number;
}

/** The operator at the console: asks for the items and approves each card as it shows, as the item's schedule says. */
class ChatOperator {
  /** Items of every episode so far, by tag, with their episode's start and outage. */
  readonly items = new Map<string, { item: PlannedItem; startedAt: number; outage: Outage | undefined }>();
  readonly cardsSeen = new Map<number, number>();
  readonly #approved = new Set<number>();
  readonly #sent: Array<Promise<unknown>> = [];
  #scanned = 0;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  /** Failures to approve (an exception from the intake), shown at the end. */
  readonly problems: string[] = [];

  constructor(
    private readonly spine: Spine,
    private readonly chat: RecordingChat,
  ) {}

  start(): void {
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      void this.#tick()
        .catch((error: unknown) => this.problems.push(`approver: ${String(error)}`))
        .finally(() => {
          this.#busy = false;
        });
    }, 50);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await within(Promise.allSettled(this.#sent), 30_000, []);
  }

  /** Say `text` in the console as the operator (tracked; never awaited by the load). */
  say(text: string): Promise<unknown> {
    const said = this.spine.intake
      .handleMessage({
        channel: 'console',
        deliveryId: randomUUID(),
        userId: 'local',
        text,
        thread: { channel: 'console', conversation: 'local' },
      })
      .catch((error: unknown) => this.problems.push(`"${text.slice(0, 40)}": ${String(error)}`));
    this.#sent.push(said);
    return said;
  }

  async #tick(): Promise<void> {
    const posts = this.chat.posts;
    for (; this.#scanned < posts.length; this.#scanned += 1) {
      const match = /^Approval #(\d+) needed/.exec(posts[this.#scanned]?.message.text ?? '');
      if (match) this.cardsSeen.set(Number(match[1]), Date.now());
    }
    const waiting = [...this.cardsSeen.keys()].filter((id) => !this.#approved.has(id));
    if (waiting.length === 0) return;
    const result = await this.spine.db.pool.query(
      `SELECT ap.id, ap.status, a.connector, a.params FROM approvals ap JOIN actions a ON a.id = ap.action_id
       WHERE ap.id = ANY($1::bigint[])`,
      [waiting],
    );
    const now = Date.now();
    for (const row of result.rows as Array<Record<string, unknown>>) {
      const id = Number(row.id);
      if (row.status !== 'pending') {
        this.#approved.add(id);
        continue;
      }
      const tag = tagOfAction(String(row.connector), row.params as Record<string, unknown>);
      const planned = tag ? this.items.get(tag) : undefined;
      const seenAt = this.cardsSeen.get(id) ?? now;
      if (!this.#due(planned, seenAt, now)) continue;
      this.#approved.add(id);
      for (let click = 0; click < (planned?.item.clicks ?? 1); click += 1) void this.say(`approve #${id}`);
    }
  }

  /** Approve now? After the planned delay; or, held for the outage, once Redis is down. */
  #due(
    planned: { item: PlannedItem; startedAt: number; outage: Outage | undefined } | undefined,
    seenAt: number,
    now: number,
  ): boolean {
    if (!planned) return true;
    const { item, outage, startedAt } = planned;
    if (item.approveInOutage && outage && outage.backAt === undefined) {
      // Held until Redis is down (bounded: the outage was planned within seconds of the start).
      if (outage.downAt !== undefined) return now >= outage.downAt + Math.min(item.approveAfterMs, 200);
      return now > startedAt + outage.plannedAtMs + 10_000;
    }
    return now >= seenAt + item.approveAfterMs;
  }
}

/** What one episode came to. */
interface EpisodeResult {
  schedule: Schedule;
  ms: number;
  settled: boolean;
  faultsFired: string[];
  /** Redis back → the last recovered approval claimed, when the schedule restarted Redis with approvals waiting. */
  recoveryMs?: number;
  recovered: number;
  unsettled: string[];
  timeline: string[];
}

/** Deliver a signed Stripe event like Stripe: retried on a non-2xx answer (or none), up to 4 tries. */
async function deliverStripeEvent(port: number, tag: string): Promise<number> {
  const body = JSON.stringify({
    id: `evt_nemesis_${process.pid}_${tag}`,
    object: 'event',
    type: 'checkout.session.completed',
    created: Math.floor(Date.now() / 1000),
    data: { object: { id: `cs_${tag}`, object: 'checkout.session', metadata: { item: tag } } },
  });
  let status = 0;
  for (let attempt = 0; attempt < 4 && (status < 200 || status > 299); attempt += 1) {
    if (attempt > 0) await sleep(1000);
    status = await fetch(`http://127.0.0.1:${port}/stripe/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': Stripe.webhooks.generateTestHeaderString({
          payload: body,
          secret: STRIPE_WEBHOOK_SECRET,
        }),
      },
      body,
      signal: AbortSignal.timeout(5000),
    }).then(
      (response) => response.status,
      () => 0,
    );
  }
  return status;
}

function requestText(item: PlannedItem): string | null {
  switch (item.kind) {
    case 'email':
      return `email ${item.tag}@nemesis.example.com "Nemesis ${item.tag}" Nemesis e-mail ${item.tag}.`;
    case 'crm':
    case 'ledger':
      return `call ${item.kind} {"nemesis":"${item.tag}"}`;
    case 'stripe':
      return null;
  }
}

export default async function nemesis(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const teardown = new Teardown();
  const onSignal = (signal: NodeJS.Signals) => {
    out(`nemesis: ${signal}, cleaning up`);
    // The children first and at once: a SIGKILL may follow the signal before the rest is undone.
    teardown.killChildren();
    void teardown.run(out).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let exitCode = 1;
  try {
    exitCode = await run(options, teardown, out);
  } catch (error) {
    // After a signal the teardown pulls the deployment away under the episode: that error is expected.
    if (teardown.started) out('nemesis: stopped by a signal');
    else out(`nemesis: aborted: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    await teardown.run(out);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  process.exitCode = exitCode;
  // Whatever handle a library leaves open, the benchmark ends with its verdict.
  setTimeout(() => process.exit(exitCode), 5000).unref();
}

/** Everything one run starts, long-lived across its episodes. */
interface Deployment {
  dataDir: string;
  schema: string;
  env: Record<string, string>;
  sinks: Sinks;
  redis: RedisProcess;
  spine: Spine;
  chat: RecordingChat;
  operator: ChatOperator;
  workers: Workers;
  /** The main role's HTTP port (Stripe's webhook route). */
  port: number;
  /** Keep the data directory and the schema when the run ends (set on a violation). */
  keep: boolean;
}

/** spine.config.yaml: e-mail over SMTP to the sink, the two webhooks, short timeouts and leases. */
function nemesisConfig(sinks: Sinks): string {
  return writeSpineConfig(
    smtpEmailSection(sinks.smtp),
    [
      'webhooks:',
      '  crm:',
      `    url: ${sinks.crmUrl}/crm`,
      `    secret: $${'{'}NEMESIS_CRM_SECRET}`,
      '    risk: write',
      '  ledger:',
      `    url: ${sinks.ledgerUrl}/ledger`,
      `    secret: $${'{'}NEMESIS_LEDGER_SECRET}`,
      '    risk: write',
      '    idempotent: true',
      'resilience:',
      `  timeoutSeconds: ${TIMEOUT_SECONDS}`,
      `  leaseSeconds: ${LEASE_SECONDS}`,
      // Faults come often here: an open circuit would fail calls the faults are meant to test.
      '  breakerThreshold: 100',
      '  halfOpenAfterSeconds: 1',
    ].join('\n'),
  );
}

/** Start the sinks, Redis, the main role (in this process) and the workers; each registered for teardown. */
async function startDeployment(options: Options, teardown: Teardown): Promise<Deployment> {
  const dataDir = mkdtempSync(join(tmpdir(), 'spine-nemesis-'));
  const deployment = { dataDir, keep: options.keep } as Deployment;
  teardown.add('data directory', async () => {
    if (!deployment.keep) rmSync(dataDir, { recursive: true, force: true });
  });
  const sinks = new Sinks();
  await sinks.start(teardown);
  const spineConfig = nemesisConfig(sinks);
  teardown.add('config file', async () => rmSync(spineConfig, { force: true }));

  const redis = new RedisProcess(await freePort());
  teardown.child(() => redis.child);
  await redis.start();
  teardown.add('Redis server', async () => {
    // Killed already (a signal kills the children first): its exit has come and gone.
    const child = redis.child;
    if (child && child.exitCode === null && child.signalCode === null) await redis.stop();
  });

  const schema = `bench_nemesis_${process.pid}`;
  const db = await openDatabase({ url: options.url, dataDir: '', schema, maxConnections: 10 });
  teardown.add('database', async () => {
    if (!deployment.keep) await db.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  });
  const env = queueEnv({
    schema,
    prefix: uniquePrefix(),
    redisUrl: `redis://127.0.0.1:${redis.port}`,
    dataDir,
    extra: {
      DATABASE_URL: options.url,
      // `worker ready` is an info line.
      LOG_LEVEL: 'info',
      SPINE_CONFIG: spineConfig,
      NEMESIS_CRM_SECRET: CRM_SECRET,
      NEMESIS_LEDGER_SECRET: LEDGER_SECRET,
      STRIPE_SECRET_KEY: STRIPE_KEY,
      STRIPE_API_URL: sinks.stripeUrl,
      STRIPE_WEBHOOK_SECRET,
      SPINE_RECOVERY_INTERVAL_MS: String(options.recoveryMs),
      SPINE_DIGEST_CHECK_MS: '3600000',
      SPINE_CHAT_POLL_MS: '100',
    },
  });
  const logger = pino({ level: 'info' }, pino.destination({ dest: join(dataDir, 'main.log'), sync: false }));
  const spine = await createSpine(loadConfig(env), {
    logger,
    database: { ...db, close: async () => {} },
    role: 'main',
  });
  teardown.add('main process', () => spine.close());
  const chat = new RecordingChat();
  spine.registerAdapter('console', chat);
  await spine.startBackground();
  const server: Server = await startHttpServer({
    port: 0,
    db: spine.db,
    logger,
    routes: spine.inbound.routes,
  });
  teardown.add('HTTP server', async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const operator = new ChatOperator(spine, chat);
  operator.start();
  teardown.add('operator', () => operator.stop());
  await operator.say(`playbook add ${LINK_PLAYBOOK}`);
  await operator.say('playbook enable nemesis-links');

  const workers = new Workers(env, teardown);
  teardown.add('workers', () => workers.stop());
  await Promise.all(Array.from({ length: options.workers }, (_, slot) => workers.start(slot)));
  return Object.assign(deployment, {
    schema,
    env,
    sinks,
    redis,
    spine,
    chat,
    operator,
    workers,
    port: (server.address() as AddressInfo).port,
  });
}

async function run(options: Options, teardown: Teardown, out: (line: string) => void): Promise<number> {
  const runStarted = Date.now();
  const deployment = await startDeployment(options, teardown);
  const { spine, workers, operator } = deployment;
  out(
    `nemesis: ${options.schedules} schedules, seeds ${options.seed}…${options.seed + options.schedules - 1}; ` +
      `queue mode with ${options.workers} worker processes, server Postgres, private Redis on :${deployment.redis.port}; ` +
      `action lease ${LEASE_SECONDS} s, connector timeout ${TIMEOUT_SECONDS} s, queue lock ${deployment.env.SPINE_QUEUE_LOCK_MS} ms, ` +
      `periodic recovery every ${options.recoveryMs} ms`,
  );

  const results: EpisodeResult[] = [];
  const pending = new Set<Promise<unknown>>();
  const track = (promise: Promise<unknown>) => {
    const tracked = promise.catch((error: unknown) => out(`  background task failed: ${String(error)}`));
    pending.add(tracked);
    void tracked.finally(() => pending.delete(tracked));
  };
  let stoppedEarly = false;
  for (let index = 0; index < options.schedules; index += 1) {
    if (teardown.started) throw new Error('stopped by a signal');
    if (Date.now() - runStarted > options.maxMs) {
      stoppedEarly = true;
      out(`  stopped after ${index} schedules: the run reached --max-minutes`);
      break;
    }
    if (workers.crashes.length > 20) throw new Error(`workers keep crashing:\n${workers.crashes.join('\n')}`);
    const schedule = drawSchedule(options.seed + index, {
      workers: options.workers,
      timeoutMs: TIMEOUT_SECONDS * 1000,
      minItems: 2,
      maxItems: 5,
    });
    const result = await runEpisode({ schedule, options, deployment, track });
    results.push(result);
    out(
      `  #${String(index + 1).padStart(3)} seed ${schedule.seed}: ${(result.ms / 1000).toFixed(1)} s` +
        `${result.settled ? '' : ' NOT SETTLED'}${result.recoveryMs === undefined ? '' : `, recovered ${result.recovered} in ${result.recoveryMs} ms`}` +
        ` — ${describeSchedule(schedule)}${result.faultsFired.length > 0 ? ` fired {${result.faultsFired.join(', ')}}` : ''}`,
    );
    for (const line of result.unsettled) out(`      unsettled: ${line}`);
    for (const line of result.timeline) out(`      ${line}`);
  }

  // Drain: every worker back, then everything asked for reaches an outcome, or the deadline passes.
  await within(Promise.allSettled([...pending]), 60_000, []);
  for (let slot = 0; slot < options.workers; slot += 1) {
    const worker = workers.slots[slot];
    if (!worker || worker.exitCode !== undefined) await workers.start(slot).catch(() => {});
  }
  const planned = [...operator.items.values()].map((entry) => entry.item);
  const drainDeadline = Date.now() + 60_000;
  for (;;) {
    const rows = await itemActions(spine.db);
    const done = rows.filter((row) => FINISHED_ACTION.has(row.status) && FINISHED_GOAL.has(row.goalStatus));
    if (new Set(done.map((row) => row.tag)).size >= planned.length || Date.now() > drainDeadline) break;
    await sleep(250);
  }
  await within(spine.settle(), 15_000, undefined);
  await operator.stop();

  const counted = await tally(deployment, planned);
  printReport(out, { options, results, counted, deployment, wallSeconds: (Date.now() - runStarted) / 1000 });
  const failed = counted.violations > 0;
  if (failed || options.keep) {
    deployment.keep = true;
    for (const [index, worker] of workers.everyOne.entries())
      writeFileSync(join(deployment.dataDir, `worker-${index}-pid${worker.child.pid}.log`), worker.output);
    out(`  kept: logs in ${deployment.dataDir}, schema ${deployment.schema}`);
  }
  if (failed) return 1;
  return stoppedEarly ? 3 : 0;
}

/** Per kind of effect: what was asked, what landed at the sink, and what Spine recorded. */
interface KindFigures {
  requested: number;
  landed: number;
  /** Items whose effect landed more than once (must be 0). */
  duplicated: number;
  succeeded: number;
  failed: number;
  unknown: number;
  /** Unknown outcomes with a failure row (the failure desk has them). */
  recorded: number;
  /** Unknown outcomes whose failure card (It happened / Do it again) reached the chat. */
  carded: number;
  declined: number;
  /** Asked for, yet no outcome (must be 0). */
  lost: number;
  /** Still executing, or the goal unfinished after its outcome (must be 0). */
  stuck: number;
  /** `succeeded` with no effect, or `failed` (nothing sent) with one (must be 0). */
  misreported: number;
}

const FIGURE_COLUMNS: Array<keyof KindFigures> = [
  'requested',
  'landed',
  'duplicated',
  'succeeded',
  'failed',
  'unknown',
  'recorded',
  'carded',
  'lost',
  'stuck',
  'misreported',
];

function blankFigures(): KindFigures {
  return {
    requested: 0,
    landed: 0,
    duplicated: 0,
    succeeded: 0,
    failed: 0,
    unknown: 0,
    recorded: 0,
    carded: 0,
    declined: 0,
    lost: 0,
    stuck: 0,
    misreported: 0,
  };
}

interface Tally {
  figures: Record<ItemKind, KindFigures>;
  total: KindFigures;
  duplicates: number;
  stripeRepeats: string[];
  /** Goals that will never finish on their own (items stuck are among them). */
  stuck: number;
  executing: number;
  openGoals: number;
  /** Unknown outcomes without a failure row: the operator is never asked (must be 0). */
  unsurfaced: number;
  violations: number;
  problems: string[];
}

/** Count, per item, the effects at its sink next to the outcome Spine recorded. */
async function tally(deployment: Deployment, planned: PlannedItem[]): Promise<Tally> {
  const { spine, sinks, chat, operator } = deployment;
  const rows = await itemActions(spine.db);
  const actionsByTag = new Map<string, ActionRow[]>();
  for (const row of rows) actionsByTag.set(row.tag, [...(actionsByTag.get(row.tag) ?? []), row]);
  const effects = sinks.effectsByTag();
  const failures = await spine.db.pool.query(
    `SELECT id, action_id FROM failures WHERE action_id IS NOT NULL`,
  );
  const failureByAction = new Map<number, number>();
  for (const row of failures.rows as Array<{ id: string; action_id: string }>)
    failureByAction.set(Number(row.action_id), Number(row.id));
  const carded = new Set<number>();
  for (const post of chat.posts)
    for (const block of post.message.blocks ?? [])
      if (block.type === 'buttons')
        for (const button of block.buttons) {
          const match = /^failure:happened:(\d+)$/.exec(button.action);
          if (match) carded.add(Number(match[1]));
        }

  const figures = Object.fromEntries(ITEM_KINDS.map((kind) => [kind, blankFigures()])) as Record<
    ItemKind,
    KindFigures
  >;
  const problems: string[] = [];
  const seedOf = (tag: string) => /^s(\d+)k/.exec(tag)?.[1] ?? '?';
  let unsurfaced = 0;
  for (const item of planned) {
    const figure = figures[item.kind];
    const count = effects.get(item.tag) ?? 0;
    const actions = actionsByTag.get(item.tag) ?? [];
    const action = actions.at(-1);
    const status = action?.status;
    const where = `${item.tag} (${item.kind}, seed ${seedOf(item.tag)})`;
    figure.requested += 1;
    if (count > 0) figure.landed += 1;
    if (count > 1) {
      figure.duplicated += 1;
      problems.push(`duplicate: ${where} landed ${count} times; action #${action?.id} ${status}`);
    }
    if (actions.length > 1)
      problems.push(
        `note: ${where} has ${actions.length} actions (${actions.map((a) => `#${a.id} ${a.status}`).join(', ')})`,
      );
    if (status === 'succeeded') figure.succeeded += 1;
    if (status === 'failed') figure.failed += 1;
    if (status && DECLINED_ACTION.has(status)) figure.declined += 1;
    if (status === 'unknown' && action) {
      figure.unknown += 1;
      const failureId = failureByAction.get(action.id);
      if (failureId === undefined) {
        unsurfaced += 1;
        problems.push(
          `unknown without a failure row (the operator is never asked): ${where} action #${action.id}, goal #${action.goalId} ${action.goalStatus}`,
        );
      } else {
        figure.recorded += 1;
        if (carded.has(failureId)) figure.carded += 1;
        else
          problems.push(
            `unknown with failure #${failureId} but no failure card in chat: ${where} action #${action.id}`,
          );
      }
    }
    if (
      status === 'executing' ||
      (action && FINISHED_ACTION.has(action.status) && !FINISHED_GOAL.has(action.goalStatus))
    ) {
      figure.stuck += 1;
      problems.push(
        `stuck: ${where} action #${action?.id} ${status}, goal #${action?.goalId} ${action?.goalStatus}`,
      );
    } else if (!status || !(FINISHED_ACTION.has(status) || DECLINED_ACTION.has(status))) {
      figure.lost += 1;
      const card =
        action?.approvalId != null && operator.cardsSeen.has(action.approvalId)
          ? 'card shown'
          : 'no card seen';
      problems.push(
        `lost: ${where} ${action ? `action #${action.id} ${status}, approval #${action.approvalId} ${action.approvalStatus} (${card}), goal #${action.goalId} ${action.goalStatus}` : 'no action recorded'}`,
      );
    }
    if ((status === 'succeeded' && count === 0) || (status === 'failed' && count > 0)) {
      figure.misreported += 1;
      problems.push(`misreported: ${where} is ${status} with ${count} effects at the sink`);
    }
  }

  // Stuck: goals that will never finish on their own — open with no approval left to decide, or
  // holding an action still `executing`.
  const openGoals = await spine.db.pool.query(
    `SELECT g.id, g.status, g.text FROM goals g
     WHERE g.status NOT IN ('done', 'failed', 'cancelled')
       AND NOT EXISTS (SELECT 1 FROM approvals ap WHERE ap.goal_id = g.id AND ap.status = 'pending')`,
  );
  const executing = await spine.db.pool.query(`SELECT id, goal_id FROM actions WHERE status = 'executing'`);
  for (const goal of openGoals.rows as Array<{ id: string; status: string; text: string }>)
    problems.push(`goal #${goal.id} ${goal.status} with nothing to do: ${goal.text.slice(0, 60)}`);
  const stuckGoals = new Set<number>([
    ...(openGoals.rows as Array<{ id: string }>).map((row) => Number(row.id)),
    ...(executing.rows as Array<{ goal_id: string }>).map((row) => Number(row.goal_id)),
  ]);
  const stripeRepeats = sinks.stripeRepeats();
  for (const repeat of stripeRepeats) problems.push(`Stripe object created twice under one key: ${repeat}`);

  const total = blankFigures();
  for (const kind of ITEM_KINDS)
    for (const key of Object.keys(total) as Array<keyof KindFigures>) total[key] += figures[kind][key];
  const duplicates = total.duplicated + stripeRepeats.length;
  const stuck = Math.max(stuckGoals.size, total.stuck);
  return {
    figures,
    total,
    duplicates,
    stripeRepeats,
    stuck,
    executing: executing.rows.length,
    openGoals: openGoals.rows.length,
    unsurfaced,
    violations: duplicates + total.lost + stuck + total.misreported + unsurfaced,
    problems,
  };
}

/** The figures: a table per kind of effect, the must-be-zero counts, and recovery after Redis restarts. */
function printReport(
  out: (line: string) => void,
  input: {
    options: Options;
    results: EpisodeResult[];
    counted: Tally;
    deployment: Deployment;
    wallSeconds: number;
  },
): void {
  const { options, results, counted, deployment, wallSeconds } = input;
  const { figures, total } = counted;
  const recoveries = results
    .map((result) => result.recoveryMs)
    .filter((ms): ms is number => ms !== undefined)
    .sort((a, b) => a - b);
  const episodeSeconds = results.map((result) => result.ms / 1000).sort((a, b) => a - b);
  const fired = new Map<string, number>();
  for (const result of results)
    for (const fault of result.faultsFired) bump(fired, fault.replace(/ .*$/, ''));
  const sinkFaults = new Map<string, number>();
  for (const result of results)
    for (const plan of result.schedule.sinkFaults)
      bump(
        sinkFaults,
        `${plan.sink}:${plan.sink === 'smtp' || plan.sink === 'stripe' ? plan.fault.kind : plan.behaviour.kind}`,
      );
  const last = options.seed + results.length - 1;

  out('');
  out(
    `nemesis: ${results.length} schedules (seeds ${options.seed}…${last}) in ${(wallSeconds / 60).toFixed(1)} min; ` +
      `episode median ${percentile(episodeSeconds, 50).toFixed(1)} s, p95 ${percentile(episodeSeconds, 95).toFixed(1)} s, ` +
      `max ${percentile(episodeSeconds, 100).toFixed(1)} s; ${results.filter((result) => !result.settled).length} ` +
      `episodes did not settle within ${options.episodeMs / 1000} s`,
  );
  out(
    `  process faults fired: ${[...fired].map(([name, count]) => `${name} ${count}`).join(', ') || 'none'}; ` +
      `worker processes started ${deployment.workers.everyOne.length}; worker crashes nobody caused ${deployment.workers.crashes.length}`,
  );
  out(`  sink faults scripted: ${[...sinkFaults].map(([name, count]) => `${name} ${count}`).join(', ')}`);
  out(`  ${'effect'.padEnd(24)}${FIGURE_COLUMNS.map((column) => column.padStart(12)).join('')}`);
  for (const kind of ITEM_KINDS)
    out(
      `  ${KIND_LABELS[kind].padEnd(24)}${FIGURE_COLUMNS.map((column) => String(figures[kind][column]).padStart(12)).join('')}`,
    );
  out(
    `  ${'total'.padEnd(24)}${FIGURE_COLUMNS.map((column) => String(total[column]).padStart(12)).join('')}`,
  );
  out('  (recorded: unknown with a failure row; carded: its failure card reached the chat)');
  out(
    `  duplicates ${counted.duplicates} (Stripe objects twice under one key ${counted.stripeRepeats.length}), lost ${total.lost}, ` +
      `stuck ${counted.stuck} (actions executing ${counted.executing}, goals open with nothing to do ${counted.openGoals}), ` +
      `unknown never put to the operator ${counted.unsurfaced}, misreported ${total.misreported} — all must be 0`,
  );
  out(
    recoveries.length > 0
      ? `  Redis back → last recovered approval executing: median ${percentile(recoveries, 50)} ms, p95 ${percentile(recoveries, 95)} ms, ` +
          `max ${percentile(recoveries, 100)} ms over ${recoveries.length} schedules ` +
          `(${results.reduce((sum, result) => sum + result.recovered, 0)} approvals recovered)`
      : '  Redis back → last recovered approval executing: no schedule had an approval to recover',
  );
  for (const problem of counted.problems.slice(0, 80)) out(`  ${problem}`);
  if (counted.problems.length > 80) out(`  … and ${counted.problems.length - 80} more`);
  for (const problem of deployment.operator.problems.slice(0, 10)) out(`  operator: ${problem}`);
  for (const crash of deployment.workers.crashes) out(`  ${crash}`);
  out(
    JSON.stringify({
      schedules: results.length,
      seeds: [options.seed, last],
      workers: options.workers,
      wallSeconds: Math.round(wallSeconds),
      figures,
      total,
      duplicates: counted.duplicates,
      lost: total.lost,
      stuck: counted.stuck,
      unsurfaced: counted.unsurfaced,
      recoveryMs: recoveries.length
        ? {
            median: percentile(recoveries, 50),
            p95: percentile(recoveries, 95),
            max: percentile(recoveries, 100),
            schedules: recoveries.length,
          }
        : null,
    }),
  );
}

interface EpisodeDeps {
  schedule: Schedule;
  options: Options;
  deployment: Deployment;
  track: (promise: Promise<unknown>) => void;
}

/** Run one schedule on the deployment: its load, its approvals and its faults, until it settles. */
async function runEpisode(deps: EpisodeDeps): Promise<EpisodeResult> {
  const { schedule, options, deployment } = deps;
  const { spine, sinks, workers, redis, operator } = deployment;
  const baseline = Number(
    (await spine.db.pool.query(`SELECT coalesce(max(id), 0)::int AS id FROM actions`)).rows[0]?.id ?? 0,
  );
  const startedAt = Date.now();
  const fired: string[] = [];
  const redisFault = schedule.processFaults.find((fault) => fault.kind === 'restart_redis');
  const outage: Outage | undefined = redisFault ? { plannedAtMs: redisFault.atMs } : undefined;
  for (const item of schedule.items) operator.items.set(item.tag, { item, startedAt, outage });

  for (const plan of schedule.sinkFaults) {
    if (plan.sink === 'smtp') sinks.smtp.script.push(plan.fault);
    else if (plan.sink === 'stripe') sinks.stripe.faults.push({ match: plan.match, fault: plan.fault });
    else sinks[plan.sink].script.push(plan.behaviour);
  }

  // The process faults: each a task bounded in time; the episode ends after all of them.
  const faultTasks: Array<Promise<void>> = [];
  let markSettled = () => {};
  const itemsSettled = new Promise<void>((resolve) => {
    markSettled = resolve;
  });
  let recovered: number[] = [];
  const killSlots = (fault: Extract<ProcessFault, { kind: 'kill_worker' }>) =>
    fault.worker === 'all' ? workers.slots.map((_, slot) => slot) : [fault.worker];
  for (const fault of schedule.processFaults) {
    if (fault.kind === 'restart_redis') {
      faultTasks.push(
        (async () => {
          await sleep(startedAt + fault.atMs - Date.now());
          if (outage) outage.downAt = Date.now();
          await redis.stop();
          await sleep(fault.downMs);
          await redis.start();
          if (outage) outage.backAt = Date.now();
          fired.push(
            `redis-restart after ${outage?.downAt === undefined ? '?' : outage.downAt - startedAt} ms`,
          );
          // Approvals decided but not started when Redis comes back: recovery must resume them.
          // (The action itself says `awaiting_approval` or `approved` until its execution claims it.)
          recovered = (await itemActions(spine.db, baseline))
            .filter(
              (row) =>
                row.approvalStatus === 'approved' &&
                (row.status === 'approved' || row.status === 'awaiting_approval'),
            )
            .map((row) => row.id);
        })(),
      );
      continue;
    }
    faultTasks.push(
      (async () => {
        let killedAt: number | undefined;
        if (fault.trigger.at === 'time') {
          await sleep(startedAt + fault.trigger.ms - Date.now());
          for (const slot of killSlots(fault)) workers.kill(slot);
          killedAt = Date.now();
        } else {
          // The moment the n-th effect lands, inside the sink, before its answer is written.
          // Given up once the items settled without it (an effect that never came: nothing was sent).
          const target = sinks.effects + fault.trigger.nth;
          await new Promise<void>((resolve) => {
            const finish = () => {
              stop();
              clearTimeout(timer);
              resolve();
            };
            const timer = setTimeout(finish, startedAt + options.episodeMs - Date.now());
            const stop = sinks.onEffect(() => {
              if (sinks.effects < target) return;
              for (const slot of killSlots(fault)) workers.kill(slot);
              killedAt = Date.now();
              finish();
            });
            void itemsSettled.then(finish);
          });
        }
        if (killedAt === undefined) return;
        fired.push(`kill-worker ${fault.worker} after ${killedAt - startedAt} ms (${fault.trigger.at})`);
        await sleep(fault.restartAfterMs);
        // Started now, ready in the background: the episode goes on with the workers left.
        for (const slot of killSlots(fault)) deps.track(workers.start(slot));
      })(),
    );
  }

  // The load: each request at its offset, through the chat intake or Stripe's webhook.
  const requests = schedule.items.map(async (item) => {
    await sleep(startedAt + item.sendAtMs - Date.now());
    const text = requestText(item);
    if (text) deps.track(operator.say(text));
    else deps.track(deliverStripeEvent(deployment.port, item.tag));
  });

  const deadline = startedAt + options.episodeMs;
  let settled = false;
  let rows: ActionRow[] = [];
  const faultsDone = Promise.allSettled(faultTasks);
  let faultsOver = false;
  void faultsDone.then(() => {
    faultsOver = true;
  });
  await Promise.all(requests);
  while (Date.now() < deadline) {
    rows = await itemActions(spine.db, baseline);
    const byTag = new Map(rows.map((row) => [row.tag, row]));
    settled = schedule.items.every((item) => {
      const row = byTag.get(item.tag);
      return row !== undefined && FINISHED_ACTION.has(row.status) && FINISHED_GOAL.has(row.goalStatus);
    });
    if (settled) markSettled();
    if (settled && faultsOver) break;
    await sleep(100);
  }
  markSettled();
  await within(faultsDone, 30_000, []);
  sinks.clearFaults();

  let recoveryMs: number | undefined;
  if (outage?.backAt !== undefined && recovered.length > 0) {
    const claims = await spine.db.pool.query(
      `SELECT max(first_claimed_at) AS last, count(first_claimed_at)::int AS n FROM actions WHERE id = ANY($1::bigint[])`,
      [recovered],
    );
    const last = claims.rows[0]?.last as Date | null;
    if (last && Number(claims.rows[0]?.n) === recovered.length) recoveryMs = last.getTime() - outage.backAt;
  }
  const byTag = new Map(rows.map((row) => [row.tag, row]));
  const unsettled = settled
    ? []
    : schedule.items.flatMap((item) => {
        const row = byTag.get(item.tag);
        if (row && FINISHED_ACTION.has(row.status) && FINISHED_GOAL.has(row.goalStatus)) return [];
        return [
          `${item.tag} ${item.kind}: ${row ? `action #${row.id} ${row.status}, approval #${row.approvalId} ${row.approvalStatus}, goal #${row.goalId} ${row.goalStatus}` : 'no action yet'}`,
        ];
      });
  // A slow episode says where its time went: per item, when its action was proposed, approved,
  // first claimed, executed, and when its goal last changed (ms from the episode's start).
  const ms = Date.now() - startedAt;
  const at = (date: Date | null) => (date ? `+${date.getTime() - startedAt}` : '-');
  const timeline =
    ms < SLOW_EPISODE_MS
      ? []
      : rows
          .filter((row) => schedule.items.some((item) => item.tag === row.tag))
          .map(
            (row) =>
              `${row.tag} ${row.connector}: proposed ${at(row.createdAt)}, approved ${at(row.decidedAt)}, claimed ${at(row.firstClaimedAt)}, ` +
              `${row.status} ${at(row.executedAt)}, goal ${row.goalStatus} ${at(row.goalUpdatedAt)}`,
          );
  return {
    schedule,
    ms,
    timeline,
    settled,
    faultsFired: fired,
    ...(recoveryMs === undefined ? {} : { recoveryMs }),
    recovered: recovered.length,
    unsettled,
  };
}
