import type { Failure, FailureStatus } from '../../core/domain.ts';
import type { Queryable } from '../database.ts';
import { toDate } from './rows.ts';

function toFailure(row: Record<string, unknown>): Failure {
  return {
    id: Number(row.id),
    goalId: row.goal_id === null ? null : Number(row.goal_id),
    actionId: row.action_id === null ? null : Number(row.action_id),
    operatorId: row.operator_id === null ? null : Number(row.operator_id),
    kind: String(row.kind),
    message: String(row.message),
    evidence: (row.evidence as Record<string, unknown>) ?? {},
    remediation: (row.remediation as string[]) ?? [],
    status: row.status as FailureStatus,
    createdAt: toDate(row.created_at),
  };
}

export type NewFailure = Pick<
  Failure,
  'goalId' | 'actionId' | 'operatorId' | 'kind' | 'message' | 'evidence' | 'remediation'
>;

export class FailureRepository {
  constructor(private readonly db: Queryable) {}

  async insert(failure: NewFailure): Promise<Failure> {
    const result = await this.db.query(
      `INSERT INTO failures (goal_id, action_id, operator_id, kind, message, evidence, remediation)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [
        failure.goalId,
        failure.actionId,
        failure.operatorId,
        failure.kind,
        failure.message,
        JSON.stringify(failure.evidence),
        JSON.stringify(failure.remediation),
      ],
    );
    return toFailure(result.rows[0]);
  }

  async listOpen(operatorId: number): Promise<Failure[]> {
    const result = await this.db.query(
      `SELECT * FROM failures WHERE operator_id = $1 AND status = 'open' ORDER BY id`,
      [operatorId],
    );
    return result.rows.map(toFailure);
  }
}
