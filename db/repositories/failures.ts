import type { Failure, FailureStatus, MessageRef } from '../../core/domain.ts';
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
    resolution: (row.resolution as string | null | undefined) ?? null,
    remedy: (row.remedy as string | null | undefined) ?? null,
    resolvedBy: (row.resolved_by as string | null | undefined) ?? null,
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

  /** The failure recorded for a failed (or unknown) action, whatever its status now. */
  async ofAction(actionId: number): Promise<Failure | null> {
    const result = await this.db.query(
      `SELECT * FROM failures WHERE action_id = $1 AND kind IN ('action_failed', 'action_unknown')
       ORDER BY id LIMIT 1`,
      [actionId],
    );
    return result.rows[0] ? toFailure(result.rows[0]) : null;
  }

  async listOpen(operatorId: number): Promise<Failure[]> {
    const result = await this.db.query(
      `SELECT * FROM failures WHERE operator_id = $1 AND status = 'open' ORDER BY id`,
      [operatorId],
    );
    return result.rows.map(toFailure);
  }

  async get(id: number): Promise<Failure | null> {
    const result = await this.db.query('SELECT * FROM failures WHERE id = $1', [id]);
    return result.rows[0] ? toFailure(result.rows[0]) : null;
  }

  /** Close an open failure (compare-and-set from `open`): of concurrent clicks, one wins. */
  async close(id: number, status: 'resolved' | 'dismissed', resolution: string): Promise<Failure | null> {
    const result = await this.db.query(
      `UPDATE failures SET status = $2, resolution = $3, resolved_at = now()
       WHERE id = $1 AND status = 'open' RETURNING *`,
      [id, status, resolution],
    );
    return result.rows[0] ? toFailure(result.rows[0]) : null;
  }

  /**
   * Close an open failure with the remedy chosen and who chose it. A compare-and-set from `open`:
   * of any number of concurrent clicks, exactly one gets the row back.
   */
  async resolve(
    id: number,
    input: {
      status: 'resolved' | 'dismissed';
      remedy: string;
      resolution: string;
      resolvedBy: string;
      at: Date;
    },
  ): Promise<Failure | null> {
    const result = await this.db.query(
      `UPDATE failures SET status = $2, remedy = $3, resolution = $4, resolved_by = $5, resolved_at = $6
       WHERE id = $1 AND status = 'open' RETURNING *`,
      [id, input.status, input.remedy, input.resolution, input.resolvedBy, input.at],
    );
    return result.rows[0] ? toFailure(result.rows[0]) : null;
  }

  /** Remember a chat message that shows this failure's card, so Retry / Dismiss can update it. */
  async addCard(id: number, card: MessageRef): Promise<void> {
    await this.db.query(
      `UPDATE failures SET evidence = jsonb_set(evidence, '{cards}', coalesce(evidence->'cards', '[]'::jsonb) || $2::jsonb)
       WHERE id = $1`,
      [id, JSON.stringify([card])],
    );
  }

  /** The most recent open failure of an operator (for `retry` / `dismiss` without an id). */
  async latestOpen(operatorId: number): Promise<Failure | null> {
    const result = await this.db.query(
      `SELECT * FROM failures WHERE operator_id = $1 AND status = 'open' ORDER BY id DESC LIMIT 1`,
      [operatorId],
    );
    return result.rows[0] ? toFailure(result.rows[0]) : null;
  }
}
