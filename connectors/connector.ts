import type { z } from 'zod';
import type { Preview, RiskClass } from '../core/domain.ts';

/** What an operation gets when it runs. */
export interface ExecutionContext {
  /** Stable across retries of the same action: pass it to the service so it can dedupe too. */
  idempotencyKey: string;
  signal: AbortSignal;
}

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
  schema: Schema;
  simulate(params: z.infer<Schema>): Promise<Preview> | Preview;
  execute(params: z.infer<Schema>, context: ExecutionContext): Promise<unknown>;
}

/** A service Spine can act on: email, calendar, webhook, … */
export interface Connector {
  name: string;
  description: string;
  operations: Record<string, Operation>;
}

/** Define an operation with its parameter type inferred from the schema. */
export function defineOperation<Schema extends z.ZodType>(operation: Operation<Schema>): Operation {
  return operation as unknown as Operation;
}
