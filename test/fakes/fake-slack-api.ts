import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One Web API call as the fake received it; JSON-valued form fields (blocks, view) are parsed. */
export interface SlackCall {
  method: string;
  params: Record<string, unknown>;
  authorization: string | undefined;
  at: number;
}

/**
 * A fake Slack Web API on loopback that records every call (`SLACK_API_URL` points here). Answers
 * like Slack: `ok: true`, message timestamps, and `auth.test` for the bot `UBOT`.
 */
export class FakeSlackApi {
  readonly calls: SlackCall[] = [];
  /** Extra latency per method, to simulate a slow Slack. */
  readonly delays = new Map<string, number>();
  /** Channels the bot has not joined: chat.postMessage there fails with `not_in_channel`. */
  readonly notInChannel = new Set<string>();
  #server: Server | undefined;
  #sequence = 0;
  #base = '';
  readonly #files = new Map<string, Uint8Array>();

  /** Make a private file downloadable; returns its url_private_download (needs the bot token). */
  addFile(id: string, bytes: Uint8Array): string {
    this.#files.set(id, bytes);
    return `${this.#base}/files-pri/${id}`;
  }

  /** A response_url for a slash command, answered by this fake. */
  responseUrl(id: string): string {
    return `${this.#base}/response/${id}`;
  }

  async start(): Promise<string> {
    this.#server = createServer((request, response) => {
      const file = /^\/files-pri\/([^/?]+)/.exec(request.url ?? '');
      if (file) {
        const bytes = this.#files.get(file[1] ?? '');
        const authorized = /^Bearer xoxb-/.test(String(request.headers.authorization ?? ''));
        this.calls.push({
          method: 'file',
          params: { id: file[1] },
          authorization: request.headers.authorization,
          at: Date.now(),
        });
        response.writeHead(!authorized ? 403 : bytes ? 200 : 404);
        response.end(authorized && bytes ? Buffer.from(bytes) : undefined);
        return;
      }
      void this.#handle(request).then(
        (body) => {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify(body));
        },
        () => {
          response.writeHead(500);
          response.end();
        },
      );
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.#base = `http://127.0.0.1:${port}`;
    return `${this.#base}/api/`;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  /** Calls of one method. */
  of(method: string): SlackCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  /** Wait until `predicate` holds over the recorded calls (bounded). */
  async waitFor(predicate: (calls: SlackCall[]) => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.calls)) {
      if (Date.now() > deadline) {
        throw new Error(
          `fake Slack: condition not met; calls: ${this.calls.map((call) => call.method).join(', ')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async #handle(request: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = (request.url ?? '').split('?')[0] ?? '';
    // A slash command's response_url (`/response/<id>`) is recorded as the method `response_url`.
    const method = path.startsWith('/response/') ? 'response_url' : path.replace(/^\/api\//, '');
    const params = parseParams(raw, String(request.headers['content-type'] ?? ''));
    const call: SlackCall = { method, params, authorization: request.headers.authorization, at: Date.now() };
    this.calls.push(call);
    const delay = this.delays.get(method);
    if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://spine-test.slack.com/',
          team: 'Spine',
          user: 'spine',
          team_id: 'T1',
          user_id: 'UBOT',
          bot_id: 'BBOT',
        };
      case 'chat.postMessage': {
        if (this.notInChannel.has(String(params.channel))) return { ok: false, error: 'not_in_channel' };
        this.#sequence += 1;
        const ts = `1700000000.${String(this.#sequence).padStart(6, '0')}`;
        return { ok: true, channel: params.channel, ts, message: { ts, text: params.text } };
      }
      case 'chat.update':
        return { ok: true, channel: params.channel, ts: params.ts, text: params.text };
      case 'views.publish':
      case 'views.open':
        return { ok: true, view: { id: 'V1' } };
      default:
        return { ok: true };
    }
  }
}

function parseParams(raw: string, contentType: string): Record<string, unknown> {
  if (contentType.includes('application/json')) return JSON.parse(raw || '{}') as Record<string, unknown>;
  const params: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    params[key] = /^[[{]/.test(value) ? safeJson(value) : value;
  }
  return params;
}

function safeJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
