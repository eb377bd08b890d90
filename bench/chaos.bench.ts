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
 * One event in ten also asks for an external action, in turn: a webhook call (runs at once), an
 * e-mail (approved in chat, a fourth of the cards twice), and a payment link (a signed Stripe event
 * starts a playbook whose money action is approved; a fourth of the events delivered twice). Those
 * are counted where they land, in sinks that keep every repeat: a webhook receiver that ignores
 * Idempotency-Key, a real SMTP server counting each accepted DATA, and the fake Stripe API counting
 * payment links created. Memories and Spine's own records dedupe, so only the sinks can show a
 * duplicate effect.
 *
 *   npm run bench -- chaos [--rate 50] [--seconds 60] [--workers 2] [--url postgres://…] [--keep]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import Stripe from 'stripe';
import { loadConfig } from '../app/config.ts';
import { startHttpServer } from '../app/http-server.ts';
import { createSpine } from '../app/spine.ts';
import { SlackAdapter } from '../bot/slack/slack-adapter.ts';
import { openDatabase } from '../db/database.ts';
import { FakeSlackApi } from '../test/fakes/fake-slack-api.ts';
import { FakeStripeApi } from '../test/fakes/fake-stripe-api.ts';
import { FakeWebhookServer } from '../test/fakes/fake-webhook-server.ts';
import { SmtpSink } from '../test/fakes/smtp-sink.ts';
import { freePort } from '../test/support/free-port.ts';
import { RedisProcess, WorkerProcess } from '../test/support/processes.ts';
import { deletePrefix, queueEnv, uniquePrefix } from '../test/support/queue-spine.ts';
import { smtpEmailSection, webhookSection, writeSpineConfig } from '../test/support/sink-config.ts';
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
const CRM_SECRET = 'chaos-crm-webhook-secret-0123456789';
const STRIPE_KEY = 'sk_test_chaos_0123456789';
const STRIPE_WEBHOOK_SECRET = 'whsec_chaos_0123456789abcdef';

/** The external actions mixed into the load, in turn; each counted at its own sink. */
const ACTION_KINDS = ['webhook', 'e-mail', 'stripe'] as const;
type ActionKind = (typeof ACTION_KINDS)[number];

/** A Stripe event starts it; its payment link is money, so every run waits for an approval. */
const LINK_PLAYBOOK = `name: chaos-links
description: A payment link for every chaos order.
trigger:
  stripe: { events: [checkout.session.completed] }
steps:
  - id: link
    action:
      connector: payments
      operation: create_payment_link
      params:
        description: "chaos item {{ trigger.data.object.metadata.item }}"
        amount: 10
        currency: eur
`;

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

/** A signed Stripe event for action `k` (what Stripe sends when a checkout completes). */
function stripeEvent(k: number): BenchRequest {
  const body = JSON.stringify({
    id: `evt_chaos_${process.pid}_${k}`,
    object: 'event',
    type: 'checkout.session.completed',
    created: Math.floor(Date.now() / 1000),
    data: { object: { id: `cs_chaos_${k}`, object: 'checkout.session', metadata: { item: String(k) } } },
  });
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'stripe-signature': Stripe.webhooks.generateTestHeaderString({
        payload: body,
        secret: STRIPE_WEBHOOK_SECRET,
      }),
    },
  };
}

/** Deliver like Stripe: a non-2xx answer (or none) is retried, up to 3 times (1 s apart here). */
async function deliverStripe(port: number, agent: Agent, k: number): Promise<number> {
  let final = (await postTimed(port, '/stripe/webhook', agent, stripeEvent(k))).status;
  for (let retries = 1; (final < 200 || final > 299) && retries <= 3; retries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    final = (await postTimed(port, '/stripe/webhook', agent, stripeEvent(k))).status;
  }
  return final;
}

/** What one kind of action came to: counted at its sink, next to the actions' recorded outcomes. */
interface SinkCounts {
  requested: number;
  /** Items with at least one effect at the sink. */
  landed: number;
  /** Items with more than one effect at the sink (must be 0). */
  duplicated: number;
  /** Items with no effect and no outcome that says why (failed, unknown): lost (must be 0). */
  missing: number;
  /** Actions whose outcome is unknown (the operator is asked). */
  unknown: number;
  failed: number;
}

/** Per item: effects at the sink and the action's status; `items` are the ones asked for. */
function sinkCounts(
  items: number[],
  effects: Map<number, number>,
  statuses: Map<number, string>,
): SinkCounts {
  let landed = 0;
  let duplicated = 0;
  let missing = 0;
  let unknown = 0;
  let failed = 0;
  for (const item of items) {
    const count = effects.get(item) ?? 0;
    const status = statuses.get(item);
    if (count > 0) landed += 1;
    if (count > 1) duplicated += 1;
    if (status === 'unknown') unknown += 1;
    if (status === 'failed') failed += 1;
    if (count === 0 && status !== 'unknown' && status !== 'failed') missing += 1;
  }
  return { requested: items.length, landed, duplicated, missing, unknown, failed };
}

/** Add one to `counts[key]`. */
function bump(counts: Map<number, number>, key: number): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
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
  // The sinks: each keeps every repeat, so a duplicate effect cannot hide behind a key.
  const smtp = new SmtpSink();
  await smtp.start();
  const receiver = new FakeWebhookServer(CRM_SECRET, { honoursIdempotencyKey: false });
  const receiverUrl = await receiver.start();
  const stripe = new FakeStripeApi(STRIPE_KEY);
  const stripeUrl = await stripe.start();
  const spineConfig = writeSpineConfig(
    smtpEmailSection(smtp),
    // `read`: the call runs at once, no approval card.
    webhookSection({
      name: 'crm',
      url: `${receiverUrl}/chaos`,
      secretVariable: 'CHAOS_CRM_SECRET',
      risk: 'read',
    }),
  );
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
      SPINE_CONFIG: spineConfig,
      CHAOS_CRM_SECRET: CRM_SECRET,
      STRIPE_SECRET_KEY: STRIPE_KEY,
      STRIPE_API_URL: stripeUrl,
      STRIPE_WEBHOOK_SECRET,
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
  const server = await startHttpServer({
    port: 0,
    db: spine.db,
    logger,
    routes: [...adapter.routes(), ...spine.inbound.routes],
  });
  const port = (server.address() as AddressInfo).port;
  // Told in the operator's DM like any command, before the load starts.
  const say = (eventId: string, text: string) =>
    spine.intake.handleMessage({
      channel: 'slack',
      deliveryId: eventId,
      userId: 'U123',
      text,
      thread: { channel: 'slack', conversation: 'D1' },
    });
  await say(`EvSetup${process.pid}x1`, `playbook add ${LINK_PLAYBOOK}`);
  await say(`EvSetup${process.pid}x2`, 'playbook enable chaos-links');

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
  // The operator: approves every card once, and a fourth of them twice at once (a double click).
  const approved = new Set<number>();
  const approvalDeliveries: Array<Promise<unknown>> = [];
  const approveNewCards = () => {
    for (const call of fakeSlack.of('chat.postMessage')) {
      const match = /^Approval #(\d+) needed/.exec(String(call.params.text ?? ''));
      const id = Number(match?.[1] ?? Number.NaN);
      if (!match || approved.has(id)) continue;
      approved.add(id);
      for (let click = 0; click < (id % 4 === 0 ? 2 : 1); click += 1)
        approvalDeliveries.push(
          deliver(port, agent, () =>
            slackEvent({ eventId: `EvOk${process.pid}x${id}x${click}`, text: `approve #${id}` }),
          ),
        );
    }
  };
  const approver = setInterval(approveNewCards, 250);
  const actions: Array<{ k: number; kind: ActionKind }> = [];
  const actionDeliveries: Array<Promise<unknown>> = [];
  const askForAction = () => {
    const k = actions.length;
    const kind = ACTION_KINDS[k % ACTION_KINDS.length] as ActionKind;
    actions.push({ k, kind });
    if (kind === 'stripe') {
      actionDeliveries.push(deliverStripe(port, agent, k));
      // Stripe delivers again now and then: the same event id must start one run.
      if (k % 4 === 2) actionDeliveries.push(deliverStripe(port, agent, k));
      return;
    }
    const text =
      kind === 'webhook'
        ? `call crm {"chaos":${k}}`
        : `email chaos-${k}@example.com "Chaos ${k}" Chaos e-mail number ${k}.`;
    actionDeliveries.push(
      deliver(port, agent, () => slackEvent({ eventId: `EvAct${process.pid}x${k}`, text })),
    );
  };
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
    if (n % 10 === 7) askForAction();
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
  await Promise.all(actionDeliveries);

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
  clearInterval(approver);
  await Promise.all(approvalDeliveries);
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

  // Effects at the sinks, per item, and each action's recorded outcome.
  const effects: Record<ActionKind, Map<number, number>> = {
    webhook: new Map(),
    'e-mail': new Map(),
    stripe: new Map(),
  };
  for (const effect of receiver.committed) {
    const item = Number((JSON.parse(effect.body) as { chaos?: unknown }).chaos);
    if (Number.isInteger(item)) bump(effects.webhook, item);
  }
  for (const message of smtp.accepted) {
    const item = /^chaos-(\d+)@example\.com$/.exec(message.to[0] ?? '')?.[1];
    if (item !== undefined) bump(effects['e-mail'], Number(item));
  }
  for (const link of stripe.paymentLinks.values()) {
    const lines = (link.line_items as Array<{ price: string }> | undefined) ?? [];
    const product = stripe.products.get(String(stripe.prices.get(lines[0]?.price ?? '')?.product ?? ''));
    const item = /^chaos item (\d+)$/.exec(String(product?.name ?? ''))?.[1];
    if (item !== undefined) bump(effects.stripe, Number(item));
  }
  const statuses: Record<ActionKind, Map<number, string>> = {
    webhook: new Map(),
    'e-mail': new Map(),
    stripe: new Map(),
  };
  const recorded = await db.pool.query(
    `SELECT connector, status, params FROM actions WHERE connector IN ('crm', 'email', 'payments')`,
  );
  for (const row of recorded.rows as Array<{
    connector: string;
    status: string;
    params: Record<string, unknown>;
  }>) {
    if (row.connector === 'crm') {
      const item = Number((row.params.payload as { chaos?: unknown } | undefined)?.chaos);
      if (Number.isInteger(item)) statuses.webhook.set(item, row.status);
    } else if (row.connector === 'email') {
      const item = /^chaos-(\d+)@/.exec(String(row.params.to ?? ''))?.[1];
      if (item !== undefined) statuses['e-mail'].set(Number(item), row.status);
    } else {
      const item = /^chaos item (\d+)$/.exec(String(row.params.description ?? ''))?.[1];
      if (item !== undefined) statuses.stripe.set(Number(item), row.status);
    }
  }
  const sinks = Object.fromEntries(
    ACTION_KINDS.map((kind) => [
      kind,
      sinkCounts(
        actions.filter((action) => action.kind === kind).map((action) => action.k),
        effects[kind],
        statuses[kind],
      ),
    ]),
  ) as Record<ActionKind, SinkCounts>;

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
  out(
    `  effects at the sinks (every request, message and object; nothing deduplicated), ` +
      `${approved.size} cards approved:`,
  );
  const columns = ['requested', 'landed', 'duplicated', 'missing', 'unknown', 'failed'] as const;
  out(`    ${'action'.padEnd(8)}${columns.map((column) => column.padStart(11)).join('')}`);
  for (const kind of ACTION_KINDS)
    out(`    ${kind.padEnd(8)}${columns.map((column) => String(sinks[kind][column]).padStart(11)).join('')}`);
  out('    (duplicated and missing must be 0; unknown ones are put to the operator)');
  out(
    `    at the sinks: ${receiver.requests.length} webhook requests, ${smtp.accepted.length} messages ` +
      `(${smtp.duplicates().length} Message-IDs more than once), ${stripe.created.payment_link} payment links created`,
  );
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
    sinks,
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
  await smtp.close();
  await receiver.stop();
  await stripe.stop();
}
