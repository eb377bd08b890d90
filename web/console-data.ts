import type { SpineEvent } from '../core/domain.ts';
import { SpineError } from '../core/errors.ts';
import { renderEvent } from '../core/narrative.ts';
import type { Queryable } from '../db/database.ts';
import { createRepositories, type Repositories } from '../db/repositories/index.ts';
import { readEventLog } from '../ledger/event-log.ts';
import { type ForensicsDeps, goalForensics } from '../ledger/goal-forensics.ts';
import { describeVerdict, verifyLedger } from '../ledger/hash-chain.ts';
import { type LogFilter, LogFilterError, parseWhen } from '../ledger/log-filter.ts';
import type { GoalPageView } from './pages/goals-page.ts';
import type { TimelineEntry, TimelineFilters, TimelineView } from './pages/timeline-page.ts';

/** Events per timeline page. */
export const TIMELINE_PAGE_SIZE = 50;

/**
 * What the console reads, scoped to one operator, through the ledger: the narrative log
 * (`readEventLog` with a `LogFilter`), the hash-chain check, and a goal's forensics. Read-only.
 */
export class ConsoleData {
  readonly #db: Queryable;
  readonly #forensics: ForensicsDeps;
  readonly repos: Repositories;

  constructor(deps: ForensicsDeps) {
    this.#db = deps.db;
    this.#forensics = deps;
    this.repos = createRepositories(deps.db);
  }

  /** The narrative log, newest first, filtered like chat's `log` and paged by event id. */
  async timeline(
    operatorId: number,
    filters: TimelineFilters,
    options: { timezone: string; now: Date; verify?: boolean },
  ): Promise<TimelineView> {
    const actors = await this.#db.query(
      `SELECT DISTINCT actor FROM events WHERE operator_id = $1 ORDER BY actor LIMIT 100`,
      [operatorId],
    );
    const view: TimelineView = {
      entries: [],
      filters,
      actors: actors.rows.map((row) => String(row.actor)),
      olderBefore: null,
      problem: null,
      verdict: null,
    };
    if (options.verify) {
      const verdict = await verifyLedger(this.#db);
      view.verdict = { intact: verdict.intact, line: describeVerdict(verdict).split('\n')[0] ?? '' };
    }
    let filter: LogFilter;
    try {
      filter = logFilter(filters, options);
    } catch (error) {
      if (!(error instanceof LogFilterError)) throw error;
      view.problem = error.message;
      return view;
    }
    const page = await readEventLog(this.#db, operatorId, filter, {
      page: 1,
      limit: TIMELINE_PAGE_SIZE,
      ...(filters.before !== undefined ? { beforeId: filters.before } : {}),
    });
    view.entries = page.events.reverse().map((event) => entry(event, options.timezone));
    view.olderBefore = page.nextBeforeId;
    view.total = page.total;
    return view;
  }

  /** A goal of this operator step by step (its forensics) with its actions and events; null for anyone else's. */
  async goal(operatorId: number, goalId: number, timezone: string): Promise<GoalPageView | null> {
    let forensics: GoalPageView['forensics'];
    try {
      forensics = await goalForensics(this.#forensics, operatorId, goalId);
    } catch (error) {
      if (error instanceof SpineError && error.code === 'ledger.goal_not_found') return null;
      throw error;
    }
    const events = await readEventLog(this.#db, operatorId, { goalId }, { page: 1, limit: 500 });
    return {
      forensics,
      actions: await this.repos.actions.listForGoal(goalId),
      events: events.events.map((event) => entry(event, timezone)),
    };
  }
}

/** The console's filters as the ledger's: `since` / `until` read like chat's (`parseWhen`). */
export function logFilter(filters: TimelineFilters, options: { timezone: string; now: Date }): LogFilter {
  const filter: LogFilter = {};
  if (filters.goalId !== undefined) filter.goalId = filters.goalId;
  if (filters.connector) filter.connector = filters.connector.toLowerCase();
  if (filters.actor) filter.actor = filters.actor;
  if (filters.text) filter.text = filters.text;
  if (filters.since) filter.since = parseWhen(filters.since, options);
  if (filters.until) filter.until = parseWhen(filters.until, { ...options, end: true });
  return filter;
}

function entry(event: SpineEvent, timezone: string): TimelineEntry {
  return { id: event.id, sentence: renderEvent(event, { timezone, withDate: true }), goalId: event.goalId };
}
