import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Action, Preview, ProposedAction, RiskClass } from '../core/domain.ts';
import { describeError, SpineError } from '../core/errors.ts';
import type { ActionRepository } from '../db/repositories/actions.ts';
import type { MemoryStore } from '../memory/memory-store.ts';
import type { Connector, ExecutionContext, Operation } from './connector.ts';
import { type ConnectorHealth, ConnectorResilience, type ResilienceOptions } from './resilience.ts';

/** Operation names of compensations: `<operation>#undo`. */
export const UNDO_SUFFIX = '#undo';

/** A proposal checked against its connector: validated params, risk and the dry-run preview. */
export interface PreparedAction {
  connector: string;
  operation: string;
  params: Record<string, unknown>;
  paramsHash: string;
  risk: RiskClass;
  reversible: boolean;
  external: boolean;
  preview: Preview;
  why: string;
  /** What the operation acts on, for trust rules ("always allow" this recipient). */
  target: string;
  /** Money moved, for daily amount limits. */
  amount: number | null;
}

export type ExecutionOutcome =
  | { status: 'succeeded'; action: Action; replayed: boolean }
  | { status: 'failed'; action: Action; replayed: boolean };

export interface ConnectorRuntimeOptions {
  actions: ActionRepository;
  logger: Logger;
  /** Per-call timeout. */
  timeoutMs?: number;
  /** Retry, backoff and circuit-breaker settings (timeoutMs above wins for the timeout). */
  resilience?: Partial<ResilienceOptions>;
  /** Where connector results are written, with provenance `connector:<name>` (signed by the store). */
  memory?: MemoryStore;
  now?: () => Date;
}

/** A stable hash of parameters, independent of key order. */
export function hashParams(params: unknown): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    // A Date (or anything with toJSON) hashes as JSON shows it, not as an object with no own keys.
    if (value && typeof (value as { toJSON?: unknown }).toJSON === 'function')
      return canonical((value as { toJSON: () => unknown }).toJSON());
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>)
          // Code-point order: localeCompare depends on the process locale (LANG), and every process must agree.
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([key, inner]) => [key, canonical(inner)]),
      );
    }
    return value;
  };
  return createHash('sha256')
    .update(JSON.stringify(canonical(params)))
    .digest('hex');
}

/**
 * The only way Spine touches the outside world. It validates and previews proposals, and executes
 * stored actions exactly once per idempotency key: the first outcome (success or failure) is stored
 * and every later call returns it.
 */
export class ConnectorRuntime {
  readonly #connectors = new Map<string, Connector>();
  readonly #actions: ActionRepository;
  readonly #logger: Logger;
  readonly #resilience: ConnectorResilience;
  readonly #memory: MemoryStore | undefined;

  constructor(connectors: Connector[], options: ConnectorRuntimeOptions) {
    this.#actions = options.actions;
    this.#logger = options.logger;
    this.#memory = options.memory;
    this.#resilience = new ConnectorResilience(
      { ...options.resilience, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) },
      options.now,
    );
    for (const connector of connectors) this.add(connector);
  }

  get connectors(): Connector[] {
    return [...this.#connectors.values()];
  }

  /** Add a connector (e.g. an MCP server connected after start-up). */
  add(connector: Connector): void {
    this.#connectors.set(connector.name, connector);
    this.#resilience.register(connector.name);
  }

  /** Circuit state and last error per connector, for `/healthz`, `status` and `spine connectors`. */
  health(): ConnectorHealth[] {
    return this.#resilience.health();
  }

  /** The operation, including the `<operation>#undo` compensation of a reversible one. */
  operation(connectorName: string, operationName: string): Operation {
    return this.#operation(connectorName, operationName);
  }

  /** Close every connector (MCP child processes, SMTP pools). */
  async close(): Promise<void> {
    for (const connector of this.#connectors.values()) {
      await connector.close?.().catch((error: unknown) => {
        this.#logger.warn(
          { err: describeError(error), connector: connector.name },
          'closing a connector failed',
        );
      });
    }
  }

  #operation(connectorName: string, operationName: string): Operation {
    if (operationName.endsWith(UNDO_SUFFIX)) return this.#compensation(connectorName, operationName);
    const operation = this.#connectors.get(connectorName)?.operations[operationName];
    if (!operation) {
      throw new SpineError(
        'connector.unknown_operation',
        `There is no operation ${connectorName}.${operationName}.`,
        {
          category: 'user',
          details: { connector: connectorName, operation: operationName },
        },
      );
    }
    return operation;
  }

  /**
   * The compensation of `<operation>#undo` as an operation of its own, so it runs through the same
   * runtime: its parameters are the original parameters and the original's stored result.
   */
  #compensation(connectorName: string, operationName: string): Operation {
    const originalName = operationName.slice(0, -UNDO_SUFFIX.length);
    const original = this.#operation(connectorName, originalName);
    const undo = original.undo;
    if (!original.reversible || !undo) {
      throw new SpineError(
        'connector.not_reversible',
        `${connectorName}.${originalName} cannot be undone: the world does not allow it (e.g. a sent e-mail).`,
        { category: 'user', details: { connector: connectorName, operation: originalName } },
      );
    }
    const schema = z.object({ params: original.schema, result: z.unknown() });
    return {
      name: operationName,
      description: `Undo: ${original.description}`,
      risk: original.risk,
      reversible: false,
      external: original.external,
      schema,
      simulate: (params: { params: unknown; result: unknown }) => undo.simulate(params.params, params.result),
      execute: (params: { params: unknown; result: unknown }, context: ExecutionContext) =>
        undo.execute(params.params, params.result, context),
    } as unknown as Operation;
  }

  /** Validate a proposal's parameters and build its dry-run preview. Throws `connector.invalid_params`. */
  async prepare(proposal: ProposedAction): Promise<PreparedAction> {
    const operation = this.#operation(proposal.connector, proposal.operation);
    const parsed = operation.schema.safeParse(proposal.params);
    if (!parsed.success) {
      const problems = parsed.error.issues.map(
        (issue) => `${issue.path.join('.') || 'params'}: ${issue.message}`,
      );
      throw new SpineError(
        'connector.invalid_params',
        `The ${proposal.connector} ${proposal.operation} request is not valid: ${problems.join('; ')}.`,
        { category: 'user', details: { problems } },
      );
    }
    const params = parsed.data as Record<string, unknown>;
    return {
      connector: proposal.connector,
      operation: proposal.operation,
      params,
      paramsHash: hashParams(params),
      risk: operation.risk,
      reversible: operation.reversible,
      external: operation.external,
      preview: await operation.simulate(params),
      why: proposal.why,
      target: operation.target?.(params) ?? connectorTarget(proposal.connector),
      amount: operation.amount?.(params) ?? null,
    };
  }

  /**
   * Store a prepared action under its idempotency key, or return the one already stored there.
   * The same key with different parameters is an error (`action.key_reused`), never a silent reuse.
   */
  async record(
    prepared: PreparedAction,
    input: { goalId: number; operatorId: number; idempotencyKey: string; status: Action['status'] },
  ): Promise<{ action: Action; created: boolean }> {
    const stored = await this.#actions.insertOrGet({
      goalId: input.goalId,
      operatorId: input.operatorId,
      connector: prepared.connector,
      operation: prepared.operation,
      params: prepared.params,
      paramsHash: prepared.paramsHash,
      risk: prepared.risk,
      reversible: prepared.reversible,
      idempotencyKey: input.idempotencyKey,
      preview: prepared.preview,
      why: prepared.why,
      status: input.status,
    });
    if (stored.paramsHash !== prepared.paramsHash) {
      throw new SpineError(
        'action.key_reused',
        `The idempotency key ${input.idempotencyKey} was used before with other parameters; use a new key for a new request.`,
        { category: 'user', details: { idempotencyKey: input.idempotencyKey } },
      );
    }
    return { action: stored.action, created: stored.created };
  }

  /** Execute a stored action once. Safe to call any number of times, concurrently or after a crash. */
  async execute(actionId: number): Promise<ExecutionOutcome> {
    const claim = await this.#actions.claimForExecution(actionId);
    if (claim.kind === 'finished') {
      return {
        status: claim.action.status === 'succeeded' ? 'succeeded' : 'failed',
        action: claim.action,
        replayed: true,
      };
    }
    if (claim.kind === 'not_executable') {
      throw new SpineError(
        'action.not_executable',
        `Action #${actionId} is ${claim.action.status.replace('_', ' ')}, so it cannot run.`,
        { category: 'user', details: { status: claim.action.status } },
      );
    }
    const action = claim.action;
    const log = this.#logger.child({ actionId, connector: action.connector, operation: action.operation });
    try {
      const operation = this.#operation(action.connector, action.operation);
      const params = operation.schema.parse(action.params);
      if (hashParams(params) !== hashParams(action.params)) {
        // The stored parameters are no longer what was approved (they do not survive their own schema).
        throw new SpineError(
          'action.params_changed',
          `Action #${actionId}'s parameters changed after approval.`,
          {
            category: 'user',
          },
        );
      }
      const result = await this.#resilience.run(
        action.connector,
        (signal) =>
          operation.execute(params, {
            idempotencyKey: action.idempotencyKey,
            signal,
            checkpoint: (name, compute) => this.#checkpoint(actionId, name, compute),
          }),
        (retry) => log.warn(retry, 'connector call failed; retrying with the same idempotency key'),
      );
      const stored = await this.#actions.recordOutcome(actionId, { status: 'succeeded', result });
      log.info({ attempt: 'done' }, 'action executed');
      if (stored.status === 'succeeded' && operation.external) await this.#rememberResult(stored);
      return {
        status: stored.status === 'succeeded' ? 'succeeded' : 'failed',
        action: stored,
        replayed: false,
      };
    } catch (error) {
      const code = error instanceof SpineError ? error.code : 'connector.failed';
      log.warn({ err: describeError(error), code }, 'action failed');
      const stored = await this.#actions.recordOutcome(actionId, {
        status: 'failed',
        error: { code, message: describeError(error) },
      });
      return {
        status: stored.status === 'succeeded' ? 'succeeded' : 'failed',
        action: stored,
        replayed: false,
      };
    }
  }

  /** `ExecutionContext.checkpoint` on the action's row: saved before the effect, found again after a crash. */
  async #checkpoint<T>(actionId: number, name: string, compute: () => Promise<T>): Promise<T> {
    const saved = await this.#actions.checkpoint(actionId, name);
    if (saved.found) return saved.value as T;
    return (await this.#actions.saveCheckpoint(actionId, name, await compute())) as T;
  }

  /**
   * Write what the connector reported into memory, attributed to `connector:<name>` (the store signs
   * connector memories). Once per action: the action's key dedupes the write.
   */
  async #rememberResult(action: Action): Promise<void> {
    if (!this.#memory) return;
    const reported = JSON.stringify(action.result ?? null);
    try {
      await this.#memory.remember({
        operatorId: action.operatorId,
        kind: 'note',
        content: `${capitalise(action.preview.done)}. ${action.connector} reported: ${reported.length > 2000 ? `${reported.slice(0, 1999)}…` : reported}`,
        goalId: action.goalId,
        dedupeKey: `connector-result:${action.idempotencyKey}`,
        metadata: { actionId: action.id, connector: action.connector, operation: action.operation },
        provenance: {
          source: `connector:${action.connector}`,
          sourceRef: `action #${action.id}`,
          assertedBy: `connector:${action.connector}`,
        },
      });
    } catch (error) {
      // The effect happened and is stored on the action; a memory that failed to write is not a failed action.
      this.#logger.warn(
        { err: describeError(error), actionId: action.id },
        'could not remember a connector result',
      );
    }
  }
}

/** The default target of an operation: the connector as a whole. */
function connectorTarget(connector: string): string {
  return connector;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
