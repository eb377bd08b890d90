import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted answer: text and/or tool calls, with token usage; or an HTTP error. */
export interface ScriptedReply {
  text?: string;
  toolCalls?: Array<{ name: string; args: Record<string, unknown> }>;
  usage?: { input: number; output: number };
  /** Answer with this HTTP status and an error body instead. */
  status?: number;
  /** Wait this long before answering (a slow or hung provider). */
  delayMs?: number;
}

/** A request the fake received. */
export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

/** Turns a scripted reply into the provider's wire format. */
export type ReplyEncoder = (reply: ScriptedReply, request: RecordedRequest, sequence: number) => unknown;

/**
 * A loopback HTTP server speaking one model provider's API, answering from a script (first in,
 * first out). When the script is empty it answers `fallback` (a plain text by default).
 */
export class ScriptedModelServer {
  readonly requests: RecordedRequest[] = [];
  readonly #queue: ScriptedReply[] = [];
  readonly #server: Server;
  readonly #encode: ReplyEncoder;
  readonly #path: string;
  #sequence = 0;
  fallback: ScriptedReply = { text: 'OK.', usage: { input: 10, output: 2 } };

  constructor(path: string, encode: ReplyEncoder) {
    this.#path = path;
    this.#encode = encode;
    this.#server = createServer((req, res) => void this.#handle(req, res));
    // Longer than any pause in a test: the client reuses idle connections, and a server closing one
    // just as a request goes out shows up as ECONNRESET (real providers keep connections longer too).
    this.#server.keepAliveTimeout = 120_000;
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Queue replies, answered in order. */
  script(...replies: ScriptedReply[]): this {
    this.#queue.push(...replies);
    return this;
  }

  get pending(): number {
    return this.#queue.length;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const request: RecordedRequest = {
      path: req.url ?? '',
      headers: req.headers,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
    this.requests.push(request);
    if (req.method !== 'POST' || !request.path.endsWith(this.#path)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${request.path}` } }));
      return;
    }
    const reply = this.#queue.shift() ?? this.fallback;
    this.#sequence += 1;
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    if (res.destroyed) return;
    if (reply.status) {
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      // Echo the credentials, as a careless proxy would: Spine must not pass them on to logs or chat.
      const credentials = String(req.headers.authorization ?? req.headers['x-api-key'] ?? '');
      const message = `scripted failure for ${credentials}`;
      res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(this.#encode(reply, request, this.#sequence)));
  }
}
