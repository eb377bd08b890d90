import type { SpineEvent } from '../core/domain.ts';
import { zonedInstant } from '../core/local-time.ts';
import { renderEvent } from '../core/narrative.ts';
import type { Queryable } from '../db/database.ts';
import { toEvent } from '../db/repositories/events.ts';
import { createRepositories, type Repositories } from '../db/repositories/index.ts';
import type { GoalPageView, ModelCall } from './pages/goals-page.ts';
import type { TimelineEntry, TimelineFilters, TimelineView } from './pages/timeline-page.ts';

/** Events per timeline page. */
export const TIMELINE_PAGE_SIZE = 50;

/** `%`, `_` and `\` taken literally in a LIKE pattern. */
function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

/**
 * What the console reads, scoped to one operator: the timeline with filters and paging, a goal
 * with its actions, approvals, events and model calls. Read-only.
 */
export class ConsoleData {
  readonly #db: Queryable;
  readonly repos: Repositories;

  constructor(db: Queryable) {
    this.#db = db;
    this.repos = createRepositories(db);
  }

  /** The narrative log, newest first, filtered (goal, actor, text, since) and paged by event id. */
  async timeline(operatorId: number, filters: TimelineFilters, timezone: string): Promise<TimelineView> {
    const args: unknown[] = [operatorId];
    const where = ['(operator_id = $1 OR operator_id IS NULL)'];
    const add = (clause: (placeholder: string) => string, value: unknown) => {
      args.push(value);
      where.push(clause(`$${args.length}`));
    };
    if (filters.goalId !== undefined) add((p) => `goal_id = ${p}`, filters.goalId);
    if (filters.actor) add((p) => `actor = ${p}`, filters.actor);
    if (filters.text)
      add(
        (p) => `(verb || ' ' || object || ' ' || coalesce(why, '') || ' ' || coalesce(ref, '')) ILIKE ${p}`,
        `%${likeLiteral(filters.text)}%`,
      );
    if (filters.since)
      add((p) => `at >= ${p}`, zonedInstant(filters.since, { hour: 0, minute: 0 }, timezone));
    if (filters.before !== undefined) add((p) => `id < ${p}`, filters.before);
    args.push(TIMELINE_PAGE_SIZE + 1);
    const result = await this.#db.query(
      `SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${args.length}`,
      args,
    );
    const events = result.rows.slice(0, TIMELINE_PAGE_SIZE).map(toEvent);
    const actors = await this.#db.query(
      `SELECT DISTINCT actor FROM events WHERE operator_id = $1 ORDER BY actor LIMIT 100`,
      [operatorId],
    );
    return {
      entries: events.map((event) => entry(event, timezone)),
      filters,
      actors: actors.rows.map((row) => String(row.actor)),
      olderBefore: result.rows.length > TIMELINE_PAGE_SIZE ? (events.at(-1)?.id ?? null) : null,
    };
  }

  /** A goal of this operator with everything that happened for it; null for anyone else's. */
  async goal(operatorId: number, goalId: number, timezone: string): Promise<GoalPageView | null> {
    const goal = await this.repos.goals.get(goalId);
    if (!goal || goal.operatorId !== operatorId) return null;
    const actions = await this.repos.actions.listForGoal(goalId);
    const approvals = await this.repos.approvals.listForGoal(goalId);
    const events = await this.repos.events.list({ goalId, limit: 500 });
    const calls = await this.#db.query(`SELECT * FROM llm_usage WHERE goal_id = $1 ORDER BY at, id`, [
      goalId,
    ]);
    return {
      goal,
      steps: actions.map((action) => ({
        action,
        approval: approvals.find((approval) => approval.actionId === action.id) ?? null,
      })),
      events: events.map((event) => entry(event, timezone)),
      modelCalls: calls.rows.map(
        (row): ModelCall => ({
          at: new Date(row.at),
          role: row.role as ModelCall['role'],
          purpose: String(row.purpose),
          model: String(row.model),
          inputTokens: Number(row.input_tokens),
          outputTokens: Number(row.output_tokens),
          costUsd: Number(row.cost_usd),
          cached: Boolean(row.cached),
        }),
      ),
    };
  }
}

function entry(event: SpineEvent, timezone: string): TimelineEntry {
  return { id: event.id, sentence: renderEvent(event, { timezone, withDate: true }), goalId: event.goalId };
}
