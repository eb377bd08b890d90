import { SpineError } from '../core/errors.ts';
import { addDays, localDateOf, zonedInstant } from '../core/local-time.ts';
import type { Queryable } from '../db/database.ts';

/**
 * Minutes a person would spend doing an operation by hand, per `connector.operation` (plus
 * `goal.answered` for a goal answered without any action): the time-saved estimate.
 */
export type MinutesSavedTable = Record<string, number>;

/** One operator's business figures for one local day. */
export interface DailyBusinessMetrics {
  /** YYYY-MM-DD in the operator's time zone. */
  day: string;
  /** Estimated manual minutes of the actions that succeeded and were not undone (and goals answered). */
  minutesSaved: number;
  /** Actions that succeeded (compensations not counted: they are corrective actions). */
  actionsExecuted: number;
  /** Actions that failed, were undone, or were edited by the operator before approval. */
  errorsIntroduced: number;
  /** Undos and retries the operator asked for. */
  correctiveActions: number;
  /** Approved as proposed. */
  approvalsApproved: number;
  /** Approved after the operator edited the action. */
  approvalsEdited: number;
  approvalsRejected: number;
  modelSpendUsd: number;
}

/** The days of a window added up, with the approval shares (null when nothing was decided). */
export interface BusinessTotals extends Omit<DailyBusinessMetrics, 'day'> {
  from: string;
  to: string;
  approvalRates: { approved: number; edited: number; rejected: number } | null;
}

/** Lifetime figures of every operator, for `/metrics` (read at scrape time). */
export interface BusinessSnapshot {
  executed: Array<{ connector: string; operation: string; count: number }>;
  minutesSaved: number;
  errorsIntroduced: number;
  correctiveActions: number;
  approvals: { approved: number; edited: number; rejected: number };
  modelSpendUsd: number;
  openFailures: number;
  goalsByStatus: Record<string, number>;
}

export interface BusinessMetricsOptions {
  minutesSaved: MinutesSavedTable;
}

/** Which rows a measure reads: one operator, an instant range, bucketed by local day in a zone. */
interface Scope {
  operatorId?: number;
  timezone?: string;
  from?: Date;
  to?: Date;
}

// A compensation that is (or will be) carried out means the original was a mistake.
const UNDONE = `EXISTS (SELECT 1 FROM actions u WHERE u.undo_of = a.id
  AND u.status NOT IN ('rejected', 'refused', 'cancelled'))`;
// bot/approval-edit.ts appends an 'edited' event when the operator changes an action before approving.
const EDITED = (actionColumn: string) =>
  `EXISTS (SELECT 1 FROM events e WHERE e.action_id = ${actionColumn} AND e.verb = 'edited')`;

const ZERO: Omit<DailyBusinessMetrics, 'day'> = {
  minutesSaved: 0,
  actionsExecuted: 0,
  errorsIntroduced: 0,
  correctiveActions: 0,
  approvalsApproved: 0,
  approvalsEdited: 0,
  approvalsRejected: 0,
  modelSpendUsd: 0,
};

/**
 * Business metrics computed from the database (actions, approvals, events, llm_usage): time saved,
 * errors introduced, corrective actions, approval decisions and model spend, per operator and
 * local day. Every figure is derived from rows, so every process computes the same numbers.
 *
 * @example
 * const metrics = new BusinessMetrics(db.pool, { minutesSaved: config.digest.minutesSaved });
 * const week = await metrics.daily(operator.id, { days: 7 });
 */
export class BusinessMetrics {
  readonly #db: Queryable;
  readonly #minutes: MinutesSavedTable;

  constructor(db: Queryable, options: BusinessMetricsOptions) {
    this.#db = db;
    this.#minutes = options.minutesSaved;
  }

  /** The last `days` local days up to today (oldest first), every day present (zeros when quiet). */
  async daily(operatorId: number, options: { days: number; now?: Date }): Promise<DailyBusinessMetrics[]> {
    const timezone = await this.#timezone(operatorId);
    const today = localDateOf(options.now ?? new Date(), timezone);
    const days = Math.max(1, Math.floor(options.days));
    return this.range(operatorId, addDays(today, -(days - 1)), today, timezone);
  }

  /** One local day (e.g. yesterday, for the digest). */
  async day(operatorId: number, localDate: string): Promise<DailyBusinessMetrics> {
    const [metrics] = await this.range(operatorId, localDate, localDate);
    return metrics ?? { day: localDate, ...ZERO };
  }

  /** The last `days` local days added up, with approval rates. */
  async totals(operatorId: number, options: { days: number; now?: Date }): Promise<BusinessTotals> {
    const daily = await this.daily(operatorId, options);
    const sum = { ...ZERO };
    for (const day of daily) {
      for (const key of Object.keys(ZERO) as Array<keyof typeof ZERO>) sum[key] += day[key];
    }
    const decided = sum.approvalsApproved + sum.approvalsEdited + sum.approvalsRejected;
    return {
      ...sum,
      modelSpendUsd: roundUsd(sum.modelSpendUsd),
      from: daily[0]?.day ?? '',
      to: daily.at(-1)?.day ?? '',
      approvalRates:
        decided === 0
          ? null
          : {
              approved: sum.approvalsApproved / decided,
              edited: sum.approvalsEdited / decided,
              rejected: sum.approvalsRejected / decided,
            },
    };
  }

  /** Local days `fromDay`..`toDay` inclusive, in the operator's time zone. */
  async range(
    operatorId: number,
    fromDay: string,
    toDay: string,
    timezone?: string,
  ): Promise<DailyBusinessMetrics[]> {
    const zone = timezone ?? (await this.#timezone(operatorId));
    const scope: Scope = {
      operatorId,
      timezone: zone,
      from: zonedInstant(fromDay, { hour: 0, minute: 0 }, zone),
      to: zonedInstant(addDays(toDay, 1), { hour: 0, minute: 0 }, zone),
    };
    const byDay = new Map<string, DailyBusinessMetrics>();
    for (let day = fromDay; day <= toDay; day = addDays(day, 1)) byDay.set(day, { day, ...ZERO });
    const add = (day: string, key: keyof typeof ZERO, value: number) => {
      const entry = byDay.get(day);
      if (entry) entry[key] += value;
    };
    for (const row of await this.#executed(scope)) {
      add(row.day, 'actionsExecuted', row.executed);
      add(row.day, 'minutesSaved', row.kept * (this.#minutes[`${row.connector}.${row.operation}`] ?? 0));
    }
    for (const row of await this.#goalsAnswered(scope))
      add(row.day, 'minutesSaved', row.count * (this.#minutes['goal.answered'] ?? 0));
    for (const row of await this.#errors(scope)) add(row.day, 'errorsIntroduced', row.count);
    for (const row of await this.#corrective(scope)) add(row.day, 'correctiveActions', row.count);
    for (const row of await this.#approvals(scope)) {
      const key =
        row.decision === 'rejected'
          ? 'approvalsRejected'
          : row.decision === 'edited'
            ? 'approvalsEdited'
            : 'approvalsApproved';
      add(row.day, key, row.count);
    }
    for (const row of await this.#spend(scope)) add(row.day, 'modelSpendUsd', row.usd);
    return [...byDay.values()].map((entry) => ({
      ...entry,
      minutesSaved: Math.round(entry.minutesSaved * 10) / 10,
      modelSpendUsd: roundUsd(entry.modelSpendUsd),
    }));
  }

  /** The time-saved estimate of everything done since an instant (the digest's "Time saved"). */
  async minutesSavedSince(operatorId: number, since: Date): Promise<number> {
    const scope: Scope = { operatorId, from: since };
    return this.#minutesSaved(await this.#executed(scope), await this.#goalsAnswered(scope));
  }

  /** Lifetime totals over every operator (the `/metrics` counters). */
  async snapshot(): Promise<BusinessSnapshot> {
    const all: Scope = {};
    const executed = await this.#executed(all);
    const minutesSaved = this.#minutesSaved(executed, await this.#goalsAnswered(all));
    const approvals = { approved: 0, edited: 0, rejected: 0 };
    for (const row of await this.#approvals(all)) approvals[row.decision] += row.count;
    const open = await this.#db.query(`SELECT count(*)::int AS count FROM failures WHERE status = 'open'`);
    const goals = await this.#db.query('SELECT status, count(*)::int AS count FROM goals GROUP BY status');
    return {
      executed: executed.map((row) => ({
        connector: row.connector,
        operation: row.operation,
        count: row.executed,
      })),
      minutesSaved,
      errorsIntroduced: sumOf(await this.#errors(all)),
      correctiveActions: sumOf(await this.#corrective(all)),
      approvals,
      modelSpendUsd: roundUsd((await this.#spend(all)).reduce((total, row) => total + row.usd, 0)),
      openFailures: Number(open.rows[0]?.count ?? 0),
      goalsByStatus: Object.fromEntries(goals.rows.map((row) => [String(row.status), Number(row.count)])),
    };
  }

  /** Manual minutes of the kept (not undone) actions and of the goals answered without one. */
  #minutesSaved(
    executed: Array<{ connector: string; operation: string; kept: number }>,
    answered: Array<{ count: number }>,
  ): number {
    let minutes = 0;
    for (const row of executed)
      minutes += row.kept * (this.#minutes[`${row.connector}.${row.operation}`] ?? 0);
    for (const row of answered) minutes += row.count * (this.#minutes['goal.answered'] ?? 0);
    return Math.round(minutes * 10) / 10;
  }

  async #timezone(operatorId: number): Promise<string> {
    const result = await this.#db.query('SELECT timezone FROM operators WHERE id = $1', [operatorId]);
    const timezone = result.rows[0]?.timezone as string | undefined;
    if (!timezone) {
      throw new SpineError('metrics.no_operator', `There is no operator #${operatorId}.`, {
        category: 'user',
      });
    }
    return timezone;
  }

  /** Run a measure: `column` is the instant that places a row on a day. */
  async #grouped(
    scope: Scope,
    input: {
      column: string;
      operatorColumn: string;
      select: string;
      from: string;
      where: string;
      groupBy?: string;
    },
  ): Promise<Array<Record<string, unknown> & { day: string }>> {
    const params: unknown[] = [];
    const conditions = [input.where];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (scope.operatorId !== undefined)
      conditions.push(`${input.operatorColumn} = ${param(scope.operatorId)}`);
    if (scope.from) conditions.push(`${input.column} >= ${param(scope.from)}`);
    if (scope.to) conditions.push(`${input.column} < ${param(scope.to)}`);
    const day = scope.timezone
      ? `to_char(${input.column} AT TIME ZONE ${param(scope.timezone)}::text, 'YYYY-MM-DD')`
      : `'all'::text`;
    const result = await this.#db.query(
      `SELECT bucket, ${input.select} FROM (SELECT ${day} AS bucket, * FROM ${input.from}
         WHERE ${conditions.join(' AND ')}) scoped
       GROUP BY bucket${input.groupBy ? `, ${input.groupBy}` : ''}`,
      params,
    );
    return result.rows.map((row) => ({ ...row, day: String(row.bucket) }));
  }

  async #executed(scope: Scope) {
    const rows = await this.#grouped(scope, {
      column: 'a.executed_at',
      operatorColumn: 'a.operator_id',
      from: `(SELECT a.*, ${UNDONE} AS undone FROM actions a) a`,
      where: `a.status = 'succeeded' AND a.undo_of IS NULL`,
      select: `connector, operation, count(*)::int AS executed, count(*) FILTER (WHERE NOT undone)::int AS kept`,
      groupBy: 'connector, operation',
    });
    return rows.map((row) => ({
      day: row.day,
      connector: String(row.connector),
      operation: String(row.operation),
      executed: Number(row.executed),
      kept: Number(row.kept),
    }));
  }

  /** Rows counted per day; `alias` is the table's alias in `from` (its operator_id scopes it). */
  async #count(scope: Scope, alias: string, input: { column: string; from: string; where: string }) {
    const rows = await this.#grouped(scope, {
      ...input,
      operatorColumn: `${alias}.operator_id`,
      select: 'count(*)::int AS count',
    });
    return rows.map((row) => ({ day: row.day, count: Number(row.count) }));
  }

  /** Goals answered without any action (a recall, a status question) still saved a look-up. */
  #goalsAnswered(scope: Scope) {
    return this.#count(scope, 'g', {
      column: 'g.updated_at',
      from: 'goals g',
      where: `g.status = 'done' AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.goal_id = g.id)`,
    });
  }

  /** Each action counts once, on the day it ran (or was proposed, when it never ran). */
  #errors(scope: Scope) {
    return this.#count(scope, 'a', {
      column: 'COALESCE(a.executed_at, a.created_at)',
      from: 'actions a',
      where: `a.undo_of IS NULL AND (a.status = 'failed' OR ${UNDONE} OR ${EDITED('a.id')})`,
    });
  }

  /** Undos (compensations) and retries (`<key>-retry-<n>`, ConnectorStateRepository.insertRetry). */
  #corrective(scope: Scope) {
    return this.#count(scope, 'a', {
      column: 'a.created_at',
      from: 'actions a',
      where: `(a.undo_of IS NOT NULL OR a.idempotency_key LIKE '%-retry-%')
          AND a.status NOT IN ('rejected', 'refused', 'cancelled')`,
    });
  }

  async #approvals(scope: Scope) {
    const rows = await this.#grouped(scope, {
      column: 'p.decided_at',
      operatorColumn: 'p.operator_id',
      from: `(SELECT p.*, CASE WHEN p.status = 'rejected' THEN 'rejected'
                WHEN ${EDITED('p.action_id')} THEN 'edited' ELSE 'approved' END AS decision
              FROM approvals p) p`,
      where: `p.status IN ('approved', 'rejected') AND p.decided_at IS NOT NULL`,
      select: 'decision, count(*)::int AS count',
      groupBy: 'decision',
    });
    return rows.map((row) => ({
      day: row.day,
      decision: String(row.decision) as 'approved' | 'edited' | 'rejected',
      count: Number(row.count),
    }));
  }

  async #spend(scope: Scope) {
    const rows = await this.#grouped(scope, {
      column: 'u.at',
      operatorColumn: 'u.operator_id',
      from: 'llm_usage u',
      where: 'true',
      select: 'COALESCE(sum(cost_usd), 0)::float8 AS usd',
    });
    return rows.map((row) => ({ day: row.day, usd: Number(row.usd) }));
  }
}

function sumOf(rows: Array<{ count: number }>): number {
  return rows.reduce((total, row) => total + row.count, 0);
}

function roundUsd(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** One day as one plain line, for the digest. */
export function describeBusinessDay(metrics: DailyBusinessMetrics): string {
  const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
  const decided = metrics.approvalsApproved + metrics.approvalsEdited + metrics.approvalsRejected;
  const approvals =
    decided === 0
      ? 'no approvals decided'
      : `approvals: ${metrics.approvalsApproved} approved, ${metrics.approvalsEdited} edited, ${metrics.approvalsRejected} rejected`;
  return (
    `Yesterday (${metrics.day}): about ${Math.round(metrics.minutesSaved)} min saved, ` +
    `${plural(metrics.actionsExecuted, 'action')} executed, ${plural(metrics.errorsIntroduced, 'error')} introduced, ` +
    `${plural(metrics.correctiveActions, 'corrective action')}; ${approvals}.`
  );
}
