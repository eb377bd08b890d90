import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { LoopbackWebSocket } from './loopback-websocket.ts';

/** One Web API call as the fake received it; JSON-valued form fields (blocks, view) are parsed. */
export interface SlackCall {
  method: string;
  params: Record<string, unknown>;
  authorization: string | undefined;
  at: number;
}

/** A Socket Mode envelope as Slack sends it over the WebSocket. */
export interface SocketEnvelope {
  envelope_id: string;
  type: 'events_api' | 'interactive' | 'slash_commands';
  payload: Record<string, unknown>;
  accepts_response_payload: boolean;
  retry_attempt?: number;
  retry_reason?: string;
}

/** An acknowledgement the client sent for an envelope. */
export interface SocketAck {
  envelopeId: string;
  payload: unknown;
  /** What `onSocketAck` returned for it (e.g. the goal count at that moment). */
  observed: unknown;
}

/** One Socket Mode WebSocket connection (opened with a ticket from `apps.connections.open`). */
export interface SocketConnection {
  ticket: string;
  open: boolean;
}

/**
 * A fake Slack Web API on loopback that records every call (`SLACK_API_URL` points here). Answers
 * like Slack: `ok: true`, message timestamps, and `auth.test` for the bot `UBOT`. It also plays
 * Slack's Socket Mode endpoint: `apps.connections.open` (app token only) returns a `ws://` URL on
 * this server, where the fake says hello, sends envelopes and records the client's acks.
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
  /** Socket Mode connections, oldest first. */
  readonly connections: SocketConnection[] = [];
  /** Every ack received over Socket Mode (recorded once `onSocketAck`'s result has settled). */
  readonly acks: SocketAck[] = [];
  /** Runs when an ack arrives, before it is recorded; its result is kept as `observed`. */
  onSocketAck: ((envelopeId: string) => unknown) | undefined;
  readonly #sockets: LoopbackWebSocket[] = [];
  #envelopeSequence = 0;
  readonly #tickets = new Set<string>();

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
    this.#server.on('upgrade', (request, socket) => this.#upgrade(request, socket));
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.#base = `http://127.0.0.1:${port}`;
    return `${this.#base}/api/`;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.close(1001);
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  /** Calls of one method. */
  of(method: string): SlackCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  /** Wait until `predicate` holds over the recorded calls (bounded). */
  async waitFor(predicate: (calls: SlackCall[]) => boolean, timeoutMs = 20_000): Promise<void> {
    await this.#until(
      () => predicate(this.calls),
      timeoutMs,
      () => `condition not met; calls: ${this.calls.map((call) => call.method).join(', ')}`,
    );
  }

  /**
   * Send an envelope on the newest open Socket Mode connection; returns its envelope id. Slack
   * gives every delivery, redeliveries included, its own envelope id.
   */
  sendEnvelope(input: {
    type: SocketEnvelope['type'];
    payload: Record<string, unknown>;
    retryAttempt?: number;
    retryReason?: string;
  }): string {
    const socket = this.#sockets.findLast((candidate) => candidate.isOpen);
    if (!socket) throw new Error('fake Slack: no open Socket Mode connection');
    this.#envelopeSequence += 1;
    const envelope: SocketEnvelope = {
      envelope_id: `env-${this.#envelopeSequence}`,
      type: input.type,
      payload: input.payload,
      accepts_response_payload: input.type !== 'events_api',
      ...(input.retryAttempt !== undefined ? { retry_attempt: input.retryAttempt } : {}),
      ...(input.retryReason !== undefined ? { retry_reason: input.retryReason } : {}),
    };
    socket.sendText(JSON.stringify(envelope));
    return envelope.envelope_id;
  }

  /** Acks received for one envelope. */
  acksFor(envelopeId: string): SocketAck[] {
    return this.acks.filter((ack) => ack.envelopeId === envelopeId);
  }

  /** Wait for the ack of an envelope (bounded). */
  async waitForAck(envelopeId: string, timeoutMs = 20_000): Promise<SocketAck> {
    await this.#until(
      () => this.acksFor(envelopeId).length > 0,
      timeoutMs,
      () => `no ack for ${envelopeId}`,
    );
    return this.acksFor(envelopeId)[0] as SocketAck;
  }

  /** Wait until the `count`-th Socket Mode connection is open (bounded). */
  async waitForConnection(count: number, timeoutMs = 20_000): Promise<void> {
    await this.#until(
      () => this.connections[count - 1]?.open === true,
      timeoutMs,
      () => `Socket Mode connection ${count} not open; saw ${this.connections.length}`,
    );
  }

  /** Ask the client to reconnect, as Slack does when it recycles a connection. */
  requestReconnect(): void {
    for (const socket of this.#sockets) {
      if (socket.isOpen) socket.sendText(JSON.stringify({ type: 'disconnect', reason: 'refresh_requested' }));
    }
  }

  #upgrade(request: IncomingMessage, socket: Duplex): void {
    const url = new URL(request.url ?? '/', 'http://fake');
    const ticket = url.searchParams.get('ticket') ?? '';
    if (url.pathname !== '/link/' || !this.#tickets.delete(ticket)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\n\r\n');
      return;
    }
    const connection: SocketConnection = { ticket, open: true };
    const websocket = LoopbackWebSocket.accept(request, socket, {
      onText: (text) => this.#onSocketText(text),
      onClose: () => {
        connection.open = false;
      },
    });
    if (!websocket) return;
    this.connections.push(connection);
    this.#sockets.push(websocket);
    websocket.sendText(
      JSON.stringify({
        type: 'hello',
        num_connections: 1,
        debug_info: { host: 'fake', approximate_connection_time: 3600 },
        connection_info: { app_id: 'A1' },
      }),
    );
  }

  #onSocketText(text: string): void {
    let message: { envelope_id?: unknown; payload?: unknown };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return;
    }
    if (typeof message.envelope_id !== 'string') return;
    const envelopeId = message.envelope_id;
    const observed = this.onSocketAck?.(envelopeId);
    void Promise.resolve(observed).then(
      (value) => this.acks.push({ envelopeId, payload: message.payload, observed: value }),
      (error: unknown) => this.acks.push({ envelopeId, payload: message.payload, observed: error }),
    );
  }

  async #until(condition: () => boolean, timeoutMs: number, failure: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`fake Slack: ${failure()}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
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
      case 'apps.connections.open': {
        // Socket Mode needs the app-level token; a bot token is refused as Slack does.
        if (!/^Bearer xapp-/.test(call.authorization ?? ''))
          return { ok: false, error: 'not_allowed_token_type' };
        this.#sequence += 1;
        const ticket = `ticket-${this.#sequence}`;
        this.#tickets.add(ticket);
        return { ok: true, url: `${this.#base.replace(/^http/, 'ws')}/link/?ticket=${ticket}` };
      }
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
