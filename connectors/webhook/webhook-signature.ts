import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header names of a signed Spine webhook request. */
export const SIGNATURE_HEADER = 'x-spine-signature';
export const TIMESTAMP_HEADER = 'x-spine-timestamp';
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/**
 * The signature of a webhook body: `v1=` + hex HMAC-SHA256 of `v1:<unix seconds>:<raw body>`
 * with the endpoint's secret. The timestamp is signed so a captured request cannot be replayed later.
 */
export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  const digest = createHmac('sha256', secret).update(`v1:${timestampSeconds}:${body}`).digest('hex');
  return `v1=${digest}`;
}

/**
 * Verify a signed request as a receiver should: the signature matches and the timestamp is within
 * `toleranceSeconds` of now in either direction.
 */
export function verifyWebhook(input: {
  secret: string;
  body: string;
  signature: string | undefined;
  timestamp: string | undefined;
  nowSeconds: number;
  toleranceSeconds?: number;
}): boolean {
  if (!input.signature || !input.timestamp || !/^\d{1,12}$/.test(input.timestamp)) return false;
  const timestamp = Number(input.timestamp);
  if (Math.abs(input.nowSeconds - timestamp) > (input.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(signWebhook(input.secret, timestamp, input.body));
  const given = Buffer.from(input.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
