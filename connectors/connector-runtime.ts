import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Action, Preview, ProposedAction, RiskClass } from '../core/domain.ts';
import { describeError, SpineError } from '../core/errors.ts';
import type { ActionRepository } from '../db/repositories/actions.ts';
import type { Connector, Operation } from './connector.ts';

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
}

export type ExecutionOutcome =
  | { status: 'succeeded'; action: Action; replayed: boolean }
  | { status: 'failed'; action: Action; replayed: boolean };

export interface ConnectorRuntimeOptions {
  actions: ActionRepository;
  logger: Logger;
  /** Per-call timeout. */
  timeoutMs?: number;
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
  readonly #timeoutMs: number;

  constructor(connectors: Connector[], options: ConnectorRuntimeOptions) {
    for (const connector of connectors) this.#connectors.set(connector.name, connector);
    this.#actions = options.actions;
    this.#logger = options.logger;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  get connectors(): Connector[] {
    return [...this.#connectors.values()];
  }

  #operation(connectorName: string, operationName: string): Operation {
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
    };
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
    const operation = this.#operation(action.connector, action.operation);
    const log = this.#logger.child({ actionId, connector: action.connector, operation: action.operation });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('timed out')), this.#timeoutMs);
    try {
      const params = operation.schema.parse(action.params);
      const result = await operation.execute(params, {
        idempotencyKey: action.idempotencyKey,
        signal: controller.signal,
      });
      const stored = await this.#actions.recordOutcome(actionId, { status: 'succeeded', result });
      log.info({ attempt: 'done' }, 'action executed');
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
    } finally {
      clearTimeout(timer);
    }
  }
}
