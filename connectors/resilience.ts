import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type IBackoff,
  type IBackoffFactory,
  type IRetryBackoffContext,
  retry,
  TaskCancelledError,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel';
import { describeError, SpineError } from '../core/errors.ts';
import { retryAfterOf } from './connector-errors.ts';

/** How hard the runtime tries before giving up, per call and per connector. */
export interface ResilienceOptions {
  /** Per-attempt timeout. */
  timeoutMs: number;
  /** Attempts in total, the first included. */
  maxAttempts: number;
  /** First backoff delay; later ones grow exponentially with decorrelated jitter. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** Longest Retry-After the runtime waits for; a longer one fails the call (retry later by hand). */
  maxRetryAfterMs: number;
  /** Consecutive failures that open a connector's circuit. */
  breakerThreshold: number;
  /** How long an open circuit stays open before one trial call. */
  halfOpenAfterMs: number;
}

export const DEFAULT_RESILIENCE: ResilienceOptions = {
  timeoutMs: 30_000,
  maxAttempts: 4,
  initialDelayMs: 200,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
  breakerThreshold: 5,
  halfOpenAfterMs: 30_000,
};

export type CircuitStateName = 'closed' | 'open' | 'half_open' | 'isolated';

/** A connector's health as `/healthz`, `status` and `spine connectors` show it. */
export interface ConnectorHealth {
  connector: string;
  circuit: CircuitStateName;
  consecutiveFailures: number;
  lastError: string | null;
  lastErrorAt: string | null;
  lastSuccessAt: string | null;
}

function stateName(state: CircuitState): CircuitStateName {
  switch (state) {
    case CircuitState.Closed:
      return 'closed';
    case CircuitState.Open:
      return 'open';
    case CircuitState.HalfOpen:
      return 'half_open';
    case CircuitState.Isolated:
      return 'isolated';
  }
}

/**
 * Exponential backoff with jitter, except after a 429: then exactly the wait the service asked for,
 * so no attempt is spent before the service is ready to take it.
 */
function retryAfterAware(
  inner: IBackoffFactory<IRetryBackoffContext<unknown>>,
): IBackoffFactory<IRetryBackoffContext<unknown>> {
  return {
    next(context): IBackoff<IRetryBackoffContext<unknown>> {
      const error = 'error' in context.result ? context.result.error : undefined;
      const asked = retryAfterOf(error);
      const fallback = asked === undefined ? inner.next(context) : undefined;
      return {
        duration: asked ?? fallback?.duration ?? 0,
        next: (later) => retryAfterAware(fallback ?? inner).next(later),
      };
    },
  };
}

/** Failures worth another attempt: retryable connector errors and per-attempt timeouts. */
function isRetryable(error: Error, options: ResilienceOptions): boolean {
  if (error instanceof BrokenCircuitError) return false;
  if (error instanceof TaskCancelledError) return true;
  if (error instanceof SpineError) {
    if (!error.retryable) return false;
    const wait = retryAfterOf(error);
    return wait === undefined || wait <= options.maxRetryAfterMs;
  }
  return false;
}

/** Failures that count against a connector's circuit: the service misbehaving, not bad input or rate limits. */
function countsAgainstCircuit(error: Error): boolean {
  if (error instanceof TaskCancelledError) return true;
  if (error instanceof SpineError) return error.retryable && error.code !== 'connector.rate_limited';
  return true;
}

interface ConnectorPolicy {
  breaker: ReturnType<typeof circuitBreaker>;
  consecutiveFailures: number;
  lastError: string | null;
  lastErrorAt: Date | null;
  lastSuccessAt: Date | null;
}

/**
 * Timeout, retry (exponential backoff with jitter, honouring Retry-After) and one circuit breaker
 * per connector, around every connector call. Built on cockatiel.
 */
export class ConnectorResilience {
  readonly #options: ResilienceOptions;
  readonly #policies = new Map<string, ConnectorPolicy>();
  readonly #now: () => Date;

  constructor(options: Partial<ResilienceOptions> = {}, now: () => Date = () => new Date()) {
    this.#options = { ...DEFAULT_RESILIENCE, ...options };
    this.#now = now;
  }

  get options(): ResilienceOptions {
    return this.#options;
  }

  #policy(connector: string): ConnectorPolicy {
    let policy = this.#policies.get(connector);
    if (!policy) {
      policy = {
        breaker: circuitBreaker(handleWhen(countsAgainstCircuit), {
          halfOpenAfter: this.#options.halfOpenAfterMs,
          breaker: new ConsecutiveBreaker(this.#options.breakerThreshold),
        }),
        consecutiveFailures: 0,
        lastError: null,
        lastErrorAt: null,
        lastSuccessAt: null,
      };
      this.#policies.set(connector, policy);
    }
    return policy;
  }

  /** Make sure a connector shows up in health reports before its first call. */
  register(connector: string): void {
    this.#policy(connector);
  }

  /**
   * Run `call` for `connector` with timeout, retries and the connector's circuit breaker. `call`
   * must be idempotent: it is called again with the same idempotency key after a timeout or a 5xx.
   * Throws a SpineError: the call's own, `connector.timeout`, or `connector.circuit_open`.
   */
  async run<T>(
    connector: string,
    call: (signal: AbortSignal, attempt: number) => Promise<T>,
    onRetry?: (info: { attempt: number; delayMs: number; error: string }) => void,
    control: {
      /** Stops the call and every retry (the executor lost its claim). */
      signal?: AbortSignal;
      /** A further condition for another attempt (an operation not idempotent by key). */
      mayRetry?: (error: Error) => boolean;
    } = {},
  ): Promise<T> {
    const options = this.#options;
    const state = this.#policy(connector);
    const retryPolicy = retry(
      handleWhen((error) => isRetryable(error, options) && (control.mayRetry?.(error) ?? true)),
      {
        maxAttempts: options.maxAttempts - 1,
        backoff: retryAfterAware(
          new ExponentialBackoff({ initialDelay: options.initialDelayMs, maxDelay: options.maxDelayMs }),
        ),
      },
    );
    const listener = onRetry
      ? retryPolicy.onRetry((event) =>
          onRetry({
            attempt: event.attempt,
            delayMs: event.delay,
            error: 'error' in event ? describeError(event.error) : 'unexpected result',
          }),
        )
      : undefined;
    const policy = wrap(retryPolicy, state.breaker, timeout(options.timeoutMs, TimeoutStrategy.Aggressive));
    let attempt = 0;
    try {
      const value = await policy.execute(async ({ signal }) => {
        control.signal?.throwIfAborted();
        attempt += 1;
        try {
          const result = await call(signal, attempt);
          state.consecutiveFailures = 0;
          state.lastSuccessAt = this.#now();
          return result;
        } catch (error) {
          state.consecutiveFailures += 1;
          state.lastError = describeError(error);
          state.lastErrorAt = this.#now();
          throw error;
        }
      }, control.signal);
      return value;
    } catch (error) {
      throw this.#translate(connector, error);
    } finally {
      listener?.dispose();
    }
  }

  #translate(connector: string, error: unknown): unknown {
    if (error instanceof SpineError) return error;
    if (error instanceof BrokenCircuitError) {
      const state = this.#policies.get(connector);
      return new SpineError(
        'connector.circuit_open',
        `${connector} failed ${this.#options.breakerThreshold} times in a row, so Spine stopped calling it for ` +
          `${Math.round(this.#options.halfOpenAfterMs / 1000)} s. Last error: ${state?.lastError ?? 'unknown'}. ` +
          'Check the service and its settings, then retry.',
        { category: 'third_party', retryable: true, details: { connector } },
      );
    }
    if (error instanceof TaskCancelledError) {
      const state = this.#policies.get(connector);
      if (state) {
        state.lastError = `timed out after ${this.#options.timeoutMs} ms`;
        state.lastErrorAt = this.#now();
      }
      return new SpineError(
        'connector.timeout',
        `${connector} did not answer within ${Math.round(this.#options.timeoutMs / 1000)} s, even after retries.`,
        {
          category: 'third_party',
          retryable: true,
          details: { connector, timeoutMs: this.#options.timeoutMs },
        },
      );
    }
    return error;
  }

  /** Circuit state and last error of every connector seen. */
  health(): ConnectorHealth[] {
    return [...this.#policies.entries()].map(([connector, state]) => ({
      connector,
      circuit: stateName(state.breaker.state),
      consecutiveFailures: state.consecutiveFailures,
      lastError: state.lastError,
      lastErrorAt: state.lastErrorAt?.toISOString() ?? null,
      lastSuccessAt: state.lastSuccessAt?.toISOString() ?? null,
    }));
  }
}
