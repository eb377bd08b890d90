import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TelegramCall {
  method: string;
  params: Record<string, unknown>;
  token: string;
  at: number;
}

export const FAKE_BOT = { id: 999, is_bot: true, first_name: 'Spine', username: 'spine_bot' };

/**
 * A fake Telegram Bot API on loopback (`TELEGRAM_API_ROOT` points here) that records every call
 * and serves `getUpdates` from a queue the test fills, like Telegram's long polling.
 */
export class FakeTelegramApi {
  readonly calls: TelegramCall[] = [];
  /** Chats whose user blocked the bot: `sendMessage` there fails with 403, as on Telegram. */
  readonly blockedChats = new Set<number>();
  #updates: Array<Record<string, unknown>> = [];
  #waiters: Array<() => void> = [];
  #server: Server | undefined;
  #sequence = 0;
  readonly #files = new Map<string, { path: string; bytes: Uint8Array }>();

  /** Make a file downloadable (`getFile` + the file endpoint) under this file id. */
  addFile(fileId: string, name: string, bytes: Uint8Array): void {
    this.#files.set(fileId, { path: `documents/${fileId}-${name}`, bytes });
  }

  async start(): Promise<string> {
    this.#server = createServer((request, response) => {
      // Downloads: GET /file/bot<token>/<file_path>, as the Bot API serves them.
      const download = /^\/file\/bot([^/]+)\/(.+)$/.exec(request.url ?? '');
      if (download) {
        const bytes = [...this.#files.values()].find((file) => file.path === download[2])?.bytes;
        this.calls.push({
          method: 'file',
          params: { path: download[2] },
          token: download[1] ?? '',
          at: Date.now(),
        });
        response.writeHead(bytes ? 200 : 404);
        response.end(bytes ? Buffer.from(bytes) : undefined);
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
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    for (const wake of this.#waiters.splice(0)) wake();
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  /** Queue an update for long polling. */
  push(update: Record<string, unknown>): void {
    this.#updates.push(update);
    for (const wake of this.#waiters.splice(0)) wake();
  }

  of(method: string): TelegramCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  async waitFor(predicate: (calls: TelegramCall[]) => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.calls)) {
      if (Date.now() > deadline) {
        throw new Error(
          `fake Telegram: condition not met; calls: ${this.calls.map((call) => call.method).join(', ')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async #handle(request: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const match = /^\/bot([^/]+)\/(\w+)/.exec(request.url ?? '');
    const token = match?.[1] ?? '';
    const method = match?.[2] ?? '';
    const params = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    if (method !== 'getUpdates') this.calls.push({ method, params, token, at: Date.now() });
    switch (method) {
      case 'getMe':
        return {
          ok: true,
          result: {
            ...FAKE_BOT,
            can_join_groups: true,
            can_read_all_group_messages: false,
            supports_inline_queries: false,
          },
        };
      case 'getUpdates':
        return { ok: true, result: await this.#nextUpdates(params) };
      case 'sendMessage': {
        const chatId = Number(params.chat_id);
        if (this.blockedChats.has(chatId))
          return { ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' };
        this.#sequence += 1;
        return {
          ok: true,
          result: {
            message_id: 5000 + this.#sequence,
            date: 1_700_000_000,
            chat: { id: chatId, type: chatId < 0 ? 'group' : 'private' },
            text: params.text,
          },
        };
      }
      case 'getFile': {
        const file = this.#files.get(String(params.file_id));
        if (!file) return { ok: false, error_code: 400, description: 'Bad Request: invalid file_id' };
        return {
          ok: true,
          result: {
            file_id: params.file_id,
            file_unique_id: `u-${String(params.file_id)}`,
            file_size: file.bytes.length,
            file_path: file.path,
          },
        };
      }
      case 'editMessageText':
        return {
          ok: true,
          result: {
            message_id: Number(params.message_id),
            date: 1_700_000_000,
            chat: { id: Number(params.chat_id), type: 'private' },
            text: params.text,
          },
        };
      default:
        return { ok: true, result: true };
    }
  }

  async #nextUpdates(params: Record<string, unknown>): Promise<unknown[]> {
    const offset = Number(params.offset ?? 0);
    // Confirming: everything below the offset is gone, as on Telegram.
    this.#updates = this.#updates.filter((update) => Number(update.update_id) >= offset);
    if (this.#updates.length === 0) {
      const waitMs = Math.min(Number(params.timeout ?? 0) * 1000, 1_000);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.#updates.filter((update) => Number(update.update_id) >= offset);
  }
}
