import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { HttpRoute } from '../bot/http-route.ts';
import type { ConnectorHealth } from '../connectors/resilience.ts';
import type { Database } from '../db/database.ts';

export interface HttpServerOptions {
  port: number;
  /** The interface to listen on (default: all of them, as Node does). `127.0.0.1` keeps Spine local. */
  host?: string | undefined;
  /**
   * SPINE_METRICS_TOKEN. A request bearing it (`Authorization: Bearer <token>`) sees `/healthz`'s
   * details and may scrape `/metrics`; without a token, a server that listens beyond loopback
   * shows only up/down and refuses `/metrics`.
   */
  metricsToken?: string | undefined;
  db: Database;
  logger: Logger;
  /** More checks (queue mode: Redis, workers, adapters); `healthy: false` fails the health check. */
  health?: (() => Promise<{ healthy: boolean; report: Record<string, unknown> }>) | undefined;
  /** Circuit state and last error per connector, shown under `connectors`. */
  connectorHealth?: () => ConnectorHealth[];
  /** Routes mounted by chat adapters (Slack events, the Telegram webhook). */
  routes?: HttpRoute[];
  /** Handlers of every path under a prefix (the web console under /console). */
  mounts?: Array<{ prefix: string; handle: HttpRoute['handle'] }>;
}

/**
 * Spine's HTTP server: health, metrics, chat webhooks and the console. What only the operator may
 * see (connectors' last errors, the business metrics) needs the metrics token, unless no token is
 * set and the server listens on loopback only (then whoever reaches it is on this machine).
 */
export async function startHttpServer(options: HttpServerOptions): Promise<Server> {
  /** Whether this request may see the details: it bears the token, or nobody beyond loopback can ask. */
  const trusted = (request: IncomingMessage): boolean =>
    options.metricsToken ? bearsToken(request, options.metricsToken) : !listensBeyondLoopback(server);
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (request.method === 'GET' && url.pathname === '/metrics' && !trusted(request)) {
      return refuseMetrics(response, Boolean(options.metricsToken));
    }
    if (request.method === 'GET' && url.pathname === '/healthz') {
      let database = 'ok';
      try {
        await options.db.pool.query('SELECT 1');
      } catch {
        database = 'unreachable';
      }
      const extra = options.health ? await options.health() : { healthy: true, report: {} };
      const healthy = database === 'ok' && extra.healthy;
      response.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
      if (!trusted(request)) {
        // Up or down is all a load balancer needs; errors and topology are for the operator.
        response.end(JSON.stringify({ status: healthy ? 'ok' : 'degraded' }));
        return;
      }
      response.end(
        JSON.stringify({
          status: healthy ? 'ok' : 'degraded',
          database,
          databaseKind: options.db.kind,
          ...extra.report,
          // A connector's open circuit does not make Spine unhealthy (it still takes messages): shown, not failed.
          ...(options.connectorHealth ? { connectors: options.connectorHealth() } : {}),
        }),
      );
      return;
    }
    const route =
      options.routes?.find(
        (candidate) =>
          candidate.method === request.method &&
          (candidate.path === url.pathname ||
            // `/prefix/*` routes own every path under the prefix (one webhook URL per playbook).
            (candidate.path.endsWith('/*') && url.pathname.startsWith(candidate.path.slice(0, -1)))),
      ) ??
      options.mounts?.find(
        (mount) => url.pathname === mount.prefix || url.pathname.startsWith(`${mount.prefix}/`),
      );
    if (route) {
      try {
        await route.handle(request, response);
      } catch (error) {
        options.logger.error({ err: String(error), path: url.pathname }, 'request handler failed');
        if (!response.headersSent) {
          response.writeHead(500, { 'content-type': 'application/json' });
          response.end(
            JSON.stringify({ error: 'internal', message: 'Spine could not handle this request.' }),
          );
        }
      }
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({ error: 'not_found', message: `No route for ${request.method} ${url.pathname}` }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const listening = () => {
      server.off('error', reject);
      resolve();
    };
    if (options.host) server.listen(options.port, options.host, listening);
    else server.listen(options.port, listening);
  });
  const address = server.address();
  options.logger.info(
    {
      port: typeof address === 'object' && address ? address.port : options.port,
      ...(typeof address === 'object' && address ? { host: address.address } : {}),
    },
    'HTTP server listening',
  );
  if (!options.metricsToken && listensBeyondLoopback(server)) {
    options.logger.info(
      '/metrics is refused and /healthz shows only up/down: set SPINE_METRICS_TOKEN to see them',
    );
  }
  return server;
}

/** True unless the server is bound to a loopback address (or a Unix socket). */
function listensBeyondLoopback(server: Server): boolean {
  const address = server.address();
  if (address === null || typeof address === 'string') return false;
  return !/^(127\.|::1$|::ffff:127\.)/.test(address.address);
}

function bearsToken(request: IncomingMessage, token: string): boolean {
  const header = request.headers.authorization ?? '';
  const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
  if (given === '') return false;
  // Hash both sides: equal lengths for timingSafeEqual, and no early exit on the first difference.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(token));
}

function refuseMetrics(response: ServerResponse, tokenSet: boolean): void {
  if (tokenSet) {
    response.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="spine"' });
    response.end('Unauthorized: send the SPINE_METRICS_TOKEN as "Authorization: Bearer <token>".\n');
    return;
  }
  response.writeHead(403, { 'content-type': 'text/plain' });
  response.end(
    'Forbidden: /metrics is served beyond loopback only with a token. Set SPINE_METRICS_TOKEN ' +
      '(at least 16 characters) and scrape with "Authorization: Bearer <token>".\n',
  );
}
