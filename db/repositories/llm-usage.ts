import type { Queryable } from '../database.ts';

/** One model call, as recorded. */
export interface NewLlmUsage {
  operatorId: number | null;
  goalId: number | null;
  role: 'small' | 'large';
  purpose: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  cached: boolean;
  latencyMs: number;
  /** The operator's local date, YYYY-MM-DD. */
  day: string;
  at: Date;
}

/** Sums over a set of calls. */
export interface UsageTotals {
  calls: number;
  cacheHits: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface ModelUsageTotals extends UsageTotals {
  model: string;
}

export interface GoalUsageTotals extends UsageTotals {
  goalId: number;
}

const TOTALS = `count(*)::int AS calls, count(*) FILTER (WHERE cached)::int AS cache_hits,
  COALESCE(sum(input_tokens), 0)::bigint AS input_tokens, COALESCE(sum(output_tokens), 0)::bigint AS output_tokens,
  COALESCE(sum(cost_usd), 0)::float8 AS cost_usd`;

function toTotals(row: Record<string, unknown> | undefined): UsageTotals {
  return {
    calls: Number(row?.calls ?? 0),
    cacheHits: Number(row?.cache_hits ?? 0),
    inputTokens: Number(row?.input_tokens ?? 0),
    outputTokens: Number(row?.output_tokens ?? 0),
    costUsd: Number(row?.cost_usd ?? 0),
  };
}

/** The `llm_usage` table and the budget notices: tokens and cost per call, goal and day. */
export class LlmUsageRepository {
  constructor(private readonly db: Queryable) {}

  async record(usage: NewLlmUsage): Promise<void> {
    await this.db.query(
      `INSERT INTO llm_usage (operator_id, goal_id, role, purpose, model, input_tokens, output_tokens, cost_usd,
         cached, latency_ms, day, at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        usage.operatorId,
        usage.goalId,
        usage.role,
        usage.purpose,
        usage.model,
        usage.inputTokens,
        usage.outputTokens,
        usage.costUsd,
        usage.cached,
        Math.round(usage.latencyMs),
        usage.day,
        usage.at,
      ],
    );
  }

  /** What an operator spent on one local day. */
  async totalsForDay(operatorId: number, day: string): Promise<UsageTotals> {
    const result = await this.db.query(
      `SELECT ${TOTALS} FROM llm_usage WHERE operator_id = $1 AND day = $2`,
      [operatorId, day],
    );
    return toTotals(result.rows[0]);
  }

  /** Per model on one local day, most expensive first. */
  async byModelForDay(operatorId: number, day: string): Promise<ModelUsageTotals[]> {
    const result = await this.db.query(
      `SELECT model, ${TOTALS} FROM llm_usage WHERE operator_id = $1 AND day = $2
       GROUP BY model ORDER BY cost_usd DESC, model`,
      [operatorId, day],
    );
    return result.rows.map((row) => ({ model: String(row.model), ...toTotals(row) }));
  }

  /** The goals that cost most on one local day. */
  async topGoalsForDay(operatorId: number, day: string, limit: number): Promise<GoalUsageTotals[]> {
    const result = await this.db.query(
      `SELECT goal_id, ${TOTALS} FROM llm_usage WHERE operator_id = $1 AND day = $2 AND goal_id IS NOT NULL
       GROUP BY goal_id ORDER BY cost_usd DESC, goal_id LIMIT $3`,
      [operatorId, day, limit],
    );
    return result.rows.map((row) => ({ goalId: Number(row.goal_id), ...toTotals(row) }));
  }

  /** Everything one goal's model calls used. */
  async totalsForGoal(goalId: number): Promise<UsageTotals> {
    const result = await this.db.query(`SELECT ${TOTALS} FROM llm_usage WHERE goal_id = $1`, [goalId]);
    return toTotals(result.rows[0]);
  }

  /** Totals over a range of local days (inclusive), e.g. the last seven. */
  async totalsForDays(operatorId: number, fromDay: string, toDay: string): Promise<UsageTotals> {
    const result = await this.db.query(
      `SELECT ${TOTALS} FROM llm_usage WHERE operator_id = $1 AND day BETWEEN $2 AND $3`,
      [operatorId, fromDay, toDay],
    );
    return toTotals(result.rows[0]);
  }

  /** Record a budget notice; true only the first time for this operator, day and level. */
  async claimNotice(operatorId: number, day: string, level: 'warning' | 'cap', at: Date): Promise<boolean> {
    const result = await this.db.query(
      `INSERT INTO llm_budget_notices (operator_id, day, level, at) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING`,
      [operatorId, day, level, at],
    );
    return (result.rowCount ?? 0) > 0;
  }
}
