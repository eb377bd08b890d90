import type { z } from 'zod';
import type { Preview, RiskClass } from '../core/domain.ts';

/** What an operation gets when it runs. */
export interface ExecutionContext {
  /** Stable across retries of the same action: pass it to the service so it can dedupe too. */
  idempotencyKey: string;
  /**
   * Aborted when the call times out or when this executor lost its claim on the action (its lease
   * could not be renewed): stop, the effect must not be made by a fenced-off executor.
   */
  signal: AbortSignal;
  /**
   * When a call under this idempotency key first started, if one did before this execution (a
   * retry, a crash, a Retry that reuses the key): a service that forgets keys (Stripe after 24 h)
   * must look the effect up before making it again. Null on a first call.
   */
  keyFirstUsedAt?: Date | null;
  /**
   * Keep a value with the action, durably, before the effect: the first call under a name runs
   * `compute` and saves what it returns; every later call for the same action — a retry after a
   * crash included — gets the saved value back without running it. For state the effect itself
   * destroys and undo needs (an event's time before it is moved). Values go through JSON.
   */
  checkpoint<T>(name: string, compute: () => Promise<T>): Promise<T>;
}

/**
 * Checkpoints kept in memory, for executions with no stored action behind them (read-only calls
 * from the planner, direct calls in tests): they last as long as the returned function.
 */
export function volatileCheckpoints(): ExecutionContext['checkpoint'] {
  const saved = new Map<string, unknown>();
  return async <T>(name: string, compute: () => Promise<T>): Promise<T> => {
    if (!saved.has(name)) saved.set(name, JSON.parse(JSON.stringify((await compute()) ?? null)));
    return saved.get(name) as T;
  };
}

/**
 * The compensating action of a reversible operation. It gets the original parameters and the
 * result the original execution stored (e.g. the calendar event's previous state), and runs under
 * its own idempotency key through the same runtime.
 */
export interface Compensation<Params = unknown> {
  simulate(params: Params, result: unknown): Promise<Preview> | Preview;
  execute(params: Params, result: unknown, context: ExecutionContext): Promise<unknown>;
}

/**
 * How a repeated call of an operation is made safe (issue #21, "outcome unknown"):
 * - `by_key`: the service dedupes on the idempotency key (Stripe's Idempotency-Key, CalDAV's
 *   If-None-Match / If-Match, a receiver that honours the Idempotency-Key header, Spine's own
 *   memory), so a retry after a lost answer cannot do it twice;
 * - `until_sent`: nothing dedupes a repeat (SMTP, a webhook without that guarantee, an MCP tool),
 *   so a call is retried only after a failure that proves nothing reached the other side;
 *   otherwise its outcome is `unknown` and the operator decides.
 */
export type RetrySafety = 'by_key' | 'until_sent';

/**
 * One thing a connector can do. Parameters are validated with `schema` before anything runs;
 * `simulate` is the dry-run shown on the approval card; `execute` must be safe to call again with
 * the same idempotency key (a crash may interrupt it after the effect).
 */
export interface Operation<Schema extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  risk: RiskClass;
  reversible: boolean;
  /** False for Spine's own bookkeeping; true when the effect leaves Spine. */
  external: boolean;
  /** How a retry is made safe; see RetrySafety. */
  retry: RetrySafety;
  schema: Schema;
  simulate(params: z.infer<Schema>): Promise<Preview> | Preview;
  execute(params: z.infer<Schema>, context: ExecutionContext): Promise<unknown>;
  /** The compensating action, when `reversible`. */
  undo?: Compensation<z.infer<Schema>>;
  /** What the operation acts on (recipient, endpoint, calendar): "always allow" is per target. */
  target?(params: z.infer<Schema>): string;
  /** The amount of money moved, for daily amount limits of `money` operations. */
  amount?(params: z.infer<Schema>): number;
}

/** A service Spine can act on: email, calendar, webhook, … */
export interface Connector {
  name: string;
  description: string;
  operations: Record<string, Operation>;
  /** Release sockets and child processes (MCP servers) on shutdown. */
  close?(): Promise<void>;
}

/** Define an operation with its parameter type inferred from the schema. */
export function defineOperation<Schema extends z.ZodType>(operation: Operation<Schema>): Operation {
  return operation as unknown as Operation;
}
