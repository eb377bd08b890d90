import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Action, Preview, ProposedAction, RiskClass } from '../core/domain.ts';
import { describeError, hasCode, SpineError } from '../core/errors.ts';
import {
  type ActionRepository,
  EXECUTION_LEASE_MS,
  type ExecutionRecord,
} from '../db/repositories/actions.ts';
import type { MemoryStore } from '../memory/memory-store.ts';
import type { Connector, ExecutionContext, Operation } from './connector.ts';
import { deliveryProof } from './connector-errors.ts';
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

/**
 * How an execution ended. `unknown`: the request may have reached a service that does not dedupe
 * repeats, so Spine cannot tell whether it happened and does not try again on its own.
 * `replayed`: another execution (earlier, or concurrent) produced this outcome.
 */
export type ExecutionOutcome = {
  status: 'succeeded' | 'failed' | 'unknown';
  action: Action;
  replayed: boolean;
};

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
  /** How long a claim holds without renewal (renewed every third of it while the executor lives). */
  leaseMs?: number;
  /** How often a caller waiting for another executor's outcome looks again. */
  waitPollMs?: number;
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
  readonly #leaseMs: number;
  readonly #waitPollMs: number;

  constructor(connectors: Connector[], options: ConnectorRuntimeOptions) {
    this.#actions = options.actions;
    this.#leaseMs = options.leaseMs ?? EXECUTION_LEASE_MS;
    this.#waitPollMs = options.waitPollMs ?? Math.min(500, Math.max(20, Math.floor(this.#leaseMs / 20)));
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
      retry: original.retry,
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

  /**
   * Execute a stored action once. Safe to call any number of times, concurrently or after a crash:
   * one caller claims the action under a token and a lease it renews while it works; the others
   * wait for its outcome, and take over only when its lease lapsed (it died or froze). Only the
   * token's holder can record the outcome, so a stale executor can never overwrite it.
   */
  async execute(actionId: number): Promise<ExecutionOutcome> {
    for (;;) {
      const token = randomUUID();
      const claim = await this.#actions.claimForExecution(actionId, token, this.#leaseMs);
      switch (claim.kind) {
        case 'finished':
          return { status: finishedStatus(claim.action), action: claim.action, replayed: true };
        case 'not_executable':
          throw new SpineError(
            'action.not_executable',
            `Action #${actionId} is ${claim.action.status.replace('_', ' ')}, so it cannot run.`,
            { category: 'user', details: { status: claim.action.status } },
          );
        case 'busy':
          // Another executor holds a live lease: its outcome, or its lapse, comes within the lease.
          await sleep(this.#waitPollMs);
          continue;
        case 'claimed': {
          const outcome = await this.#executeClaimed(
            claim.action,
            token,
            claim.takenOver,
            claim.keyFirstUsedAt,
          );
          if (outcome) return outcome;
          // Fenced off (another executor took over): wait for the outcome it records.
          await sleep(this.#waitPollMs);
        }
      }
    }
  }

  /** Run a claimed action and record its outcome; null when the claim was lost before recording. */
  async #executeClaimed(
    action: Action,
    token: string,
    takenOver: boolean,
    keyFirstUsedAt: Date | null,
  ): Promise<ExecutionOutcome | null> {
    const actionId = action.id;
    const log = this.#logger.child({ actionId, connector: action.connector, operation: action.operation });
    const lease = this.#hold(actionId, token, log);
    let record: ExecutionRecord;
    let operation: Operation | undefined;
    try {
      operation = this.#operation(action.connector, action.operation);
      const params = operation.schema.parse(action.params);
      if (hashParams(params) !== hashParams(action.params)) {
        // The stored parameters are no longer what was approved (they do not survive their own schema).
        throw new SpineError(
          'action.params_changed',
          `Action #${actionId}'s parameters changed after approval.`,
          { category: 'user', details: { delivery: 'not_sent' } },
        );
      }
      if (takenOver && operation.retry === 'until_sent') {
        // The executor before this one died or froze mid-call, and nothing dedupes a repeat.
        log.warn(
          { attempts: action.attempts },
          'an earlier execution stopped mid-call; the outcome is unknown',
        );
        record = {
          status: 'unknown',
          error: {
            code: 'action.outcome_unknown',
            message: `Spine stopped while ${action.preview.doing}, so it may or may not have happened`,
            mayHaveHappened: true,
          },
        };
      } else {
        record = await this.#call(action, operation, params, lease, keyFirstUsedAt, log);
      }
    } catch (error) {
      const code = error instanceof SpineError ? error.code : 'connector.failed';
      log.warn({ err: describeError(error), code }, 'action failed before its call');
      record = { status: 'failed', error: { code, message: describeError(error) } };
    } finally {
      lease.stop();
    }
    const stored = await this.#actions.recordOutcome(actionId, token, record);
    if (!stored.recorded) {
      log.warn(
        { outcome: record.status, current: stored.action.status },
        'a stale execution’s outcome was refused: another execution holds the action',
      );
      return FINISHED.has(stored.action.status)
        ? { status: finishedStatus(stored.action), action: stored.action, replayed: true }
        : null;
    }
    if (record.status === 'succeeded') {
      log.info({ attempt: 'done' }, 'action executed');
      if (operation?.external) await this.#rememberResult(stored.action);
    }
    return { status: finishedStatus(stored.action), action: stored.action, replayed: false };
  }

  /**
   * The call, with timeout, retries and the circuit. An operation idempotent by key is retried on
   * any retryable failure; one that is not, only on failures that prove nothing was sent. Its
   * failure after the request may have left is `unknown`, never `failed`.
   */
  async #call(
    action: Action,
    operation: Operation,
    params: unknown,
    lease: HeldLease,
    keyFirstUsedAt: Date | null,
    log: Logger,
  ): Promise<ExecutionRecord> {
    let mayHaveHappened = false;
    const untilSent = operation.retry === 'until_sent';
    try {
      const result = await this.#resilience.run(
        action.connector,
        async (signal) => {
          try {
            return await operation.execute(params, {
              idempotencyKey: action.effectKey ?? action.idempotencyKey,
              keyFirstUsedAt,
              signal,
              checkpoint: (name, compute) => this.#checkpoint(action.id, name, compute),
            });
          } catch (error) {
            if (deliveryProof(error) === undefined) mayHaveHappened = true;
            throw error;
          } finally {
            // An attempt that started may have reached the service whatever it threw: later
            // attempts under the same key know it (Stripe forgets keys after 24 h).
            keyFirstUsedAt ??= new Date();
          }
        },
        (retry) => log.warn(retry, 'connector call failed; retrying with the same idempotency key'),
        {
          signal: lease.signal,
          ...(untilSent ? { mayRetry: (error: Error) => deliveryProof(error) === 'not_sent' } : {}),
        },
      );
      return { status: 'succeeded', result };
    } catch (thrown) {
      const error = lease.signal.aborted ? lease.signal.reason : thrown;
      // A timeout or a lost claim abandons an attempt that may have reached the service.
      if (hasCode(thrown, 'connector.timeout') || lease.signal.aborted) mayHaveHappened = true;
      const code = error instanceof SpineError ? error.code : 'connector.failed';
      const message = describeError(error);
      log.warn({ err: message, code, mayHaveHappened }, 'action failed');
      // `connector.outcome_unknown`: the connector itself found it cannot tell (Stripe past 24 h).
      if (hasCode(error, 'connector.outcome_unknown'))
        return { status: 'unknown', error: { code, message, mayHaveHappened: true } };
      if (untilSent && mayHaveHappened) {
        return {
          status: 'unknown',
          error: {
            code,
            message: `${message}. The request may have reached ${action.connector}, so it may have happened`,
            mayHaveHappened: true,
          },
        };
      }
      return { status: 'failed', error: { code, message, ...(mayHaveHappened ? { mayHaveHappened } : {}) } };
    }
  }

  /**
   * Keep the claim: renew the lease every third of it. A renewal that fails or finds the claim
   * gone aborts the work at once (a fenced-off executor must not make the effect) and is logged.
   */
  #hold(actionId: number, token: string, log: Logger): HeldLease {
    const controller = new AbortController();
    const renew = async () => {
      try {
        if (await this.#actions.renewLease(actionId, token, this.#leaseMs)) return;
        controller.abort(
          new SpineError('action.lease_lost', `Another execution took over action #${actionId}.`, {
            details: { actionId },
          }),
        );
        log.error('lost the claim on an action while executing it; stopped');
      } catch (error) {
        controller.abort(
          new SpineError(
            'action.lease_lost',
            `Spine could not renew its claim on action #${actionId} (${describeError(error)}), so it stopped.`,
            { details: { actionId }, cause: error },
          ),
        );
        log.error({ err: describeError(error) }, 'could not renew the claim on an action; stopped');
      }
    };
    const timer = setInterval(
      () => {
        if (!controller.signal.aborted) void renew();
      },
      Math.max(10, Math.floor(this.#leaseMs / 3)),
    );
    timer.unref();
    return { signal: controller.signal, stop: () => clearInterval(timer) };
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

interface HeldLease {
  signal: AbortSignal;
  stop(): void;
}

const FINISHED = new Set<Action['status']>(['succeeded', 'failed', 'unknown']);

function finishedStatus(action: Action): ExecutionOutcome['status'] {
  return action.status === 'succeeded' || action.status === 'unknown' ? action.status : 'failed';
}

/** The default target of an operation: the connector as a whole. */
function connectorTarget(connector: string): string {
  return connector;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
