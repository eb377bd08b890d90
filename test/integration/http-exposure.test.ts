import type { Server } from 'node:http';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpServerOptions, startHttpServer } from '../../app/http-server.ts';
import type { HttpRoute } from '../../bot/http-route.ts';
import type { Database } from '../../db/database.ts';
import { TestDatabases } from '../support/databases.ts';

const TOKEN = 'metrics-token-0123456789';
const LAST_ERROR = 'connect ECONNREFUSED crm.internal.example:8443 (api key sk-live-abc)';

/** A stand-in for the Prometheus route: answers 200 to whoever reaches it. */
const METRICS: HttpRoute = {
  method: 'GET',
  path: '/metrics',
  async handle(_request, response) {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('spine_up 1\n');
  },
};

describe('/healthz and /metrics show the operator’s details only to the operator', () => {
  const databases = new TestDatabases('server');
  const servers: Server[] = [];
  let db: Database;

  beforeAll(async () => {
    db = await databases.open();
  });

  afterAll(async () => {
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
    await databases.closeAll();
  });

  async function serve(options: Partial<HttpServerOptions> = {}): Promise<string> {
    const server = await startHttpServer({
      port: 0,
      db,
      logger: pino({ level: 'silent' }),
      connectorHealth: () => [
        {
          connector: 'crm',
          circuit: 'open',
          consecutiveFailures: 5,
          lastError: LAST_ERROR,
          lastErrorAt: null,
          lastSuccessAt: null,
        },
      ],
      routes: [METRICS],
      ...options,
    });
    servers.push(server);
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    return `http://127.0.0.1:${address.port}`;
  }

  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

  it('beyond loopback without a token: /healthz says only up, /metrics is refused', async () => {
    const base = await serve();
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    const text = await health.text();
    expect(JSON.parse(text)).toEqual({ status: 'ok' });
    expect(text).not.toContain('ECONNREFUSED');
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(403);
    expect(await metrics.text()).toContain('SPINE_METRICS_TOKEN');
    // Any bearer is as good as none when no token is set.
    expect((await fetch(`${base}/metrics`, bearer(TOKEN))).status).toBe(403);
  });

  it('with a token: the details and /metrics for its bearer only', async () => {
    const base = await serve({ metricsToken: TOKEN });
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${base}/healthz`, bearer('wrong-token-0123456789'))).json()).toEqual({
      status: 'ok',
    });
    const detailed = (await (await fetch(`${base}/healthz`, bearer(TOKEN))).json()) as {
      status: string;
      database: string;
      connectors: Array<{ connector: string; lastError: string }>;
    };
    expect(detailed).toMatchObject({ status: 'ok', database: 'ok', databaseKind: 'server' });
    expect(detailed.connectors[0]).toMatchObject({ connector: 'crm', lastError: LAST_ERROR });
    const refused = await fetch(`${base}/metrics`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="spine"');
    expect((await fetch(`${base}/metrics`, bearer('wrong-token-0123456789'))).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: TOKEN } })).status).toBe(401);
    const scraped = await fetch(`${base}/metrics`, bearer(TOKEN));
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toBe('spine_up 1\n');
  });

  it('on loopback only, without a token: details and /metrics for this machine', async () => {
    const base = await serve({ host: '127.0.0.1' });
    const detailed = (await (await fetch(`${base}/healthz`)).json()) as { connectors?: unknown[] };
    expect(detailed.connectors).toHaveLength(1);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });

  it('down is still down without the token: 503 and nothing else', async () => {
    const base = await serve({
      health: async () => ({ healthy: false, report: { redis: 'unreachable at 10.0.0.7:6379' } }),
    });
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: 'degraded' });
  });
});
