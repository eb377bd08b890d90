import type { Preview } from '../../core/domain.ts';
import type { Queryable } from '../database.ts';
import { toDate } from './rows.ts';

/** A goal finished in the digest's period. */
export interface FinishedGoal {
  id: number;
  text: string;
}

/** An action that succeeded in the period. */
export interface SucceededAction {
  id: number;
  connector: string;
  operation: string;
  preview: Preview;
}

/** A memory that will expire soon. */
export interface ExpiringMemory {
  id: number;
  content: string;
  expiresAt: Date;
}

/** The counts shown under "the numbers". */
export interface PeriodCounts {
  goals: number;
  goalsDone: number;
  actions: number;
  approvalsDecided: number;
}

/** Read-only queries behind the digest: what happened since a moment, and what is coming up. */
export class DigestFactsRepository {
  constructor(private readonly db: Queryable) {}

  async goalsFinished(operatorId: number, since: Date, limit = 20): Promise<FinishedGoal[]> {
    const result = await this.db.query(
      `SELECT id, text FROM goals WHERE operator_id = $1 AND status = 'done'
         AND updated_at > $2 ORDER BY id LIMIT $3`,
      [operatorId, since, limit],
    );
    return result.rows.map((row) => ({ id: Number(row.id), text: String(row.text) }));
  }

  async actionsSucceeded(operatorId: number, since: Date): Promise<SucceededAction[]> {
    const result = await this.db.query(
      `SELECT id, connector, operation, preview FROM actions WHERE operator_id = $1 AND status = 'succeeded'
         AND coalesce(executed_at, created_at) > $2 ORDER BY id`,
      [operatorId, since],
    );
    return result.rows.map((row) => ({
      id: Number(row.id),
      connector: String(row.connector),
      operation: String(row.operation),
      preview: row.preview as Preview,
    }));
  }

  async counts(operatorId: number, since: Date): Promise<PeriodCounts> {
    const result = await this.db.query(
      `SELECT
         (SELECT count(*) FROM goals WHERE operator_id = $1 AND created_at > $2)::int AS goals,
         (SELECT count(*) FROM goals WHERE operator_id = $1 AND status = 'done' AND updated_at > $2)::int AS goals_done,
         (SELECT count(*) FROM actions WHERE operator_id = $1 AND status = 'succeeded'
            AND coalesce(executed_at, created_at) > $2)::int AS actions,
         (SELECT count(*) FROM approvals WHERE operator_id = $1 AND status <> 'pending'
            AND decided_at > $2)::int AS approvals`,
      [operatorId, since],
    );
    const row = result.rows[0] ?? {};
    return {
      goals: Number(row.goals ?? 0),
      goalsDone: Number(row.goals_done ?? 0),
      actions: Number(row.actions ?? 0),
      approvalsDecided: Number(row.approvals ?? 0),
    };
  }

  async memoriesExpiring(operatorId: number, from: Date, until: Date, limit = 10): Promise<ExpiringMemory[]> {
    const result = await this.db.query(
      `SELECT id, content, expires_at FROM memories WHERE operator_id = $1 AND superseded_by IS NULL
         AND expires_at > $2 AND expires_at <= $3 ORDER BY expires_at LIMIT $4`,
      [operatorId, from, until, limit],
    );
    return result.rows.map((row) => ({
      id: Number(row.id),
      content: String(row.content),
      expiresAt: toDate(row.expires_at),
    }));
  }
}
