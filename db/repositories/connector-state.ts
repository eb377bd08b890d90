import type { Action, Preview, RiskClass } from '../../core/domain.ts';
import type { Queryable } from '../database.ts';
import { toAction } from './actions.ts';
import { toDate, toDateOrNull } from './rows.ts';

/** An "always allow" rule: the operator trusts one operation on one target. */
export interface TrustRule {
  id: number;
  operatorId: number;
  connector: string;
  operation: string;
  target: string;
  grantedVia: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

function toTrustRule(row: Record<string, unknown>): TrustRule {
  return {
    id: Number(row.id),
    operatorId: Number(row.operator_id),
    connector: String(row.connector),
    operation: String(row.operation),
    target: String(row.target),
    grantedVia: (row.granted_via as string | null) ?? null,
    createdAt: toDate(row.created_at),
    revokedAt: toDateOrNull(row.revoked_at),
  };
}

export interface NewCompensation {
  original: Action;
  operation: string;
  params: Record<string, unknown>;
  paramsHash: string;
  risk: RiskClass;
  preview: Preview;
  why: string;
}

/** Guardrail state around actions: targets, schedules, compensations, daily usage and trust rules. */
export class ConnectorStateRepository {
  constructor(private readonly db: Queryable) {}

  /** Record what an action acts on and when it may run (set once, by the guard). */
  async annotate(
    actionId: number,
    input: { target: string; amount: number | null; scheduledAt: Date | null },
  ): Promise<void> {
    await this.db.query(
      `UPDATE actions SET target = $2, amount = $3, scheduled_at = COALESCE(scheduled_at, $4)
       WHERE id = $1 AND target IS NULL`,
      [actionId, input.target, input.amount, input.scheduledAt],
    );
  }

  /**
   * The compensation of an action, stored approved (the click on Undo is the approval) under the
   * key `undo-<id>`: a second click finds the same row.
   */
  async insertCompensation(input: NewCompensation): Promise<{ action: Action; created: boolean }> {
    const { original } = input;
    const inserted = await this.db.query(
      `INSERT INTO actions (goal_id, operator_id, connector, operation, params, params_hash, risk, reversible,
         idempotency_key, preview, why, status, undo_of, target)
       VALUES ($1, $2, $3, $4, $5, $6, $7, false, $8, $9, $10, 'approved', $11, $12)
       ON CONFLICT DO NOTHING RETURNING *`,
      [
        original.goalId,
        original.operatorId,
        original.connector,
        input.operation,
        JSON.stringify(input.params),
        input.paramsHash,
        input.risk,
        `undo-${original.id}`,
        JSON.stringify(input.preview),
        input.why,
        original.id,
        original.target ?? null,
      ],
    );
    if (inserted.rows[0]) return { action: toAction(inserted.rows[0]), created: true };
    const existing = await this.db.query('SELECT * FROM actions WHERE undo_of = $1', [original.id]);
    return { action: toAction(existing.rows[0]), created: false };
  }

  /** The compensation of an action, if one was recorded. */
  async compensationOf(actionId: number): Promise<Action | null> {
    const result = await this.db.query('SELECT * FROM actions WHERE undo_of = $1', [actionId]);
    return result.rows[0] ? toAction(result.rows[0]) : null;
  }

  /** The operator's most recent reversible action that succeeded and has not been undone. */
  async latestUndoable(operatorId: number): Promise<Action | null> {
    const result = await this.db.query(
      `SELECT a.* FROM actions a
       WHERE a.operator_id = $1 AND a.reversible AND a.status = 'succeeded' AND a.undo_of IS NULL
         AND NOT EXISTS (SELECT 1 FROM actions u WHERE u.undo_of = a.id)
       ORDER BY a.executed_at DESC NULLS LAST, a.id DESC LIMIT 1`,
      [operatorId],
    );
    return result.rows[0] ? toAction(result.rows[0]) : null;
  }

  /**
   * Approved actions whose time has come, and every execution whose executor died or froze (its
   * lease lapsed, scheduled or not): the due-check settles those, so none stays `executing`.
   */
  async listDue(now: Date, limit = 50): Promise<Action[]> {
    const result = await this.db.query(
      `(SELECT * FROM actions WHERE status = 'executing' AND lease_until < now() ORDER BY lease_until, id LIMIT $2)
       UNION ALL
       (SELECT * FROM actions WHERE status = 'approved' AND scheduled_at IS NOT NULL AND scheduled_at <= $1
        ORDER BY scheduled_at, id LIMIT $2)`,
      [now, limit],
    );
    return result.rows.map(toAction).slice(0, limit);
  }

  /** Actions waiting for their time (approved or awaiting approval), soonest first. */
  async listScheduled(operatorId: number): Promise<Action[]> {
    const result = await this.db.query(
      `SELECT * FROM actions WHERE operator_id = $1 AND scheduled_at IS NOT NULL
         AND status IN ('approved', 'awaiting_approval')
       ORDER BY scheduled_at, id`,
      [operatorId],
    );
    return result.rows.map(toAction);
  }

  /**
   * The soonest instant the due-check has work: an approved action's schedule, or the end of an
   * execution's lease (if its executor dies, the lease lapses then and the action is settled).
   */
  async nextDueAt(): Promise<Date | null> {
    const result = await this.db.query(
      `SELECT least(
         (SELECT min(scheduled_at) FROM actions WHERE status = 'approved' AND scheduled_at IS NOT NULL),
         (SELECT min(lease_until) FROM actions WHERE status = 'executing')) AS at`,
    );
    return toDateOrNull(result.rows[0]?.at ?? null);
  }

  /** Cancel a scheduled action before it runs (compare-and-set: a running or finished one stays). */
  async cancelScheduled(operatorId: number, actionId: number): Promise<Action | null> {
    const result = await this.db.query(
      `UPDATE actions SET status = 'cancelled'
       WHERE id = $1 AND operator_id = $2 AND scheduled_at IS NOT NULL
         AND status IN ('approved', 'awaiting_approval') RETURNING *`,
      [actionId, operatorId],
    );
    return result.rows[0] ? toAction(result.rows[0]) : null;
  }

  /** Count and summed amount of a connector's actions that ran or are about to run since `since`. */
  async usageSince(
    operatorId: number,
    connector: string,
    since: Date,
    excludeKey = '',
  ): Promise<{ count: number; amount: number }> {
    const result = await this.db.query(
      `SELECT count(*)::int AS count, COALESCE(sum(amount), 0)::float8 AS amount FROM actions
       WHERE operator_id = $1 AND connector = $2 AND undo_of IS NULL AND created_at >= $3
         AND idempotency_key <> $4
         AND status IN ('awaiting_approval', 'approved', 'executing', 'succeeded')`,
      [operatorId, connector, since, excludeKey],
    );
    return { count: Number(result.rows[0]?.count ?? 0), amount: Number(result.rows[0]?.amount ?? 0) };
  }

  /** Approvals granted for this operation and target whose action then succeeded (clean approvals). */
  async cleanApprovals(
    operatorId: number,
    connector: string,
    operation: string,
    target: string,
  ): Promise<number> {
    const result = await this.db.query(
      `SELECT count(*)::int AS count FROM actions a JOIN approvals p ON p.action_id = a.id
       WHERE a.operator_id = $1 AND a.connector = $2 AND a.operation = $3 AND a.target = $4
         AND p.status = 'approved' AND a.status = 'succeeded'
         AND NOT EXISTS (SELECT 1 FROM actions u WHERE u.undo_of = a.id)`,
      [operatorId, connector, operation, target],
    );
    return Number(result.rows[0]?.count ?? 0);
  }

  async findTrust(
    operatorId: number,
    connector: string,
    operation: string,
    target: string,
  ): Promise<TrustRule | null> {
    const result = await this.db.query(
      `SELECT * FROM trust_rules WHERE operator_id = $1 AND connector = $2 AND operation = $3 AND target = $4
         AND revoked_at IS NULL`,
      [operatorId, connector, operation, target],
    );
    return result.rows[0] ? toTrustRule(result.rows[0]) : null;
  }

  /** Grant "always allow"; granting twice keeps the first rule. */
  async grantTrust(input: {
    operatorId: number;
    connector: string;
    operation: string;
    target: string;
    grantedVia: string;
    at: Date;
  }): Promise<TrustRule> {
    const inserted = await this.db.query(
      `INSERT INTO trust_rules (operator_id, connector, operation, target, granted_via, created_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING *`,
      [input.operatorId, input.connector, input.operation, input.target, input.grantedVia, input.at],
    );
    if (inserted.rows[0]) return toTrustRule(inserted.rows[0]);
    const existing = await this.findTrust(input.operatorId, input.connector, input.operation, input.target);
    if (!existing) throw new Error('trust rule vanished');
    return existing;
  }

  async listTrust(operatorId: number): Promise<TrustRule[]> {
    const result = await this.db.query(
      'SELECT * FROM trust_rules WHERE operator_id = $1 AND revoked_at IS NULL ORDER BY id',
      [operatorId],
    );
    return result.rows.map(toTrustRule);
  }

  async getTrust(id: number): Promise<TrustRule | null> {
    const result = await this.db.query('SELECT * FROM trust_rules WHERE id = $1', [id]);
    return result.rows[0] ? toTrustRule(result.rows[0]) : null;
  }

  /** Revoke a rule; returns it when it was active. */
  async revokeTrust(operatorId: number, id: number, at: Date): Promise<TrustRule | null> {
    const result = await this.db.query(
      `UPDATE trust_rules SET revoked_at = $3 WHERE id = $1 AND operator_id = $2 AND revoked_at IS NULL RETURNING *`,
      [id, operatorId, at],
    );
    return result.rows[0] ? toTrustRule(result.rows[0]) : null;
  }

  /** Close an open failure (compare-and-set: a second click changes nothing). */
  async resolveFailure(
    operatorId: number,
    failureId: number,
    status: 'resolved' | 'dismissed',
    resolution: string,
    at: Date,
  ): Promise<{ actionId: number | null; goalId: number | null } | null> {
    const result = await this.db.query(
      `UPDATE failures SET status = $3, resolution = $4, resolved_at = $5
       WHERE id = $1 AND operator_id = $2 AND status = 'open' RETURNING action_id, goal_id`,
      [failureId, operatorId, status, resolution, at],
    );
    const row = result.rows[0];
    if (!row) return null;
    return {
      actionId: row.action_id === null ? null : Number(row.action_id),
      goalId: row.goal_id === null ? null : Number(row.goal_id),
    };
  }

  /**
   * A fresh attempt at a failed action: same parameters, new key `<key>-retry-<n>` (the failed
   * key's outcome stays stored, as Stripe semantics require), approved because the operator asked.
   */
  /**
   * A new approved action that runs `original` again. `effectKey`: the key to send the service
   * (the original's, when a repeat must be recognised as one); null sends the new action's own.
   * `label` names the kind of repeat in the key: `retry` (Retry), `again` (Do it again).
   */
  async insertRetry(
    original: Action,
    paramsHash: string,
    options: { effectKey?: string | null; label?: 'retry' | 'again' } = {},
  ): Promise<Action> {
    const label = options.label ?? 'retry';
    const count = await this.db.query(
      `SELECT count(*)::int AS n FROM actions WHERE idempotency_key LIKE $1`,
      [`${original.idempotencyKey}-${label}-%`],
    );
    const key = `${original.idempotencyKey}-${label}-${Number(count.rows[0]?.n ?? 0) + 1}`;
    const inserted = await this.db.query(
      `INSERT INTO actions (goal_id, operator_id, connector, operation, params, params_hash, risk, reversible,
         idempotency_key, preview, why, status, target, effect_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'approved', $12, $13) RETURNING *`,
      [
        original.goalId,
        original.operatorId,
        original.connector,
        original.operation,
        JSON.stringify(original.params),
        paramsHash,
        original.risk,
        original.reversible,
        key,
        JSON.stringify(original.preview),
        original.why,
        original.target ?? null,
        options.effectKey ?? null,
      ],
    );
    return toAction(inserted.rows[0]);
  }
}
