import { SpineError } from '../core/errors.ts';

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
        details: { status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
      },
    );
  }
  const retryable = status >= 500 || status === 408;
  return new SpineError(
    retryable ? 'connector.unavailable' : 'connector.rejected',
    retryable
      ? `${connector} had a problem on its side (HTTP ${status}): ${detail}`
      : `${connector} refused the request (HTTP ${status}): ${detail}. Check the connector's settings in spine.config.yaml.`,
    { category: retryable ? 'third_party' : 'user', retryable, details: { status } },
  );
}

/** A network-level failure (refused, reset, DNS): retryable. */
export function networkError(connector: string, error: unknown): SpineError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? '';
  const message = error instanceof Error ? error.message : String(error);
  return new SpineError('connector.unreachable', `${connector} could not be reached: ${code || message}.`, {
    category: 'third_party',
    retryable: true,
    details: { code: code || null },
    cause: error,
  });
}

/** The wait a failure asks for (429 Retry-After), if any. */
export function retryAfterOf(error: unknown): number | undefined {
  if (!(error instanceof SpineError)) return undefined;
  const value = error.details.retryAfterMs;
  return typeof value === 'number' ? value : undefined;
}
