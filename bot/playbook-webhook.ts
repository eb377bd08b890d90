import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { InboundSink } from '../core/inbound.ts';
import type { PlaybookStore } from '../playbooks/playbook-store.ts';
import {
  type DeliveryRefusal,
  PLAYBOOK_DELIVERY_HEADER,
  PLAYBOOK_SIGNATURE_HEADER,
  PLAYBOOK_TIMESTAMP_HEADER,
  PLAYBOOK_WEBHOOK_TOLERANCE_SECONDS,
  verifyPlaybookDelivery,
} from '../playbooks/webhook-signature.ts';
import { type HttpRoute, readRawBody, sendJson } from './http-route.ts';

const PATH = /^\/playbooks\/([a-z0-9][a-z0-9-]{0,62})\/webhook$/;

const HOW_TO_SIGN =
  'Send X-Spine-Timestamp: <Unix seconds>, X-Spine-Delivery: <unique id> and X-Spine-Signature: ' +
  'v1=<hex HMAC-SHA256 of "v1:{timestamp}:{delivery}:{raw body}" with the playbook’s webhook secret> ' +
  '(README.md, "Playbook webhooks").';

/** The HTTP answer to each refusal: a stable code and what to do about it. */
const REFUSALS: Record<DeliveryRefusal, { status: number; message: string }> = {
  missing_signature: { status: 401, message: `The request is not signed. ${HOW_TO_SIGN}` },
  legacy_signature: {
    status: 401,
    message: `The sha256=<HMAC of the body> signature is no longer accepted: it could be replayed for ever. ${HOW_TO_SIGN}`,
  },
  bad_timestamp: {
    status: 401,
    message: `X-Spine-Timestamp is missing or not Unix seconds. ${HOW_TO_SIGN}`,
  },
  stale_timestamp: {
    status: 401,
    message: `X-Spine-Timestamp is more than ${PLAYBOOK_WEBHOOK_TOLERANCE_SECONDS / 60} minutes from Spine's clock: sign each delivery when it is sent (and check the sender's clock).`,
  },
  bad_delivery: {
    status: 400,
    message: 'X-Spine-Delivery must be a unique id per delivery: 1-200 letters, digits, ".", "_" or "-".',
  },
  bad_signature: {
    status: 401,
    message: `X-Spine-Signature does not match. ${HOW_TO_SIGN}`,
  },
};

/**
 * `POST /playbooks/<name>/webhook`: one URL per playbook. The sender signs
 * `v1:{timestamp}:{delivery id}:{body}` with the playbook's secret; a timestamp more than five
 * minutes away either way, a forged signature or an unknown playbook is refused (401, nothing
 * stored). A delivery id runs at most once: its repeat answers 200 `duplicate` and starts nothing.
 * The event goes through the inbound sink like any other.
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
      const verdict = verifyPlaybookDelivery({
        secret: playbook?.webhookSecret ?? null,
        body,
        signature: header(request.headers[PLAYBOOK_SIGNATURE_HEADER]),
        timestamp: header(request.headers[PLAYBOOK_TIMESTAMP_HEADER]),
        delivery: header(request.headers[PLAYBOOK_DELIVERY_HEADER]),
        nowSeconds: Math.floor(deps.clock.now().getTime() / 1000),
      });
      if (!verdict.ok || !playbook) {
        const reason = verdict.ok ? 'bad_signature' : verdict.reason;
        deps.logger.warn({ playbook: name, reason }, 'playbook webhook refused');
        const refusal = REFUSALS[reason];
        sendJson(response, refusal.status, { error: reason, message: refusal.message });
        return;
      }
      let parsed: unknown;
      try {
        parsed = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch {
        sendJson(response, 400, { error: 'invalid_json', message: 'The body is not JSON.' });
        return;
      }
      const id = `${playbook.name}:${verdict.delivery}`;
      const duplicate = await deps.store.hasEvent('webhook', id);
      // A repeat still goes to the sink, which starts nothing twice (one run per trigger key) but
      // finishes a first delivery that stopped between storing the event and starting its run.
      await deps.sink({
        source: 'webhook',
        id,
        type: 'webhook',
        occurredAt: deps.clock.now(),
        payload: { playbook: playbook.name, delivery: verdict.delivery, body: parsed },
        operatorId: playbook.operatorId,
      });
      if (duplicate) {
        deps.logger.info(
          { playbook: playbook.name, delivery: verdict.delivery },
          'playbook webhook delivery repeated; nothing new started',
        );
        sendJson(response, 200, { accepted: true, duplicate: true });
        return;
      }
      sendJson(response, 202, { accepted: true, duplicate: false, enabled: playbook.enabled });
    },
  };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
