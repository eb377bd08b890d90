import { addDays, localDateOf } from '../core/local-time.ts';
import type { Queryable } from '../db/database.ts';
import { createRepositories } from '../db/repositories/index.ts';
import type { DailyBusinessMetrics, MetricsSource } from './metrics-source.ts';

/**
 * A plain metrics source read straight from the tables, until the ledger's business metrics take
 * its place: executed actions (with the configured manual minutes each saves), failed and undone
 * actions as errors, undos as corrective actions, approval decisions and edits, and model spend,
 * per local day of the operator.
 */
export class DatabaseMetricsSource implements MetricsSource {
  constructor(
    private readonly db: Queryable,
    /** Manual minutes per `connector.operation` (SPINE_TIME_SAVED_MINUTES). */
    private readonly minutesSaved: Record<string, number>,
  ) {}

  async daily(operatorId: number, options: { days: number; now?: Date }): Promise<DailyBusinessMetrics[]> {
    const operator = await createRepositories(this.db).operators.get(operatorId);
    const timezone = operator?.timezone ?? 'UTC';
    const today = localDateOf(options.now ?? new Date(), timezone);
    const first = addDays(today, -(options.days - 1));
    const table = new Map<string, DailyBusinessMetrics>();
    for (let index = 0; index < options.days; index += 1) {
      const day = addDays(first, index);
      table.set(day, {
        day,
        minutesSaved: 0,
        actionsExecuted: 0,
        errorsIntroduced: 0,
        correctiveActions: 0,
        approvalsApproved: 0,
        approvalsEdited: 0,
        approvalsRejected: 0,
        modelSpendUsd: 0,
      });
    }
    const localDay = (column: string) => `to_char(${column} AT TIME ZONE $2, 'YYYY-MM-DD')`;
    const since = new Date(Date.parse(`${first}T00:00:00Z`) - 86_400_000);
    const actions = await this.db.query(
      `SELECT ${localDay('executed_at')} AS day, connector, operation, status, undo_of IS NOT NULL AS corrective,
         count(*)::int AS n
       FROM actions WHERE operator_id = $1 AND executed_at >= $3 AND status IN ('succeeded', 'failed')
       GROUP BY 1, 2, 3, 4, 5`,
      [operatorId, timezone, since],
    );
    for (const row of actions.rows) {
      const day = table.get(String(row.day));
      if (!day) continue;
      const count = Number(row.n);
      if (row.status === 'failed') {
        day.errorsIntroduced += count;
        continue;
      }
      day.actionsExecuted += count;
      if (row.corrective) {
        // An undo corrects an earlier action: that one was an error.
        day.correctiveActions += count;
        day.errorsIntroduced += count;
      } else day.minutesSaved += count * (this.minutesSaved[`${row.connector}.${row.operation}`] ?? 0);
    }
    const approvals = await this.db.query(
      `SELECT ${localDay('decided_at')} AS day, status, count(*)::int AS n FROM approvals
       WHERE operator_id = $1 AND decided_at >= $3 GROUP BY 1, 2`,
      [operatorId, timezone, since],
    );
    for (const row of approvals.rows) {
      const day = table.get(String(row.day));
      if (!day) continue;
      if (row.status === 'approved') day.approvalsApproved += Number(row.n);
      if (row.status === 'rejected') day.approvalsRejected += Number(row.n);
    }
    const edits = await this.db.query(
      `SELECT ${localDay('at')} AS day, count(*)::int AS n FROM events
       WHERE operator_id = $1 AND at >= $3 AND verb = 'edited' AND ref LIKE 'approval #%' GROUP BY 1`,
      [operatorId, timezone, since],
    );
    for (const row of edits.rows) {
      const day = table.get(String(row.day));
      if (day) day.approvalsEdited += Number(row.n);
    }
    const spend = await this.db.query(
      `SELECT day, COALESCE(sum(cost_usd), 0)::float8 AS usd FROM llm_usage
       WHERE operator_id = $1 AND day >= $2 GROUP BY day`,
      [operatorId, first],
    );
    for (const row of spend.rows) {
      const day = table.get(String(row.day));
      if (day) day.modelSpendUsd += Number(row.usd);
    }
    return [...table.values()];
  }
}
