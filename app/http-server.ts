import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { HttpRoute } from '../bot/http-route.ts';
import type { ConnectorHealth } from '../connectors/resilience.ts';
import type { Database } from '../db/database.ts';

export interface HttpServerOptions {
  port: number;
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

/** Spine's HTTP server: health now; chat webhooks and metrics mount here. */
export async function startHttpServer(options: HttpServerOptions): Promise<Server> {
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
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
    server.listen(options.port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  options.logger.info(
    { port: typeof address === 'object' && address ? address.port : options.port },
    'HTTP server listening',
  );
  return server;
}
