import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { ConnectorHealth } from '../connectors/resilience.ts';
import type { Queryable } from '../db/database.ts';
import type { BusinessMetrics, BusinessSnapshot } from './business-metrics.ts';

export interface MetricsRegistryOptions {
  metrics: BusinessMetrics;
  db: Queryable;
  /** This process's connector circuits (circuits live in each process). */
  connectorHealth?: () => ConnectorHealth[];
}

/** One scrape reads the database once, however many series ask (they collect in parallel). */
const SNAPSHOT_REUSE_MS = 1000;

/**
 * A dedicated Prometheus registry: Node process metrics plus Spine's business series, read from
 * the database at scrape time (collect callbacks), so any replica answers with the same figures
 * in queue mode, whichever process did the work.
 */
export function createMetricsRegistry(options: MetricsRegistryOptions): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'spine_process_' });
  let cached: { at: number; snapshot: Promise<BusinessSnapshot> } | undefined;
  const snapshot = () => {
    const now = Date.now();
    if (!cached || now - cached.at > SNAPSHOT_REUSE_MS) {
      cached = { at: now, snapshot: options.metrics.snapshot() };
      cached.snapshot.catch(() => {
        cached = undefined;
      });
    }
    return cached.snapshot;
  };
  const registers = [registry];

  new Counter({
    name: 'spine_minutes_saved_total',
    help: 'Estimated manual minutes saved by actions that succeeded and were not undone (and goals answered).',
    registers,
    async collect() {
      const { minutesSaved } = await snapshot();
      this.reset();
      this.inc(minutesSaved);
    },
  });
  new Counter({
    name: 'spine_actions_executed_total',
    help: 'Actions that succeeded, by connector and operation (undos not counted).',
    labelNames: ['connector', 'operation'],
    registers,
    async collect() {
      const { executed } = await snapshot();
      this.reset();
      for (const row of executed) this.inc({ connector: row.connector, operation: row.operation }, row.count);
    },
  });
  new Counter({
    name: 'spine_errors_introduced_total',
    help: 'Actions that failed, were undone, or were edited by the operator before approval.',
    registers,
    async collect() {
      const { errorsIntroduced } = await snapshot();
      this.reset();
      this.inc(errorsIntroduced);
    },
  });
  new Counter({
    name: 'spine_corrective_actions_total',
    help: 'Undos and retries the operator asked for.',
    registers,
    async collect() {
      const { correctiveActions } = await snapshot();
      this.reset();
      this.inc(correctiveActions);
    },
  });
  new Counter({
    name: 'spine_approvals_total',
    help: 'Approval decisions: approved as proposed, edited then approved, rejected.',
    labelNames: ['decision'],
    registers,
    async collect() {
      const { approvals } = await snapshot();
      this.reset();
      for (const [decision, count] of Object.entries(approvals)) this.inc({ decision }, count);
    },
  });
  new Counter({
    name: 'spine_model_spend_usd_total',
    help: 'Language model spend in US dollars.',
    registers,
    async collect() {
      const { modelSpendUsd } = await snapshot();
      this.reset();
      this.inc(modelSpendUsd);
    },
  });
  new Gauge({
    name: 'spine_open_failures',
    help: 'Failures waiting for a remedy (retry, undo, dismiss).',
    registers,
    async collect() {
      this.set((await snapshot()).openFailures);
    },
  });
  new Gauge({
    name: 'spine_goals',
    help: 'Goals by status.',
    labelNames: ['status'],
    registers,
    async collect() {
      const { goalsByStatus } = await snapshot();
      this.reset();
      for (const status of ['received', 'running', 'awaiting_approval', 'done', 'failed', 'cancelled'])
        this.set({ status }, goalsByStatus[status] ?? 0);
    },
  });
  new Counter({
    name: 'spine_alerts_fired_total',
    help: 'Business alerts posted to the operator, by rule.',
    labelNames: ['rule'],
    registers,
    async collect() {
      const result = await options.db.query('SELECT rule, count(*)::int AS count FROM alerts GROUP BY rule');
      this.reset();
      for (const row of result.rows) this.inc({ rule: String(row.rule) }, Number(row.count));
    },
  });
  new Gauge({
    name: 'spine_connector_circuits_open',
    help: 'Processes whose circuit breaker for the connector is open (reported in the last 5 minutes).',
    labelNames: ['connector'],
    registers,
    async collect() {
      const result = await options.db.query(
        `SELECT connector, count(*)::int AS count FROM connector_circuits
         WHERE reported_at >= now() - interval '5 minutes' GROUP BY connector`,
      );
      this.reset();
      for (const row of result.rows) this.set({ connector: String(row.connector) }, Number(row.count));
    },
  });
  if (options.connectorHealth) {
    const health = options.connectorHealth;
    new Gauge({
      name: 'spine_connector_circuit_open',
      help: "1 when this process's circuit breaker for the connector is not closed.",
      labelNames: ['connector'],
      registers,
      collect() {
        this.reset();
        for (const entry of health())
          this.set({ connector: entry.connector }, entry.circuit === 'closed' ? 0 : 1);
      },
    });
  }
  return registry;
}

function sameSecret(given: string, expected: string): boolean {
  // Hash both sides: equal lengths for timingSafeEqual, and no early exit on the first difference.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * `GET /metrics` in the Prometheus text format. With a token, the scraper must send
 * `Authorization: Bearer <token>` (Prometheus: `authorization: { credentials: ... }`).
 */
export function metricsRoute(options: { registry: Registry; token?: string | undefined; logger: Logger }) {
  return {
    method: 'GET' as const,
    path: '/metrics',
    async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
      if (options.token) {
        const header = request.headers.authorization ?? '';
        const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
        if (!given || !sameSecret(given, options.token)) {
          response.writeHead(401, {
            'content-type': 'text/plain',
            'www-authenticate': 'Bearer realm="spine"',
          });
          response.end('Unauthorized: send the SPINE_METRICS_TOKEN as "Authorization: Bearer <token>".\n');
          return;
        }
      }
      let body: string;
      try {
        body = await options.registry.metrics();
      } catch (error) {
        options.logger.warn({ err: String(error) }, 'metrics scrape failed');
        response.writeHead(503, { 'content-type': 'text/plain' });
        response.end('Spine could not read its metrics from the database; the next scrape tries again.\n');
        return;
      }
      response.writeHead(200, { 'content-type': options.registry.contentType });
      response.end(body);
    },
  };
}
