import type { Approval, ApprovalDecision, ApprovalStatus, Channel, MessageRef } from '../../core/domain.ts';
import type { Queryable } from '../database.ts';
import { toDate, toDateOrNull } from './rows.ts';

export function toApproval(row: Record<string, unknown>): Approval {
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
  };
}

export type DecisionResult =
  | { kind: 'decided'; approval: Approval }
  | { kind: 'already_decided'; approval: Approval }
  | { kind: 'not_found' };

export class ApprovalRepository {
  constructor(private readonly db: Queryable) {}

  /** One approval per action; a re-run of the node that asks returns the existing row. */
  async insertOrGet(input: { actionId: number; goalId: number; operatorId: number }): Promise<Approval> {
    const inserted = await this.db.query(
      `INSERT INTO approvals (action_id, goal_id, operator_id) VALUES ($1, $2, $3)
       ON CONFLICT (action_id) DO NOTHING RETURNING *`,
      [input.actionId, input.goalId, input.operatorId],
    );
    if (inserted.rows[0]) return toApproval(inserted.rows[0]);
    const existing = await this.db.query('SELECT * FROM approvals WHERE action_id = $1', [input.actionId]);
    return toApproval(existing.rows[0]);
  }

  async get(id: number): Promise<Approval | null> {
    const result = await this.db.query('SELECT * FROM approvals WHERE id = $1', [id]);
    return result.rows[0] ? toApproval(result.rows[0]) : null;
  }

  async listForGoal(goalId: number): Promise<Approval[]> {
    const result = await this.db.query('SELECT * FROM approvals WHERE goal_id = $1 ORDER BY id', [goalId]);
    return result.rows.map(toApproval);
  }

  async listPending(operatorId: number): Promise<Approval[]> {
    const result = await this.db.query(
      `SELECT * FROM approvals WHERE operator_id = $1 AND status = 'pending' ORDER BY id`,
      [operatorId],
    );
    return result.rows.map(toApproval);
  }

  /** Decided approvals whose goal still waits: a crash between the decision and the resume. */
  async listDecidedAwaitingResume(): Promise<Approval[]> {
    const result = await this.db.query(
      `SELECT a.* FROM approvals a JOIN goals g ON g.id = a.goal_id
       WHERE a.status <> 'pending' AND g.status = 'awaiting_approval' ORDER BY a.id`,
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
   * exactly one wins; the others see `already_decided` with the winner's decision.
   */
  async decide(
    id: number,
    decision: ApprovalDecision,
    by: string,
    via: Channel,
    at: Date,
  ): Promise<DecisionResult> {
    const result = await this.db.query(
      `UPDATE approvals SET status = $2, decided_by = $3, decided_via = $4, decided_at = $5
       WHERE id = $1 AND status = 'pending' RETURNING *`,
      [id, decision, by, via, at],
    );
    if (result.rows[0]) return { kind: 'decided', approval: toApproval(result.rows[0]) };
    const current = await this.get(id);
    return current ? { kind: 'already_decided', approval: current } : { kind: 'not_found' };
  }
}
