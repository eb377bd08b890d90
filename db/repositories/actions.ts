import type { Action, ActionStatus, Preview, RiskClass } from '../../core/domain.ts';
import type { Queryable } from '../database.ts';
import { toDate, toDateOrNull } from './rows.ts';

/**
 * How long an execution's claim holds. A connector call gives up well within it (30 s per attempt,
 * a few retries); a claim older than this was left by a process that crashed mid-execution.
 */
export const EXECUTION_LEASE_MS = 10 * 60_000;

export function toAction(row: Record<string, unknown>): Action {
  return {
    id: Number(row.id),
    goalId: Number(row.goal_id),
    operatorId: Number(row.operator_id),
    connector: String(row.connector),
    operation: String(row.operation),
    params: row.params as Record<string, unknown>,
    risk: row.risk as RiskClass,
    reversible: Boolean(row.reversible),
    idempotencyKey: String(row.idempotency_key),
    preview: row.preview as Preview,
    why: String(row.why ?? ''),
    status: row.status as ActionStatus,
    result: row.result ?? null,
    error: (row.error as Action['error']) ?? null,
    createdAt: toDate(row.created_at),
    executedAt: toDateOrNull(row.executed_at),
    target: (row.target as string | null | undefined) ?? null,
    scheduledAt: toDateOrNull(row.scheduled_at ?? null),
    undoOf: row.undo_of === null || row.undo_of === undefined ? null : Number(row.undo_of),
  };
}

export interface NewAction {
  goalId: number;
  operatorId: number;
  connector: string;
  operation: string;
  params: Record<string, unknown>;
  paramsHash: string;
  risk: RiskClass;
  reversible: boolean;
  idempotencyKey: string;
  preview: Preview;
  why: string;
  status: ActionStatus;
}

/** Outcome of trying to claim an action for execution. */
export type ExecutionClaim =
  | { kind: 'claimed'; action: Action }
  | { kind: 'finished'; action: Action }
  | { kind: 'not_executable'; action: Action };

export class ActionRepository {
  constructor(private readonly db: Queryable) {}

  /**
   * Insert an action, or return the existing one with the same idempotency key (a re-run of the
   * node that proposes it). Check `paramsHash` on the result to detect a key reused for other params.
   */
  async insertOrGet(action: NewAction): Promise<{ action: Action; paramsHash: string; created: boolean }> {
    const inserted = await this.db.query(
      `INSERT INTO actions (goal_id, operator_id, connector, operation, params, params_hash, risk, reversible,
         idempotency_key, preview, why, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (idempotency_key) DO NOTHING RETURNING *`,
      [
        action.goalId,
        action.operatorId,
        action.connector,
        action.operation,
        JSON.stringify(action.params),
        action.paramsHash,
        action.risk,
        action.reversible,
        action.idempotencyKey,
        JSON.stringify(action.preview),
        action.why,
        action.status,
      ],
    );
    if (inserted.rows[0])
      return { action: toAction(inserted.rows[0]), paramsHash: action.paramsHash, created: true };
    const existing = await this.db.query('SELECT * FROM actions WHERE idempotency_key = $1', [
      action.idempotencyKey,
    ]);
    const row = existing.rows[0];
    return { action: toAction(row), paramsHash: String(row.params_hash), created: false };
  }

  async get(id: number): Promise<Action | null> {
    const result = await this.db.query('SELECT * FROM actions WHERE id = $1', [id]);
    return result.rows[0] ? toAction(result.rows[0]) : null;
  }

  async listForGoal(goalId: number): Promise<Action[]> {
    const result = await this.db.query('SELECT * FROM actions WHERE goal_id = $1 ORDER BY id', [goalId]);
    return result.rows.map(toAction);
  }

  /** Move an action between states only from the states given (a compare-and-set). */
  async transition(id: number, from: ActionStatus[], to: ActionStatus): Promise<boolean> {
    const result = await this.db.query(
      'UPDATE actions SET status = $3 WHERE id = $1 AND status = ANY($2) RETURNING id',
      [id, from, to],
    );
    return (result.rowCount ?? 0) > 0;
  }

  /**
   * Claim an action for execution. Only an approved action (or one left `executing` by a crash,
   * which the connector finishes idempotently under the same key) may run; a finished one returns
   * its stored outcome.
   */
  async claimForExecution(id: number): Promise<ExecutionClaim> {
    const claimed = await this.db.query(
      `UPDATE actions SET status = 'executing', attempts = attempts + 1, claimed_at = now()
       WHERE id = $1 AND status IN ('approved', 'executing') RETURNING *`,
      [id],
    );
    if (claimed.rows[0]) return { kind: 'claimed', action: toAction(claimed.rows[0]) };
    const current = await this.get(id);
    if (!current) throw new Error(`action ${id} does not exist`);
    if (current.status === 'succeeded' || current.status === 'failed')
      return { kind: 'finished', action: current };
    return { kind: 'not_executable', action: current };
  }

  /** A value a connector saved with the action before its effect, if there is one. */
  async checkpoint(id: number, name: string): Promise<{ found: boolean; value: unknown }> {
    const result = await this.db.query(
      'SELECT checkpoints ? $2 AS found, checkpoints -> $2 AS value FROM actions WHERE id = $1',
      [id, name],
    );
    const row = result.rows[0];
    if (!row) throw new Error(`action ${id} does not exist`);
    return { found: row.found === true, value: row.found === true ? row.value : undefined };
  }

  /**
   * Save a checkpoint unless one of that name exists (a concurrent execution saved it first), and
   * return the saved value: always the first one, as JSON gives it back.
   */
  async saveCheckpoint(id: number, name: string, value: unknown): Promise<unknown> {
    const result = await this.db.query(
      `UPDATE actions SET checkpoints = CASE WHEN checkpoints ? $2 THEN checkpoints
         ELSE checkpoints || jsonb_build_object($2::text, $3::jsonb) END
       WHERE id = $1 RETURNING checkpoints -> $2 AS value`,
      [id, name, JSON.stringify(value ?? null)],
    );
    if (!result.rows[0]) throw new Error(`action ${id} does not exist`);
    return result.rows[0].value;
  }

  /** Store the first outcome of an execution; later outcomes for the same action are ignored. */
  async recordOutcome(
    id: number,
    outcome:
      | { status: 'succeeded'; result: unknown }
      | { status: 'failed'; error: { code: string; message: string } },
  ): Promise<Action> {
    const result = await this.db.query(
      `UPDATE actions SET status = $2, result = $3, error = $4, executed_at = now()
       WHERE id = $1 AND status = 'executing' RETURNING *`,
      [
        id,
        outcome.status,
        outcome.status === 'succeeded' ? JSON.stringify(outcome.result ?? null) : null,
        outcome.status === 'failed' ? JSON.stringify(outcome.error) : null,
      ],
    );
    if (result.rows[0]) return toAction(result.rows[0]);
    const current = await this.get(id);
    if (!current) throw new Error(`action ${id} does not exist`);
    return current;
  }
}
