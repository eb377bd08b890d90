import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { InboundSink } from '../core/inbound.ts';
import type { PlaybookStore } from '../playbooks/playbook-store.ts';
import { type HttpRoute, readRawBody, sendJson } from './http-route.ts';

/** `sha256=<hex>` of the raw body under the playbook's webhook secret. */
export function playbookSignature(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function signatureMatches(expected: string, given: string | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given.trim());
  return a.length === b.length && timingSafeEqual(a, b);
}

const PATH = /^\/playbooks\/([a-z0-9][a-z0-9-]{0,62})\/webhook$/;

/**
 * `POST /playbooks/<name>/webhook`: one URL per playbook, HMAC-SHA256 of the raw body with the
 * playbook's secret in `X-Spine-Signature: sha256=<hex>` (forged or missing → 401, nothing stored),
 * deduplicated on `X-Spine-Delivery`. The event goes through the inbound sink like any other.
 */
export function playbookWebhookRoute(deps: {
  store: PlaybookStore;
  sink: InboundSink;
  clock: Clock;
  logger: Logger;
}): HttpRoute {
  return {
    method: 'POST',
    path: '/playbooks/*',
    async handle(request, response) {
      const name = PATH.exec(new URL(request.url ?? '/', 'http://localhost').pathname)?.[1];
      const playbook = name
        ? (await deps.store.list()).find((candidate) => candidate.name === name)
        : undefined;
      const body = await readRawBody(request);
      // An unknown playbook answers like a bad signature: the URL alone reveals nothing.
      if (
        !playbook ||
        !signatureMatches(
          playbookSignature(playbook.webhookSecret, body),
          header(request.headers['x-spine-signature']),
        )
      ) {
        deps.logger.warn({ playbook: name }, 'playbook webhook refused: bad or missing signature');
        sendJson(response, 401, {
          error: 'unauthorized',
          message: 'The X-Spine-Signature header does not match.',
        });
        return;
      }
      const delivery = header(request.headers['x-spine-delivery']);
      if (!delivery || delivery.length > 200) {
        sendJson(response, 400, {
          error: 'missing_delivery',
          message: 'Send a unique X-Spine-Delivery id per delivery.',
        });
        return;
      }
      let parsed: unknown;
      try {
        parsed = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch {
        sendJson(response, 400, { error: 'invalid_json', message: 'The body is not JSON.' });
        return;
      }
      await deps.sink({
        source: 'webhook',
        id: `${playbook.name}:${delivery}`,
        type: 'webhook',
        occurredAt: deps.clock.now(),
        payload: { playbook: playbook.name, delivery, body: parsed },
        operatorId: playbook.operatorId,
      });
      sendJson(response, 202, { accepted: true, enabled: playbook.enabled });
    },
  };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
