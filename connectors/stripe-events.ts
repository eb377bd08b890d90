import type { Logger } from 'pino';
import Stripe from 'stripe';
import { describeError } from '../core/errors.ts';
import type { InboundSink } from '../core/inbound.ts';
import type { Queryable } from '../db/database.ts';
import { InboundDeliveryRepository } from '../db/repositories/inbound-deliveries.ts';

export interface StripeWebhookOptions {
  /** The endpoint's signing secret (`whsec_…`, STRIPE_WEBHOOK_SECRET). */
  secret: string;
  db: Queryable;
  sink: InboundSink;
  /** The operator the Stripe account belongs to, set on every event. */
  operatorId?: number | undefined;
  logger: Logger;
  /** Oldest accepted signature, in seconds (Stripe's default: 300). */
  toleranceSeconds?: number;
}

/** What to answer Stripe: 2xx tells it the delivery arrived, anything else makes it retry. */
export interface WebhookAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * One Stripe webhook delivery: the signature is verified over the raw body with the official SDK
 * (forged or stale → 400, nothing done); a valid event is handed to the sink as an InboundEvent and
 * acknowledged only after the sink resolved (Stripe retries otherwise: at least once). An event id
 * handed on before is acknowledged without handing it on again.
 */
export async function receiveStripeWebhook(
  options: StripeWebhookOptions,
  rawBody: Buffer,
  signature: string | undefined,
): Promise<WebhookAnswer> {
  let event: Stripe.Event;
  try {
    if (!signature) throw new Error('no Stripe-Signature header');
    event = Stripe.webhooks.constructEvent(rawBody, signature, options.secret, options.toleranceSeconds);
  } catch (error) {
    options.logger.warn({ err: describeError(error) }, 'refused a Stripe webhook with a bad signature');
    return {
      status: 400,
      body: {
        error: 'invalid_signature',
        message: 'The Stripe-Signature header does not match this endpoint.',
      },
    };
  }
  const deliveries = new InboundDeliveryRepository(options.db);
  if (await deliveries.seen('stripe', event.id))
    return { status: 200, body: { received: true, duplicate: true } };
  try {
    await options.sink({
      source: 'stripe',
      id: event.id,
      type: event.type,
      ...(options.operatorId === undefined ? {} : { operatorId: options.operatorId }),
      occurredAt: new Date(event.created * 1000),
      payload: event as unknown as Record<string, unknown>,
    });
  } catch (error) {
    options.logger.error(
      { err: describeError(error), eventId: event.id },
      'a Stripe event could not be handed on',
    );
    return {
      status: 500,
      body: { error: 'not_accepted', message: 'Spine could not accept the event; Stripe will retry.' },
    };
  }
  await deliveries.record('stripe', event.id, event.type);
  return { status: 200, body: { received: true } };
}
