import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App, Receiver } from '@slack/bolt';
import type { Logger } from 'pino';
import { hasCode } from '../../core/errors.ts';
import { type HttpRoute, readRawBody, sendJson } from '../http-route.ts';
import type { SlackDeliveryGuard } from './delivery-guard.ts';
import { runListeners } from './run-listeners.ts';
import { verifySlackRequest } from './slack-signature.ts';

export const SLACK_EVENTS_PATH = '/slack/events';

export interface SpineSlackReceiverOptions {
  signingSecret: string;
  logger: Logger;
  now?: () => number;
  ackBudgetMs?: number;
  /** The team check and the dead-lettering of an event's failed last delivery. */
  guard?: SlackDeliveryGuard;
}

/**
 * Bolt's transport on Spine's own HTTP server (`POST /slack/events`, for events, interactivity and
 * the slash command). Order per request: verify (two-sided timestamp + v0 signature) → parse →
 * let Bolt run the listeners, which record (dedupe + goal) → answer. The response is written after
 * the listeners finish, so a 2xx means "recorded"; if Postgres fails the listener throws and Slack
 * gets a 500 and retries. A listener still running at the ack budget (2.5 s) gets: 503 for events
 * (Slack retries; the inbox dedupes), 200 for clicks and commands (Slack does not retry those).
 * A request for another workspace is refused, and an event whose last delivery failed is set
 * aside: both are answered 200, so Slack stops sending them.
 */
export class SpineSlackReceiver implements Receiver {
  #app: App | undefined;
  readonly #options: SpineSlackReceiverOptions;

  constructor(options: SpineSlackReceiverOptions) {
    this.#options = options;
  }

  init(app: App): void {
    this.#app = app;
  }

  /** Nothing to open: the route lives on Spine's server. */
  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  route(): HttpRoute {
    return {
      method: 'POST',
      path: SLACK_EVENTS_PATH,
      handle: (request, response) => this.#handle(request, response),
    };
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { logger } = this.#options;
    let rawBody: Buffer;
    try {
      rawBody = await readRawBody(request);
    } catch (error) {
      if (hasCode(error, 'http.body_too_large')) return sendJson(response, 413, { error: 'body_too_large' });
      throw error;
    }
    const check = verifySlackRequest({
      signingSecret: this.#options.signingSecret,
      timestamp: header(request, 'x-slack-request-timestamp'),
      signature: header(request, 'x-slack-signature'),
      rawBody,
      nowMs: (this.#options.now ?? Date.now)(),
    });
    if (!check.ok) {
      logger.warn(
        { reason: check.reason, bytes: rawBody.length },
        'refused a Slack request that failed verification',
      );
      return sendJson(response, 401, { error: 'unauthorized', reason: check.reason });
    }
    const body = parseSlackBody(rawBody, header(request, 'content-type') ?? '');
    if (!body) {
      logger.warn(
        { bytes: rawBody.length },
        'refused a signed Slack request with a body that is not JSON or a form',
      );
      return sendJson(response, 400, { error: 'bad_request', message: 'The body is not a Slack payload.' });
    }
    if (body.type === 'url_verification' && typeof body.challenge === 'string') {
      return sendJson(response, 200, { challenge: body.challenge });
    }
    if (body.type === 'ssl_check') return sendJson(response, 200);
    const app = this.#app;
    if (!app) return sendJson(response, 503, { error: 'not_ready' });

    const outcome = await runListeners(app, { body, ...retryHeaders(request) }, this.#options);
    if (outcome.kind === 'failed') {
      return sendJson(response, 500, {
        error: 'internal',
        message: 'Spine could not record this; retry later.',
      });
    }
    if (outcome.kind === 'refused' || outcome.kind === 'dead_lettered') return sendJson(response, 200);
    if (outcome.kind === 'late') {
      if (body.type === 'event_callback') return sendJson(response, 503, { error: 'busy' });
      return sendJson(response, 200);
    }
    const ackBody = outcome.reply;
    if (ackBody === undefined || ackBody === '') return sendJson(response, 200);
    if (typeof ackBody === 'string') {
      response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      response.end(ackBody);
      return;
    }
    return sendJson(response, 200, ackBody);
  }
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function retryHeaders(request: IncomingMessage): { retryNum?: number; retryReason?: string } {
  const num = header(request, 'x-slack-retry-num');
  const reason = header(request, 'x-slack-retry-reason');
  return {
    ...(num && /^\d+$/.test(num) ? { retryNum: Number(num) } : {}),
    ...(reason ? { retryReason: reason } : {}),
  };
}

/** JSON for events; a form for interactivity (`payload=<json>`) and slash commands. Null if neither. */
export function parseSlackBody(rawBody: Buffer, contentType: string): Record<string, unknown> | null {
  const text = rawBody.toString('utf8');
  try {
    if (contentType.includes('application/x-www-form-urlencoded')) {
      const form = Object.fromEntries(new URLSearchParams(text));
      if (typeof form.payload === 'string') return asObject(JSON.parse(form.payload));
      return typeof form.command === 'string' ? form : null;
    }
    return asObject(JSON.parse(text));
  } catch {
    return null;
  }
}

function asObject(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}
