/**
 * The nemesis benchmark's schedules (this file is not a benchmark: bench/run.ts runs *.bench.ts).
 * A schedule is drawn from one seed only, so `--seed S --schedules 1` replays schedule S: the same
 * requests at the same offsets, the same approvals, the same faults at the sinks and in the
 * processes. Only the interleaving with the processes' own timing differs from run to run.
 */
import type { WebhookBehaviour } from '../test/fakes/fake-webhook-server.ts';
import type { SmtpFault } from '../test/fakes/smtp-sink.ts';

/**
 * What an item asks for, and where its effect lands: an e-mail (SMTP sink), a webhook to a
 * receiver that ignores Idempotency-Key (`crm`) or honours it (`ledger`, configured
 * `idempotent: true`), or a Stripe payment link (fake Stripe API).
 */
export const ITEM_KINDS = ['email', 'crm', 'ledger', 'stripe'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];

/** How each kind is shown in the figures. */
export const KIND_LABELS: Record<ItemKind, string> = {
  email: 'e-mail (SMTP)',
  crm: 'webhook, key ignored',
  ledger: 'webhook, key honoured',
  stripe: 'Stripe payment link',
};

/** One requested effect: asked for at `sendAtMs`, its card approved `approveAfterMs` after it shows. */
export interface PlannedItem {
  /** Unique in the run: names the item at the sink (recipient, payload, product name). */
  tag: string;
  kind: ItemKind;
  sendAtMs: number;
  approveAfterMs: number;
  /** 2: the operator sends `approve #id` twice at once (a double click). */
  clicks: 1 | 2;
  /** When the schedule restarts Redis: hold the approval and decide it while Redis is down. */
  approveInOutage: boolean;
}

/** A fault for the next request at one sink (each sink takes its faults first in, first out). */
export type SinkFaultPlan =
  | { sink: 'smtp'; fault: SmtpFault }
  | { sink: 'crm' | 'ledger'; behaviour: WebhookBehaviour }
  | {
      sink: 'stripe';
      match: string;
      fault: { kind: 'drop_after_effect' } | { kind: 'status'; status: number };
    };

/** When a worker is killed: at an offset, or the moment the n-th effect of the schedule lands at a sink. */
export type KillTrigger = { at: 'time'; ms: number } | { at: 'effect'; nth: number };

export type ProcessFault =
  | {
      kind: 'kill_worker';
      /** Index of the worker slot; `all` kills every worker at once. */
      worker: number | 'all';
      trigger: KillTrigger;
      /** A new worker is started in the slot this long after the kill. */
      restartAfterMs: number;
    }
  | { kind: 'restart_redis'; atMs: number; downMs: number };

export interface Schedule {
  seed: number;
  items: PlannedItem[];
  sinkFaults: SinkFaultPlan[];
  processFaults: ProcessFault[];
}

/**
 * mulberry32: a small seeded generator, enough to draw schedules reproducibly. The seed is mixed
 * first (murmur3's finalizer): neighbouring seeds would otherwise start with similar draws.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  state = Math.imul(state ^ (state >>> 16), 0x85ebca6b) >>> 0;
  state = Math.imul(state ^ (state >>> 13), 0xc2b2ae35) >>> 0;
  state = (state ^ (state >>> 16)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The knobs that shape schedules (times in ms). */
export interface ScheduleOptions {
  workers: number;
  /** The connectors' per-attempt timeout: a late SMTP answer comes after it. */
  timeoutMs: number;
  minItems: number;
  maxItems: number;
}

/** The schedule of seed `seed`: its load, its sink faults and its process faults. */
export function drawSchedule(seed: number, options: ScheduleOptions): Schedule {
  const random = seededRandom(seed);
  const between = (low: number, high: number) => Math.floor(low + random() * (high - low + 1));
  const chance = (p: number) => random() < p;
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;

  const count = between(options.minItems, options.maxItems);
  const items: PlannedItem[] = [];
  for (let k = 0; k < count; k += 1) {
    items.push({
      tag: `s${seed}k${k}`,
      kind: pick(ITEM_KINDS),
      sendAtMs: between(0, 600),
      approveAfterMs: between(0, 800),
      clicks: chance(0.2) ? 2 : 1,
      approveInOutage: chance(0.6),
    });
  }

  // Each item's kind may bring a fault at its sink: one that happens before anything is sent (the
  // connector must retry it), or one after the effect landed (the answer is lost or late).
  const sinkFaults: SinkFaultPlan[] = [];
  for (const item of items) {
    if (!chance(0.45)) continue;
    switch (item.kind) {
      case 'email':
        sinkFaults.push({
          sink: 'smtp',
          fault: pick<SmtpFault>([
            { kind: 'drop_after_data' },
            { kind: 'drop_after_data' },
            { kind: 'ack_after_ms', ms: options.timeoutMs + 1000 },
            { kind: 'refuse_connection' },
            { kind: 'reject_rcpt_4xx' },
          ]),
        });
        break;
      case 'crm':
      case 'ledger':
        sinkFaults.push({
          sink: item.kind,
          behaviour: pick<WebhookBehaviour>([
            { kind: 'commit_then_500' },
            { kind: 'commit_then_hang' },
            { kind: 'fail_500' },
            { kind: 'rate_limit', retryAfterSeconds: 1 },
          ]),
        });
        break;
      case 'stripe':
        sinkFaults.push({
          sink: 'stripe',
          match: pick(['POST /v1/payment_links', 'POST /v1/prices', 'POST /v1/products']),
          fault: chance(0.75) ? { kind: 'drop_after_effect' } : { kind: 'status', status: 500 },
        });
        break;
    }
  }

  const processFaults: ProcessFault[] = [];
  if (chance(0.55)) {
    const trigger: KillTrigger = chance(0.6)
      ? { at: 'effect', nth: between(1, count) }
      : { at: 'time', ms: between(200, 2500) };
    processFaults.push({
      kind: 'kill_worker',
      worker: chance(0.06) ? 'all' : between(0, options.workers - 1),
      trigger,
      restartAfterMs: between(100, 1500),
    });
  }
  if (chance(0.4))
    processFaults.push({ kind: 'restart_redis', atMs: between(300, 2000), downMs: between(300, 2000) });
  return { seed, items, sinkFaults, processFaults };
}

/** One line that says what a schedule does, for the log and for a reproduction. */
export function describeSchedule(schedule: Schedule): string {
  const outage = schedule.processFaults.some((fault) => fault.kind === 'restart_redis');
  const items = schedule.items
    .map(
      (item) =>
        `${item.kind}@${item.sendAtMs}+${item.approveAfterMs}${item.clicks === 2 ? 'x2' : ''}${item.approveInOutage && outage ? '~' : ''}`,
    )
    .join(' ');
  const sinks = schedule.sinkFaults.map((plan) => {
    if (plan.sink === 'smtp') return `smtp:${plan.fault.kind}`;
    if (plan.sink === 'stripe') return `stripe:${plan.fault.kind}(${plan.match.slice(9)})`;
    return `${plan.sink}:${plan.behaviour.kind}`;
  });
  const processes = schedule.processFaults.map((fault) =>
    fault.kind === 'restart_redis'
      ? `redis down@${fault.atMs} for ${fault.downMs}`
      : `kill worker ${fault.worker} ${fault.trigger.at === 'time' ? `@${fault.trigger.ms}` : `on effect ${fault.trigger.nth}`}, back after ${fault.restartAfterMs}`,
  );
  return `[${items}] sinks {${sinks.join(', ') || 'none'}} processes {${processes.join(', ') || 'none'}}`;
}

/** Call `listener` each time something is pushed onto `array` (synchronously, inside the push). */
export function observePush<T>(array: T[], listener: (item: T) => void): void {
  const push = array.push.bind(array);
  array.push = (...items: T[]) => {
    const length = push(...items);
    for (const item of items) listener(item);
    return length;
  };
}

/** The item an action row belongs to, read from its parameters; null for rows of no item. */
export function tagOfAction(connector: string, params: Record<string, unknown>): string | null {
  if (connector === 'email')
    return /^([a-z0-9]+)@nemesis\.example\.com$/.exec(String(params.to ?? ''))?.[1] ?? null;
  if (connector === 'crm' || connector === 'ledger') {
    const tag = (params.payload as { nemesis?: unknown } | undefined)?.nemesis;
    return typeof tag === 'string' ? tag : null;
  }
  if (connector === 'payments')
    return /^nemesis item (\S+)$/.exec(String(params.description ?? ''))?.[1] ?? null;
  return null;
}

/** Add one to `counts[key]`. */
export function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}
