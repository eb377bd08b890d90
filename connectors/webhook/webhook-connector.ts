import { z } from 'zod';
import type { Clock } from '../../core/clock.ts';
import type { Preview, RiskClass } from '../../core/domain.ts';
import { SpineError } from '../../core/errors.ts';
import { headerSecrets, SECRET_MASK, SecretRedactor, urlSecrets } from '../../core/secret-redaction.ts';
import { type Connector, defineOperation, type ExecutionContext } from '../connector.ts';
import { networkError, parseRetryAfter, serviceError } from '../connector-errors.ts';
import { IDEMPOTENCY_HEADER, SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from './webhook-signature.ts';

/** One HTTP request a webhook sends: the action itself, or its compensation. */
export interface WebhookRequestConfig {
  url: string;
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers: Record<string, string>;
}

/** An operator-configured endpoint (Zapier, Make, n8n, their own service). */
export interface WebhookConfig {
  name: string;
  description: string;
  request: WebhookRequestConfig;
  /** HMAC-SHA256 key; never logged or shown. */
  secret: string;
  risk: RiskClass;
  /**
   * The receiver honours the Idempotency-Key header (a repeat with the same key does nothing):
   * only then is a call whose answer was lost repeated. A `read` changes nothing, so it may be too.
   */
  idempotent?: boolean | undefined;
  /** The compensating request, making the webhook reversible. */
  undo?: WebhookRequestConfig | undefined;
}

export const webhookParams = z.object({
  payload: z.record(z.string(), z.unknown()),
});
export type WebhookParams = z.infer<typeof webhookParams>;

const MAX_RESPONSE_CHARS = 4000;

/**
 * A URL as previews show it: a password in it and every query value masked (`?token=…` is a
 * common way to put a credential in a webhook URL); scheme, host and path stay readable.
 */
export function maskedUrl(url: string): string {
  const parsed = new URL(url);
  if (!parsed.password && !parsed.search) return url;
  const user = parsed.username ? `${parsed.username}${parsed.password ? `:${SECRET_MASK}` : ''}@` : '';
  const keys = [...parsed.searchParams.keys()];
  const query = keys.length > 0 ? `?${keys.map((key) => `${key}=${SECRET_MASK}`).join('&')}` : '';
  return `${parsed.protocol}//${user}${parsed.host}${parsed.pathname}${query}`;
}

/**
 * The request as it will leave Spine (the signature is computed at send time). Every configured
 * header is shown by name with its value masked: previews become approval cards in chat,
 * `actions.preview` rows and events, and none of those may hold a credential. All values are
 * masked, not only ones that look secret, because `X-Api-Key` and friends have no fixed names.
 */
function describeRequest(request: WebhookRequestConfig, body: string): string {
  const headers = Object.keys(request.headers).map((name) => `${name}: ${SECRET_MASK}`);
  return [
    `${request.method} ${maskedUrl(request.url)}`,
    'Content-Type: application/json',
    ...headers,
    `${IDEMPOTENCY_HEADER}: <action key>`,
    `${TIMESTAMP_HEADER}: <unix seconds at send time>`,
    `${SIGNATURE_HEADER}: v1=<HMAC-SHA256 of v1:timestamp:body>`,
    '',
    body,
  ].join('\n');
}

async function send(
  config: WebhookConfig,
  request: WebhookRequestConfig,
  body: string,
  context: ExecutionContext,
  clock: Clock,
): Promise<{ status: number; response: unknown }> {
  const timestamp = Math.floor(clock.now().getTime() / 1000);
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: request.method,
      headers: {
        ...request.headers,
        'content-type': 'application/json',
        [IDEMPOTENCY_HEADER]: context.idempotencyKey,
        [TIMESTAMP_HEADER]: String(timestamp),
        [SIGNATURE_HEADER]: signWebhook(config.secret, timestamp, body),
      },
      body,
      signal: context.signal,
    });
  } catch (error) {
    if (context.signal.aborted) throw context.signal.reason ?? error;
    throw networkError(config.name, error);
  }
  const text = (await response.text()).slice(0, MAX_RESPONSE_CHARS);
  if (!response.ok) {
    throw serviceError(
      config.name,
      response.status,
      text.slice(0, 200) || response.statusText,
      parseRetryAfter(response.headers.get('retry-after'), clock.now()),
    );
  }
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: keep the text as the service's answer.
  }
  return { status: response.status, response: parsed };
}

/**
 * A signed HTTP request to an operator-configured endpoint. Each request carries the action's
 * idempotency key, so a retry after a timeout or a 5xx is recognised by the receiver; with an
 * `undo` request configured, the webhook is reversible.
 */
export function createWebhookConnector(config: WebhookConfig, clock: Clock): Connector {
  // A receiver may echo the request (a debug endpoint, an error page): its answer becomes the
  // action's result, an event and a chat message, so configured values are masked in it too.
  const redactor = new SecretRedactor([
    config.secret,
    ...headerSecrets(config.request.headers),
    ...urlSecrets(config.request.url),
    ...headerSecrets(config.undo?.headers ?? {}),
    ...urlSecrets(config.undo?.url ?? ''),
  ]);
  const unechoed = async <T>(work: Promise<T>): Promise<T> => {
    try {
      return redactor.redactDeep(await work);
    } catch (error) {
      if (error instanceof Error) error.message = redactor.redact(error.message);
      throw error;
    }
  };
  const previewOf = (request: WebhookRequestConfig, body: string, verb: string): Preview => ({
    title: `${verb} ${config.name} (${request.method} ${new URL(request.url).host})`,
    doing: `calling the ${config.name} webhook`,
    done: `called the ${config.name} webhook`,
    fields: [
      { label: 'Endpoint', value: `${request.method} ${maskedUrl(request.url)}` },
      { label: 'Payload', value: body },
    ],
    body: describeRequest(request, body),
  });
  const undoRequest = config.undo;
  const sendOperation = defineOperation({
    name: 'send',
    description: config.description,
    risk: config.risk,
    reversible: Boolean(undoRequest),
    external: true,
    retry: config.idempotent || config.risk === 'read' ? 'by_key' : 'until_sent',
    schema: webhookParams,
    // The target names the endpoint in trust rules and chat ("… to <target>"): masked like previews.
    target: () => maskedUrl(config.request.url),
    simulate: (params) => previewOf(config.request, JSON.stringify(params.payload), 'Call'),
    execute: (params, context) =>
      unechoed(send(config, config.request, JSON.stringify(params.payload), context, clock)),
    ...(undoRequest
      ? {
          undo: {
            simulate: (params: WebhookParams) => ({
              ...previewOf(undoRequest, JSON.stringify({ undo: params.payload }), 'Undo'),
              doing: `undoing the ${config.name} webhook call`,
              done: `undid the ${config.name} webhook call`,
            }),
            execute: (params: WebhookParams, result: unknown, context: ExecutionContext) => {
              if (!undoRequest)
                throw new SpineError('connector.not_reversible', `${config.name} has no undo request.`);
              return unechoed(
                send(
                  config,
                  undoRequest,
                  JSON.stringify({ undo: params.payload, original: result ?? null }),
                  context,
                  clock,
                ),
              );
            },
          },
        }
      : {}),
  });
  return { name: config.name, description: config.description, operations: { send: sendOperation } };
}
