import { SpineError } from '../core/errors.ts';

/**
 * What a failure proves about the request, in `SpineError.details.delivery`:
 * - `not_sent`: it cannot have reached the other side (connection refused, DNS, TLS before the
 *   request, a 429 or 408 the service answered without doing anything) — safe to try again;
 * - `refused`: the service answered that it will not do it (a 4xx; an SMTP 4xx/5xx reply) —
 *   nothing happened, and trying again the same way will not help;
 * - absent: it may have reached the other side (a reset mid-request, a timeout, a 5xx).
 */
export type DeliveryProof = 'not_sent' | 'refused';

/** The delivery proof a failure carries, if any. */
export function deliveryProof(error: unknown): DeliveryProof | undefined {
  if (!(error instanceof SpineError)) return undefined;
  const value = error.details.delivery;
  return value === 'not_sent' || value === 'refused' ? value : undefined;
}

/** Network errors that happen before a request leaves: nothing can have reached the service. */
const BEFORE_SENDING = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_INVALID_URL',
]);

/** Retry-After as milliseconds: either delta-seconds or an HTTP date. Undefined when absent or unparseable. */
export function parseRetryAfter(
  value: string | null | undefined,
  now: Date = new Date(),
): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}

/**
 * The error a connector throws for a service's answer. 429 carries the wait the service asked for;
 * 5xx and 408 are retryable; other 4xx are the request's fault and are not retried.
 */
export function serviceError(
  connector: string,
  status: number,
  detail: string,
  retryAfterMs?: number,
): SpineError {
  if (status === 429) {
    return new SpineError(
      'connector.rate_limited',
      `${connector} asked Spine to slow down (HTTP 429)${retryAfterMs === undefined ? '' : `; it said to retry after ${Math.ceil(retryAfterMs / 1000)} s`}.`,
      {
        category: 'third_party',
        retryable: true,
        details: { status, delivery: 'not_sent', ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
      },
    );
  }
  const retryable = status >= 500 || status === 408;
  // A 5xx may come after the work was done (committed, then the answer failed): no proof.
  const delivery: DeliveryProof | null = status === 408 ? 'not_sent' : status >= 500 ? null : 'refused';
  return new SpineError(
    retryable ? 'connector.unavailable' : 'connector.rejected',
    retryable
      ? `${connector} had a problem on its side (HTTP ${status}): ${detail}`
      : `${connector} refused the request (HTTP ${status}): ${detail}. Check the connector's settings in spine.config.yaml.`,
    { category: retryable ? 'third_party' : 'user', retryable, details: { status, delivery } },
  );
}

/**
 * A network-level failure (refused, reset, DNS): retryable. Refused, DNS and TLS failures prove
 * nothing was sent; a reset or a closed socket mid-request does not.
 */
export function networkError(connector: string, error: unknown): SpineError {
  const code = errnoOf(error);
  const message = error instanceof Error ? error.message : String(error);
  return new SpineError('connector.unreachable', `${connector} could not be reached: ${code || message}.`, {
    category: 'third_party',
    retryable: true,
    details: { code: code || null, delivery: BEFORE_SENDING.has(code) ? 'not_sent' : null },
    cause: error,
  });
}

/** The errno-style code of a network error; fetch (undici) keeps it on `cause`. */
function errnoOf(error: unknown): string {
  const own = (error as NodeJS.ErrnoException | undefined)?.code;
  if (own) return own;
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  return cause && cause !== error ? errnoOf(cause) : '';
}

/** The wait a failure asks for (429 Retry-After), if any. */
export function retryAfterOf(error: unknown): number | undefined {
  if (!(error instanceof SpineError)) return undefined;
  const value = error.details.retryAfterMs;
  return typeof value === 'number' ? value : undefined;
}
