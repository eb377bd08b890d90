import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { HttpRoute } from '../bot/http-route.ts';
import type { Database } from '../db/database.ts';

export interface HttpServerOptions {
  port: number;
  db: Database;
  logger: Logger;
  /** Routes mounted by chat adapters (Slack events, the Telegram webhook). */
  routes?: HttpRoute[];
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
      const healthy = database === 'ok';
      response.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ status: healthy ? 'ok' : 'degraded', database, databaseKind: options.db.kind }),
      );
      return;
    }
    const route = options.routes?.find(
      (candidate) => candidate.method === request.method && candidate.path === url.pathname,
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
