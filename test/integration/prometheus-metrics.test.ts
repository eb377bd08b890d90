import type { Server } from 'node:http';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MINUTES_SAVED } from '../../app/config.ts';
import { startHttpServer } from '../../app/http-server.ts';
import { migrate } from '../../db/migrate.ts';
import { BusinessMetrics } from '../../ledger/business-metrics.ts';
import { createMetricsRegistry, metricsRoute } from '../../ledger/prometheus.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { LedgerSeed, seedTwoDays } from '../support/ledger-seed.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict reader of the Prometheus text format (0.0.4): every line must be a comment or a sample. */
function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1] as string, type[2] as string);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    // Prometheus parses values with Go's ParseFloat: NaN and Inf in any case (prom-client writes "Nan").
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+-]+|nan|[+-]inf)( -?\d+)?$/i.exec(line);
    if (!sample) throw new Error(`not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (sample[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1] as string] = pair[2] as string;
    samples.push({ name: sample[1] as string, labels, value: Number(sample[4]) });
  }
  for (const sample of samples) {
    const family = [...types.keys()].find(
      (name) =>
        sample.name === name || /^_(bucket|sum|count|total|created)$/.test(sample.name.slice(name.length)),
    );
    if (!family) throw new Error(`sample ${sample.name} has no # TYPE line`);
  }
  return { types, samples };
}

function sampleValue(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.find(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  )?.value;
}

describe.each(DATABASE_KINDS)('/metrics on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);
  const servers: Server[] = [];

  afterAll(async () => {
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
    await databases.closeAll();
  });

  async function serve(token?: string): Promise<string> {
    const db = await databases.open();
    await migrate(db.pool, db.schema);
    const seed = new LedgerSeed(db.pool);
    const operatorId = await seedTwoDays(seed);
    await seed.failure(operatorId);
    await db.pool.query(
      `INSERT INTO alerts (operator_id, rule, dedupe_key, message, fired_at) VALUES ($1, 'money_action_failed', 'k', 'm', now())`,
      [operatorId],
    );
    await db.pool.query(
      `INSERT INTO connector_circuits (connector, process, state, opened_at, reported_at) VALUES ('crm', 'worker-a', 'open', now(), now())`,
    );
    const logger = pino({ level: 'silent' });
    const registry = createMetricsRegistry({
      metrics: new BusinessMetrics(db.pool, { minutesSaved: DEFAULT_MINUTES_SAVED }),
      db: db.pool,
      connectorHealth: () => [
        {
          connector: 'webhook',
          circuit: 'open',
          consecutiveFailures: 5,
          lastError: 'boom',
          lastErrorAt: null,
          lastSuccessAt: null,
        },
      ],
    });
    const server = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      ...(token ? { metricsToken: token } : {}),
      db,
      logger,
      routes: [metricsRoute({ registry, token, logger })],
    });
    servers.push(server);
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    return `http://127.0.0.1:${address.port}/metrics`;
  }

  it('serves Prometheus text with the business series read from the database', async () => {
    const url = await serve();
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { types, samples } = parsePrometheus(await response.text());
    expect(types.get('spine_minutes_saved_total')).toBe('counter');
    expect(types.get('spine_open_failures')).toBe('gauge');
    expect(sampleValue(samples, 'spine_minutes_saved_total')).toBe(20);
    expect(
      sampleValue(samples, 'spine_actions_executed_total', { connector: 'email', operation: 'send_email' }),
    ).toBe(3);
    expect(
      sampleValue(samples, 'spine_actions_executed_total', { connector: 'webhook', operation: 'post' }),
    ).toBe(1);
    expect(sampleValue(samples, 'spine_errors_introduced_total')).toBe(3);
    expect(sampleValue(samples, 'spine_corrective_actions_total')).toBe(2);
    expect(sampleValue(samples, 'spine_approvals_total', { decision: 'approved' })).toBe(1);
    expect(sampleValue(samples, 'spine_approvals_total', { decision: 'edited' })).toBe(1);
    expect(sampleValue(samples, 'spine_approvals_total', { decision: 'rejected' })).toBe(1);
    expect(sampleValue(samples, 'spine_model_spend_usd_total')).toBe(0.75);
    expect(sampleValue(samples, 'spine_open_failures')).toBe(1);
    expect(sampleValue(samples, 'spine_goals', { status: 'done' })).toBe(2);
    expect(sampleValue(samples, 'spine_goals', { status: 'failed' })).toBe(0);
    expect(sampleValue(samples, 'spine_alerts_fired_total', { rule: 'money_action_failed' })).toBe(1);
    expect(sampleValue(samples, 'spine_connector_circuit_open', { connector: 'webhook' })).toBe(1);
    expect(sampleValue(samples, 'spine_connector_circuits_open', { connector: 'crm' })).toBe(1);
    expect(samples.some((sample) => sample.name.startsWith('spine_process_'))).toBe(true);

    // A second scrape reads the same figures (counters are set from the database, not added to).
    const again = parsePrometheus(await (await fetch(url)).text());
    expect(sampleValue(again.samples, 'spine_minutes_saved_total')).toBe(20);
  });

  it('requires the bearer token when one is configured', async () => {
    const token = 'metrics-token-0123456789';
    const url = await serve(token);
    const without = await fetch(url);
    expect(without.status).toBe(401);
    expect(without.headers.get('www-authenticate')).toBe('Bearer realm="spine"');
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(
      401,
    );
    expect((await fetch(url, { headers: { authorization: token } })).status).toBe(401);
    const authorised = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(authorised.status).toBe(200);
    expect(sampleValue(parsePrometheus(await authorised.text()).samples, 'spine_minutes_saved_total')).toBe(
      20,
    );
  });
});
