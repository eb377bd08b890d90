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

export interface FakeWebhookOptions {
  /**
   * True (default): a receiver that honours Idempotency-Key, committing once per key. False: one
   * that ignores it, like most real endpoints: every request that gets that far is an effect.
   */
  honoursIdempotencyKey?: boolean;
}

/**
 * A receiver of Spine's webhooks on loopback that checks the signature. Three counts, for three
 * questions: `requests` is every request received (nothing deduplicated); `committed` is every
 * effect the receiver made, which with `honoursIdempotencyKey: false` is every request that
 * reached the commit; `effects` is the first effect per key, i.e. already deduplicated by key, so
 * it cannot show that an action ran twice. A once-ness test counts `requests` or `committed`.
 */
export class FakeWebhookServer {
  readonly requests: ReceivedRequest[] = [];
  /** The first effect per idempotency key (deduplicated: not a once-ness count). */
  readonly effects = new Map<string, { path: string; body: string }>();
  /** Every effect committed, in order; a repeat is another entry unless the key was honoured. */
  readonly committed: Array<{ key: string; path: string; body: string }> = [];
  /** Behaviours for the next requests, first in first out; `ok` once empty. */
  readonly script: WebhookBehaviour[] = [];
  readonly honoursIdempotencyKey: boolean;
  #server: Server | undefined;
  readonly #hanging: ServerResponse[] = [];

  constructor(
    private readonly secret: string,
    options: FakeWebhookOptions = {},
  ) {
    this.honoursIdempotencyKey = options.honoursIdempotencyKey ?? true;
  }

  /** Requests received with this idempotency key (every one, whatever it was answered). */
  requestsFor(key: string): number {
    return this.requests.filter((request) => request.key === key).length;
  }

  /** Effects committed under this idempotency key. */
  committedFor(key: string): number {
    return this.committed.filter((effect) => effect.key === key).length;
  }

  /** Requests received per idempotency key, for a table of what arrived how often. */
  requestCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const request of this.requests) counts.set(request.key, (counts.get(request.key) ?? 0) + 1);
    return counts;
  }

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
    // A service honouring Idempotency-Key commits once per key; one that does not, every time.
    const path = request.url ?? '/';
    if (!this.honoursIdempotencyKey || !this.effects.has(key)) this.committed.push({ key, path, body });
    if (!this.effects.has(key)) this.effects.set(key, { path, body });
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
