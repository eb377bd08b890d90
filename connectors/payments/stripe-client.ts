import { createHash } from 'node:crypto';
import Stripe from 'stripe';
import { SpineError } from '../../core/errors.ts';
import { networkError, parseRetryAfter, serviceError } from '../connector-errors.ts';

/** How Spine reaches Stripe: the secret key, and the API's address (tests and proxies change it). */
export interface StripeSettings {
  secretKey: string;
  /** `https://api.stripe.com` by default; `http://127.0.0.1:12111` for a fake or stripe-mock. */
  apiUrl?: string | undefined;
  /** Per-request timeout. */
  timeoutMs?: number | undefined;
}

/**
 * The official SDK pointed at the configured host. Its own network retries are off: the connector
 * runtime retries (with backoff, the circuit breaker and the same idempotency keys) in one place.
 */
export function createStripeClient(settings: StripeSettings): Stripe {
  const url = new URL(settings.apiUrl ?? 'https://api.stripe.com');
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return new Stripe(settings.secretKey, {
    host: url.hostname,
    port: url.port || (protocol === 'http' ? 80 : 443),
    protocol,
    maxNetworkRetries: 0,
    timeout: settings.timeoutMs ?? 30_000,
    telemetry: false,
  });
}

const MAX_KEY_LENGTH = 255;

/**
 * The Idempotency-Key of one Stripe write of an action: the action's key plus the step, so a retried
 * action sends the same keys and Stripe replays its first answers instead of charging twice.
 */
export function stripeIdempotencyKey(actionKey: string, step: string): string {
  const key = `spine:${actionKey}:${step}`;
  if (key.length <= MAX_KEY_LENGTH) return key;
  return `spine:${createHash('sha256').update(actionKey).digest('hex')}:${step}`.slice(0, MAX_KEY_LENGTH);
}

interface StripeErrorShape {
  type?: string;
  statusCode?: number;
  message?: string;
  headers?: Record<string, string | undefined>;
}

/**
 * A Stripe SDK error as the runtime's error classes: 429 and 5xx are retryable (429 with Stripe's
 * Retry-After), other 4xx are permanent with Stripe's own message, a connection failure is retryable.
 */
export function stripeError(error: unknown, now: Date = new Date()): unknown {
  if (error instanceof SpineError) return error;
  const shape = (error ?? {}) as StripeErrorShape;
  if (typeof shape.statusCode === 'number') {
    return serviceError(
      'Stripe',
      shape.statusCode,
      shape.message ?? 'no message',
      parseRetryAfter(shape.headers?.['retry-after'], now),
    );
  }
  if (shape.type === 'StripeConnectionError' || shape.type === 'StripeAPIError')
    return networkError('Stripe', error);
  return error;
}

/** Run one Stripe call and convert its failure. */
export async function callStripe<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw stripeError(error);
  }
}
