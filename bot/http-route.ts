import type { IncomingMessage, ServerResponse } from 'node:http';
import { SpineError } from '../core/errors.ts';

/** A route an adapter mounts on Spine's HTTP server (Slack events, the Telegram webhook). */
export interface HttpRoute {
  method: 'GET' | 'POST';
  path: string;
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
}

/** Largest request body an adapter reads; platforms send far less (Slack ~ a few KB, Telegram ≤ 1 MB). */
export const MAX_BODY_BYTES = 1_048_576;

/** Read the whole body as bytes (signatures are computed over the raw bytes), refusing huge ones. */
export async function readRawBody(request: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      throw new SpineError('http.body_too_large', `The request body is larger than ${limit} bytes.`, {
        category: 'user',
      });
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** Write a JSON response (or an empty one) unless one was already written. */
export function sendJson(response: ServerResponse, status: number, body?: unknown): void {
  if (response.headersSent) return;
  if (body === undefined) {
    response.writeHead(status);
    response.end();
    return;
  }
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
