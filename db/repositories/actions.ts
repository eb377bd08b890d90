import type { Action, ActionStatus, Preview, RiskClass } from '../../core/domain.ts';
import type { Queryable } from '../database.ts';
import { toDate, toDateOrNull } from './rows.ts';

/**
 * How long an execution's claim holds unless its executor renews it (every third of the lease).
 * Short, so an action whose executor died is found and settled within two minutes; renewal keeps
 * a long connector call (retries with backoff) claimed for as long as its executor lives.
 */
export const EXECUTION_LEASE_MS = 60_000;

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
    effectKey: (row.effect_key as string | null | undefined) ?? null,
    attempts: Number(row.attempts ?? 0),
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
  /**
   * This caller holds the action under `token` until `lease_until`. `takenOver`: the action was
   * `executing` under a lapsed lease, so an earlier executor died (or froze) somewhere in its call.
   * `keyFirstUsedAt`: when a call under the same effect key first started (null: never before).
   */
  | { kind: 'claimed'; action: Action; takenOver: boolean; keyFirstUsedAt: Date | null }
  /** Another executor holds a live lease: wait for its outcome. */
  | { kind: 'busy'; action: Action }
  | { kind: 'finished'; action: Action }
  | { kind: 'not_executable'; action: Action };

/** The statuses an execution ends in. */
export const FINISHED_ACTION_STATUSES: readonly ActionStatus[] = ['succeeded', 'failed', 'unknown'];

/** What an execution records: its result, its error, or that it cannot know. */
export type ExecutionRecord =
  | { status: 'succeeded'; result: unknown }
  | { status: 'failed' | 'unknown'; error: { code: string; message: string; mayHaveHappened?: boolean } };

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
   * Claim an action for execution under `token` for `leaseMs`: only an approved action, or one left
   * `executing` under a lapsed lease, can be claimed, so two executors never hold it at once.
   */
  async claimForExecution(id: number, token: string, leaseMs: number): Promise<ExecutionClaim> {
    // The row lock of `FOR UPDATE` orders concurrent claims; `before` says what was taken over.
    const claimed = await this.db.query(
      `WITH before AS (SELECT id, status FROM actions WHERE id = $1 FOR UPDATE)
       UPDATE actions a SET status = 'executing', attempts = a.attempts + 1, claimed_at = now(),
         first_claimed_at = coalesce(a.first_claimed_at, now()), claim_token = $2,
         lease_until = now() + make_interval(secs => $3)
       FROM before
       WHERE a.id = before.id AND (before.status = 'approved'
         OR (before.status = 'executing' AND (a.lease_until IS NULL OR a.lease_until < now())))
       RETURNING a.*, before.status AS previous_status,
         -- RETURNING's subquery sees the rows as they were before this claim.
         (SELECT min(k.first_claimed_at) FROM actions k
           WHERE k.idempotency_key = coalesce(a.effect_key, a.idempotency_key)
              OR k.effect_key = coalesce(a.effect_key, a.idempotency_key)) AS key_first_used_at`,
      [id, token, leaseMs / 1000],
    );
    const row = claimed.rows[0];
    if (row) {
      return {
        kind: 'claimed',
        action: toAction(row),
        takenOver: row.previous_status === 'executing',
        keyFirstUsedAt: toDateOrNull(row.key_first_used_at ?? null),
      };
    }
    const current = await this.get(id);
    if (!current) throw new Error(`action ${id} does not exist`);
    if (FINISHED_ACTION_STATUSES.includes(current.status)) return { kind: 'finished', action: current };
    if (current.status === 'executing') return { kind: 'busy', action: current };
    return { kind: 'not_executable', action: current };
  }

  /** Extend a claim's lease; false when the claim is no longer this token's (taken over or finished). */
  async renewLease(id: number, token: string, leaseMs: number): Promise<boolean> {
    const result = await this.db.query(
      `UPDATE actions SET lease_until = now() + make_interval(secs => $3)
       WHERE id = $1 AND claim_token = $2 AND status = 'executing' RETURNING id`,
      [id, token, leaseMs / 1000],
    );
    return (result.rowCount ?? 0) > 0;
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

  /**
   * Store an execution's outcome, only for the holder of the current claim: a stale executor's
   * outcome (its lease lapsed and another took over) is refused, and `recorded` is false.
   */
  async recordOutcome(
    id: number,
    token: string,
    outcome: ExecutionRecord,
  ): Promise<{ recorded: boolean; action: Action }> {
    const result = await this.db.query(
      `UPDATE actions SET status = $2, result = $3, error = $4, executed_at = now(), lease_until = NULL
       WHERE id = $1 AND status = 'executing' AND claim_token = $5 RETURNING *`,
      [
        id,
        outcome.status,
        outcome.status === 'succeeded' ? JSON.stringify(outcome.result ?? null) : null,
        outcome.status === 'succeeded' ? null : JSON.stringify(outcome.error),
        token,
      ],
    );
    if (result.rows[0]) return { recorded: true, action: toAction(result.rows[0]) };
    const current = await this.get(id);
    if (!current) throw new Error(`action ${id} does not exist`);
    return { recorded: false, action: current };
  }

  /**
   * The operator settles an action whose outcome was unknown: it happened (succeeded, with what
   * they said as its result), or they close it as not done. Compare-and-set from `unknown`.
   */
  async settleUnknown(
    id: number,
    outcome:
      | { status: 'succeeded'; result: unknown }
      | { status: 'failed'; error: { code: string; message: string } },
  ): Promise<Action | null> {
    const result = await this.db.query(
      `UPDATE actions SET status = $2, result = coalesce($3, result), error = coalesce($4, error)
       WHERE id = $1 AND status = 'unknown' RETURNING *`,
      [
        id,
        outcome.status,
        outcome.status === 'succeeded' ? JSON.stringify(outcome.result ?? null) : null,
        outcome.status === 'failed' ? JSON.stringify(outcome.error) : null,
      ],
    );
    return result.rows[0] ? toAction(result.rows[0]) : null;
  }

  /** Executions whose executor stopped renewing its lease (it died or froze): to be settled. */
  async listLapsed(limit = 50): Promise<Action[]> {
    const result = await this.db.query(
      `SELECT * FROM actions WHERE status = 'executing' AND lease_until < now() ORDER BY lease_until, id LIMIT $1`,
      [limit],
    );
    return result.rows.map(toAction);
  }
}
