import type { Channel, Goal, GoalStatus, ThreadRef } from '../../core/domain.ts';
import type { Queryable } from '../database.ts';
import { toDate } from './rows.ts';

export function toGoal(row: Record<string, unknown>): Goal {
  return {
    id: Number(row.id),
    operatorId: Number(row.operator_id),
    channel: row.channel as Channel,
    thread: row.thread as ThreadRef,
    text: String(row.text),
    requestedBy: String(row.requested_by),
    status: row.status as GoalStatus,
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  };
}

export interface NewGoal {
  operatorId: number;
  channel: Channel;
  thread: ThreadRef;
  text: string;
  requestedBy: string;
}

export class GoalRepository {
  constructor(private readonly db: Queryable) {}

  async insert(goal: NewGoal): Promise<Goal> {
    const result = await this.db.query(
      `INSERT INTO goals (operator_id, channel, thread, text, requested_by) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
      [goal.operatorId, goal.channel, JSON.stringify(goal.thread), goal.text, goal.requestedBy],
    );
    return toGoal(result.rows[0]);
  }

  async get(id: number): Promise<Goal | null> {
    const result = await this.db.query('SELECT * FROM goals WHERE id = $1', [id]);
    return result.rows[0] ? toGoal(result.rows[0]) : null;
  }

  async setStatus(id: number, status: GoalStatus): Promise<void> {
    await this.db.query('UPDATE goals SET status = $2, updated_at = now() WHERE id = $1', [id, status]);
  }

  /**
   * Mark a goal running unless it already finished: a late duplicate run of a finished goal (a job
   * re-enqueued by recovery while the first run was completing) must not reopen it.
   */
  async markRunning(id: number): Promise<void> {
    await this.db.query(
      `UPDATE goals SET status = 'running', updated_at = now()
       WHERE id = $1 AND status NOT IN ('done', 'failed', 'cancelled')`,
      [id],
    );
  }

  /**
   * Say a goal waits for its operator, when its row says it runs (received or running) but its
   * graph is parked at an approval. A finished or cancelled goal is never reopened. True if changed.
   */
  async markAwaitingApproval(id: number): Promise<boolean> {
    const result = await this.db.query(
      `UPDATE goals SET status = 'awaiting_approval', updated_at = now()
       WHERE id = $1 AND status IN ('received', 'running')`,
      [id],
    );
    return (result.rowCount ?? 0) > 0;
  }

  /** Record the thread the goal replies in, once it is known (e.g. the card's thread). */
  async setThread(id: number, thread: ThreadRef): Promise<void> {
    await this.db.query('UPDATE goals SET thread = $2 WHERE id = $1', [id, JSON.stringify(thread)]);
  }

  /** True once the final reply was sent, so a re-run of the report node does not send it again. */
  async replySent(id: number): Promise<boolean> {
    const result = await this.db.query('SELECT reply_sent_at FROM goals WHERE id = $1', [id]);
    return Boolean(result.rows[0]?.reply_sent_at);
  }

  async markReplySent(id: number): Promise<void> {
    await this.db.query('UPDATE goals SET reply_sent_at = now() WHERE id = $1 AND reply_sent_at IS NULL', [
      id,
    ]);
  }

  /** Goals not yet finished, oldest first. */
  async listOpen(operatorId: number, limit = 20): Promise<Goal[]> {
    const result = await this.db.query(
      `SELECT * FROM goals WHERE operator_id = $1 AND status NOT IN ('done', 'failed', 'cancelled')
       ORDER BY id LIMIT $2`,
      [operatorId, limit],
    );
    return result.rows.map(toGoal);
  }

  /** Goals a crash may have left mid-run (received or running): the runner re-enqueues them on start. */
  async listInterrupted(): Promise<Goal[]> {
    const result = await this.db.query(
      `SELECT * FROM goals WHERE status IN ('received', 'running') ORDER BY id`,
    );
    return result.rows.map(toGoal);
  }

  async recent(operatorId: number, limit = 10): Promise<Goal[]> {
    const result = await this.db.query(
      'SELECT * FROM goals WHERE operator_id = $1 ORDER BY id DESC LIMIT $2',
      [operatorId, limit],
    );
    return result.rows.map(toGoal);
  }
}
