import type { Logger } from 'pino';
import { type HttpRoute, readRawBody, sendJson } from '../bot/http-route.ts';
import { ImapSource } from '../connectors/imap/imap-source.ts';
import { receiveStripeWebhook } from '../connectors/stripe-events.ts';
import type { Clock } from '../core/clock.ts';
import type { InboundSink } from '../core/inbound.ts';
import type { Queryable } from '../db/database.ts';
import { ingestEmail } from '../memory/email-ingest.ts';
import type { MemoryStore } from '../memory/memory-store.ts';
import type { Config } from './config.ts';

/** Inbound sources (the IMAP mailbox, Stripe webhooks) and where their events go. */
export interface Inbound {
  /** `POST /stripe/webhook`, when STRIPE_WEBHOOK_SECRET is set. */
  routes: HttpRoute[];
  /** Hand events to this consumer from now on (the playbook triggers). */
  setSink(sink: InboundSink): void;
  /** Start reading the mailbox (long-running processes only). */
  start(): void;
  stop(): Promise<void>;
}

/**
 * Wire the configured inbound sources to a sink. Without a consumer, events are logged and dropped
 * (the memory of an e-mail is still stored).
 */
export function createInbound(input: {
  config: Config;
  db: Queryable;
  memory: MemoryStore;
  operatorId: number;
  logger: Logger;
  clock: Clock;
  sink?: InboundSink | undefined;
}): Inbound {
  const { config, logger } = input;
  const dropping: InboundSink = async (event) => {
    logger.info(
      { source: event.source, id: event.id, type: event.type },
      'inbound event with no consumer: dropped',
    );
  };
  let current = input.sink ?? dropping;
  const sink: InboundSink = (event) => current(event);
  const routes: HttpRoute[] = [];
  const secret = config.inbound.stripeWebhookSecret;
  if (secret) {
    routes.push({
      method: 'POST',
      path: '/stripe/webhook',
      async handle(request, response) {
        const body = await readRawBody(request);
        const header = request.headers['stripe-signature'];
        const answer = await receiveStripeWebhook(
          { secret, db: input.db, sink, logger, operatorId: input.operatorId },
          body,
          Array.isArray(header) ? header[0] : header,
        );
        sendJson(response, answer.status, answer.body);
      },
    });
  }
  const imap = config.inbound.imap
    ? new ImapSource({
        settings: config.inbound.imap,
        db: input.db,
        ingest: (email) => ingestEmail(input.memory, { operatorId: input.operatorId, email }),
        sink,
        operatorId: input.operatorId,
        logger,
        clock: input.clock,
      })
    : undefined;
  return {
    routes,
    setSink(next) {
      current = next;
    },
    start: () => imap?.start(),
    stop: async () => imap?.stop(),
  };
}
