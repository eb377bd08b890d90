import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  IDEMPOTENCY_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifyWebhook,
} from '../../connectors/webhook/webhook-signature.ts';

/** What the next request gets: normal, 429 with Retry-After, commit-then-500, commit-then-hang, or plain 500. */
export type WebhookBehaviour =
  | { kind: 'ok' }
  | { kind: 'rate_limit'; retryAfterSeconds: number }
  | { kind: 'commit_then_500' }
  | { kind: 'commit_then_hang' }
  | { kind: 'fail_500' };

export interface ReceivedRequest {
  at: number;
  path: string;
  key: string;
  body: string;
  signatureValid: boolean;
}

/**
 * A receiver of Spine's webhooks on loopback that checks the signature and dedupes on the
 * idempotency key (as a well-behaved service does): `effects` counts what really happened.
 */
export class FakeWebhookServer {
  readonly requests: ReceivedRequest[] = [];
  /** Effects committed, by idempotency key. */
  readonly effects = new Map<string, { path: string; body: string }>();
  /** Behaviours for the next requests, first in first out; `ok` once empty. */
  readonly script: WebhookBehaviour[] = [];
  #server: Server | undefined;
  readonly #hanging: ServerResponse[] = [];

  constructor(private readonly secret: string) {}

  async start(): Promise<string> {
    this.#server = createServer((request, response) => void this.#handle(request, response));
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const signatureValid = verifyWebhook({
      secret: this.secret,
      body,
      signature: header(SIGNATURE_HEADER),
      timestamp: header(TIMESTAMP_HEADER),
      nowSeconds: Math.floor(Date.now() / 1000),
    });
    const key = header(IDEMPOTENCY_HEADER) ?? '';
    this.requests.push({ at: Date.now(), path: request.url ?? '/', key, body, signatureValid });
    if (!signatureValid) {
      response.writeHead(401).end('bad signature');
      return;
    }
    const behaviour = this.script.shift() ?? { kind: 'ok' };
    if (behaviour.kind === 'rate_limit') {
      response.writeHead(429, { 'retry-after': String(behaviour.retryAfterSeconds) }).end('slow down');
      return;
    }
    if (behaviour.kind === 'fail_500') {
      response.writeHead(500).end('broken');
      return;
    }
    // Commit once per key, as a service honouring Idempotency-Key does.
    if (!this.effects.has(key)) this.effects.set(key, { path: request.url ?? '/', body });
    if (behaviour.kind === 'commit_then_500') {
      response.writeHead(500).end('committed, then crashed');
      return;
    }
    if (behaviour.kind === 'commit_then_hang') {
      this.#hanging.push(response);
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, key }));
  }

  async stop(): Promise<void> {
    for (const response of this.#hanging.splice(0)) response.destroy();
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
