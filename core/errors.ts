/** Who is expected to fix an error: the operator (bad input), Spine (a bug or outage), or a third party. */
export type ErrorCategory = 'user' | 'system' | 'third_party';

/** JSON-safe details attached to an error; never put secrets here. */
export type ErrorDetails = Record<string, string | number | boolean | null | string[]>;

/**
 * The one error type Spine raises on purpose. `code` is stable (tests, logs and chat messages key
 * on it); `message` says what went wrong and what to do about it.
 *
 * @example throw new SpineError('config.invalid', 'SPINE_TIMEZONE is not a time zone', { category: 'user' })
 */
export class SpineError extends Error {
  readonly code: string;
  readonly category: ErrorCategory;
  readonly details: ErrorDetails;
  /** Retrying the same operation may succeed (timeouts, 5xx, locks). */
  readonly retryable: boolean;

  constructor(
    code: string,
    message: string,
    options: { category?: ErrorCategory; details?: ErrorDetails; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SpineError';
    this.code = code;
    this.category = options.category ?? 'system';
    this.details = options.details ?? {};
    this.retryable = options.retryable ?? false;
  }

  toJSON(): { code: string; category: ErrorCategory; message: string; details: ErrorDetails } {
    return { code: this.code, category: this.category, message: this.message, details: this.details };
  }
}

/** True when `error` is a SpineError with the given code. */
export function hasCode(error: unknown, code: string): error is SpineError {
  return error instanceof SpineError && error.code === code;
}

/** A plain string for any thrown value, for logs and failure records. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
