import type {
  Approval,
  ApprovalDecision,
  ApprovalStatus,
  Channel,
  MessageRef,
  RiskClass,
  ThreadRef,
} from '../../core/domain.ts';
import type { ApprovalExpiry } from '../../core/policy.ts';
import type { Queryable } from '../database.ts';
import { toDate, toDateOrNull } from './rows.ts';

/**
 * Why an approval expired without a decision: nobody decided in time, or its action's parameters
 * changed after the card was shown (an edit through the edit flow re-binds instead).
 */
export type ExpiryReason = 'timeout' | 'params_changed';

/**
 * An approval as stored: bound to the hash of the parameters its card showed. `status` is
 * `'expired'` when `expiryReason` is set (migration 030); core/domain.ts's ApprovalStatus does not
 * list it yet, so test `isExpired` rather than the status.
 */
export interface BoundApproval extends Approval {
  /** The action's params hash when the card was shown: the decision is valid for those only. */
  paramsHash: string;
  expiryReason: ExpiryReason | null;
}

/** Nobody decided it (time ran out, or what it showed changed): no decision, nothing runs. */
export function isExpired(approval: Approval): approval is BoundApproval & { expiryReason: ExpiryReason } {
  return (approval as Partial<BoundApproval>).expiryReason != null;
}

export function toApproval(row: Record<string, unknown>): BoundApproval {
  return {
    id: Number(row.id),
    actionId: Number(row.action_id),
    goalId: Number(row.goal_id),
    operatorId: Number(row.operator_id),
    status: row.status as ApprovalStatus,
    decidedBy: (row.decided_by as string | null) ?? null,
    decidedVia: (row.decided_via as Channel | null) ?? null,
    decidedAt: toDateOrNull(row.decided_at),
    cards: (row.cards as MessageRef[]) ?? [],
    createdAt: toDate(row.created_at),
    paramsHash: String(row.params_hash ?? ''),
    expiryReason: (row.expiry_reason as ExpiryReason | null) ?? null,
  };
}

export type DecisionResult =
  | { kind: 'decided'; approval: BoundApproval }
  | { kind: 'already_decided'; approval: BoundApproval }
  /** Not approved: the action's parameters no longer hash to what the card showed. */
  | { kind: 'params_changed'; approval: BoundApproval }
  | { kind: 'not_found' };

/** A pending approval with where its cards are: its goal's thread and each card message. */
export interface PendingApproval {
  approval: BoundApproval;
  risk: RiskClass;
  title: string;
  goalThread: ThreadRef;
}

export class ApprovalRepository {
  constructor(private readonly db: Queryable) {}

  /**
   * One approval per action; a re-run of the node that asks returns the existing row. It is bound
   * to `paramsHash`, the hash of the parameters its card shows; without one, to the action's
   * stored hash at this moment (the insert trigger of migration 030). `at` (the app's clock) is
   * when it was asked: its expiry counts from then.
   */
  async insertOrGet(input: {
    actionId: number;
    goalId: number;
    operatorId: number;
    paramsHash?: string;
    at?: Date;
  }): Promise<BoundApproval> {
    const inserted = await this.db.query(
      `INSERT INTO approvals (action_id, goal_id, operator_id, params_hash, created_at)
       VALUES ($1, $2, $3, $4, COALESCE($5::timestamptz, now()))
       ON CONFLICT (action_id) DO NOTHING RETURNING *`,
      [input.actionId, input.goalId, input.operatorId, input.paramsHash ?? null, input.at ?? null],
    );
    if (inserted.rows[0]) return toApproval(inserted.rows[0]);
    const existing = await this.db.query('SELECT * FROM approvals WHERE action_id = $1', [input.actionId]);
    return toApproval(existing.rows[0]);
  }

  async get(id: number): Promise<BoundApproval | null> {
    const result = await this.db.query('SELECT * FROM approvals WHERE id = $1', [id]);
    return result.rows[0] ? toApproval(result.rows[0]) : null;
  }

  async listForGoal(goalId: number): Promise<BoundApproval[]> {
    const result = await this.db.query('SELECT * FROM approvals WHERE goal_id = $1 ORDER BY id', [goalId]);
    return result.rows.map(toApproval);
  }

  async listPending(operatorId: number): Promise<BoundApproval[]> {
    const result = await this.db.query(
      `SELECT * FROM approvals WHERE operator_id = $1 AND status = 'pending' ORDER BY id`,
      [operatorId],
    );
    return result.rows.map(toApproval);
  }

  /** The operator's pending approvals with their action's risk and title and their goal's thread. */
  async listPendingWithThreads(operatorId: number): Promise<PendingApproval[]> {
    const result = await this.db.query(
      `SELECT a.*, act.risk AS action_risk, act.preview->>'title' AS action_title, g.thread AS goal_thread
         FROM approvals a
         JOIN actions act ON act.id = a.action_id
         JOIN goals g ON g.id = a.goal_id
       WHERE a.operator_id = $1 AND a.status = 'pending' ORDER BY a.id`,
      [operatorId],
    );
    return result.rows.map((row) => ({
      approval: toApproval(row),
      risk: row.action_risk as RiskClass,
      title: String(row.action_title ?? 'an action'),
      goalThread: row.goal_thread as ThreadRef,
    }));
  }

  /**
   * Pending approvals whose time ran out at `now` (`expiry` per their action's risk), and expired
   * ones whose action still waits (an expiry interrupted before it was carried): the sweep's work.
   */
  async listToExpire(now: Date, expiry: ApprovalExpiry): Promise<BoundApproval[]> {
    const result = await this.db.query(
      `SELECT a.* FROM approvals a JOIN actions act ON act.id = a.action_id
       WHERE (a.status = 'pending'
              AND a.created_at + (($2::jsonb ->> act.risk)::float8 * interval '1 millisecond') <= $1)
          OR (a.status = 'expired' AND act.status = 'awaiting_approval')
       ORDER BY a.id`,
      [now, JSON.stringify(expiry)],
    );
    return result.rows.map(toApproval);
  }

  /**
   * Decided approvals whose goal was never resumed (a crash between the decision and the resume),
   * whatever the goal's row says while it is open: a row can say `received` or `running` while
   * its graph is parked at the approval. A decision still waits to be carried while its action
   * says `awaiting_approval`; a goal whose row waits with nothing left pending (a crash inside the
   * resume, after the decisions were carried) is listed too. Finished goals never are: an edited
   * retry's approval on a finished goal belongs to the failure desk, not to the goal's graph.
   */
  async listDecidedAwaitingResume(): Promise<Approval[]> {
    const result = await this.db.query(
      `SELECT a.* FROM approvals a
         JOIN goals g ON g.id = a.goal_id
         JOIN actions act ON act.id = a.action_id
       WHERE a.status <> 'pending'
         AND g.status IN ('received', 'running', 'awaiting_approval')
         AND (act.status = 'awaiting_approval'
              OR (g.status = 'awaiting_approval' AND NOT EXISTS (
                    SELECT 1 FROM approvals p WHERE p.goal_id = a.goal_id AND p.status = 'pending')))
       ORDER BY a.id`,
    );
    return result.rows.map(toApproval);
  }

  /** Remember a chat message that shows this approval's card, so the decision can update it. */
  async addCard(id: number, card: MessageRef): Promise<void> {
    await this.db.query('UPDATE approvals SET cards = cards || $2::jsonb WHERE id = $1', [
      id,
      JSON.stringify([card]),
    ]);
  }

  /**
   * Decide an approval with a compare-and-set from `pending`: of any number of concurrent clicks,
   * exactly one wins; the others see `already_decided` with the winner's decision. An approval
   * wins only while the action's stored params hash is the one the card showed and, when given,
   * `shownHash` (the caller's hash of the action's current parameters) is too.
   */
  async decide(
    id: number,
    decision: ApprovalDecision,
    by: string,
    via: Channel,
    at: Date,
    shownHash?: string,
  ): Promise<DecisionResult> {
    const result = await this.db.query(
      `UPDATE approvals a SET status = $2, decided_by = $3, decided_via = $4, decided_at = $5
       WHERE a.id = $1 AND a.status = 'pending'
         AND ($2 <> 'approved'
              OR (a.params_hash = (SELECT act.params_hash FROM actions act WHERE act.id = a.action_id)
                  AND ($6::text IS NULL OR a.params_hash = $6::text)))
       RETURNING *`,
      [id, decision, by, via, at, shownHash ?? null],
    );
    if (result.rows[0]) return { kind: 'decided', approval: toApproval(result.rows[0]) };
    const current = await this.get(id);
    if (!current) return { kind: 'not_found' };
    return current.status === 'pending'
      ? { kind: 'params_changed', approval: current }
      : { kind: 'already_decided', approval: current };
  }

  /**
   * Expire a pending approval (compare-and-set, like a decision: a click and the sweep race, one
   * wins). Null when it was no longer pending.
   */
  async expire(id: number, reason: ExpiryReason, at: Date): Promise<BoundApproval | null> {
    const result = await this.db.query(
      `UPDATE approvals SET status = 'expired', expiry_reason = $2, decided_by = 'spine', decided_at = $3
       WHERE id = $1 AND status = 'pending' RETURNING *`,
      [id, reason, at],
    );
    return result.rows[0] ? toApproval(result.rows[0]) : null;
  }

  /**
   * Re-bind a pending approval to edited parameters: the edit flow changed them under its lock on
   * the approval and re-renders every card, so the cards show the new hash's parameters.
   */
  async rebind(id: number, paramsHash: string): Promise<boolean> {
    const result = await this.db.query(
      `UPDATE approvals SET params_hash = $2 WHERE id = $1 AND status = 'pending'`,
      [id, paramsHash],
    );
    return (result.rowCount ?? 0) > 0;
  }
}
