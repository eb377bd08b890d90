import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header names of a signed playbook webhook delivery (Node lower-cases incoming names). */
export const PLAYBOOK_SIGNATURE_HEADER = 'x-spine-signature';
export const PLAYBOOK_TIMESTAMP_HEADER = 'x-spine-timestamp';
export const PLAYBOOK_DELIVERY_HEADER = 'x-spine-delivery';

/**
 * How far a delivery's timestamp may be from Spine's clock, either way. Within it a captured
 * request can only be replayed under its own delivery id, which runs once; past it, not at all.
 */
export const PLAYBOOK_WEBHOOK_TOLERANCE_SECONDS = 300;

/**
 * A delivery id: letters, digits, `.`, `_`, `-` (a UUID, a GitHub or Stripe delivery id). No `:`,
 * so `v1:{timestamp}:{delivery}:{body}` can only be split one way.
 */
export const DELIVERY_ID = /^[A-Za-z0-9._-]{1,200}$/;

/** Why a delivery was refused; each maps to one HTTP answer in `bot/playbook-webhook.ts`. */
export type DeliveryRefusal =
  | 'missing_signature'
  | 'legacy_signature'
  | 'bad_timestamp'
  | 'stale_timestamp'
  | 'bad_delivery'
  | 'bad_signature';

/** The bytes signed: `v1:{timestamp}:{delivery id}:{raw body}`. */
export function signedPayload(timestamp: number | string, delivery: string, body: Buffer | string): Buffer {
  return Buffer.concat([
    Buffer.from(`v1:${timestamp}:${delivery}:`, 'utf8'),
    typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
  ]);
}

/**
 * `v1=` + hex HMAC-SHA256 of `v1:{timestamp}:{delivery id}:{raw body}` under the playbook's webhook
 * secret: the value of `X-Spine-Signature`.
 *
 * @example playbookSignature(secret, 1767607200, 'd-1', '{"name":"Dana"}') // "v1=5f0c…"
 */
export function playbookSignature(
  secret: string,
  timestamp: number | string,
  delivery: string,
  body: Buffer | string,
): string {
  return `v1=${createHmac('sha256', secret)
    .update(signedPayload(timestamp, delivery, body))
    .digest('hex')}`;
}

/**
 * Check a delivery's headers against the secret and the clock. The order is the answer's: headers
 * present and well-formed, the timestamp within the tolerance, then the signature (compared in
 * constant time). `secret` is null for an unknown playbook, which fails like a bad signature.
 */
export function verifyPlaybookDelivery(input: {
  secret: string | null;
  body: Buffer;
  signature: string | undefined;
  timestamp: string | undefined;
  delivery: string | undefined;
  nowSeconds: number;
}): { ok: true; delivery: string } | { ok: false; reason: DeliveryRefusal } {
  const signature = input.signature?.trim();
  if (!signature) return { ok: false, reason: 'missing_signature' };
  if (signature.startsWith('sha256=')) return { ok: false, reason: 'legacy_signature' };
  const timestamp = input.timestamp?.trim() ?? '';
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'bad_timestamp' };
  if (Math.abs(input.nowSeconds - Number(timestamp)) > PLAYBOOK_WEBHOOK_TOLERANCE_SECONDS)
    return { ok: false, reason: 'stale_timestamp' };
  const delivery = input.delivery?.trim() ?? '';
  if (!DELIVERY_ID.test(delivery)) return { ok: false, reason: 'bad_delivery' };
  if (input.secret === null) return { ok: false, reason: 'bad_signature' };
  const expected = Buffer.from(playbookSignature(input.secret, timestamp, delivery, input.body));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    return { ok: false, reason: 'bad_signature' };
  return { ok: true, delivery };
}
