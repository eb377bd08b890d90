import { html } from '../html.ts';
import { consolePage } from './layout.ts';

/**
 * The timeline's filters as they come from the query string. `since` / `until` are the phrases
 * chat's `log` takes (today, yesterday, 7d, 2026-11-20, …), read by the ledger's `parseWhen`.
 */
export interface TimelineFilters {
  goalId?: number;
  connector?: string;
  actor?: string;
  text?: string;
  since?: string;
  until?: string;
  /** Paging: only events older than this id. */
  before?: number;
}

/** One line of the story, already rendered as a sentence. */
export interface TimelineEntry {
  id: number;
  sentence: string;
  goalId: number | null;
}

export interface TimelineView {
  entries: TimelineEntry[];
  filters: TimelineFilters;
  /** Actors to offer in the filter. */
  actors: string[];
  /** Set when there are older events: the `before` of the next page. */
  olderBefore: number | null;
  /** Events matching the filters in all pages. */
  total?: number;
  /** A filter that could not be read, in words. */
  problem?: string | null;
  /** The hash-chain check's verdict, when asked for ("Verify ledger"). */
  verdict?: { intact: boolean; line: string } | null;
}

function filterQuery(filters: TimelineFilters, extra: Record<string, string>): string {
  const query = new URLSearchParams();
  if (filters.goalId !== undefined) query.set('goal', String(filters.goalId));
  if (filters.connector) query.set('connector', filters.connector);
  if (filters.actor) query.set('actor', filters.actor);
  if (filters.text) query.set('text', filters.text);
  if (filters.since) query.set('since', filters.since);
  if (filters.until) query.set('until', filters.until);
  for (const [key, value] of Object.entries(extra)) query.set(key, value);
  return `/console?${query.toString()}`;
}

const WHEN_HINT = 'today, yesterday, 7d, 2026-11-20';

/** The narrative log, newest first, with its filters, an "older" link and the ledger check. */
export function timelinePage(view: TimelineView, common: { csrf: string; notice?: string | null }): string {
  const { filters } = view;
  const form = html`<form class="card row" method="get" action="/console">
  <div><label for="f-goal">Goal #</label><input id="f-goal" name="goal" inputmode="numeric" size="5" value="${filters.goalId ?? ''}"></div>
  <div><label for="f-connector">Connector</label><input id="f-connector" name="connector" size="10" value="${filters.connector ?? ''}"></div>
  <div><label for="f-actor">Actor</label><select id="f-actor" name="actor"><option value="">anyone</option>${view.actors.map(
    (actor) =>
      html`<option value="${actor}"${actor === filters.actor ? html` selected` : ''}>${actor === 'operator' ? 'you' : actor}</option>`,
  )}</select></div>
  <div><label for="f-text">Text</label><input id="f-text" name="text" value="${filters.text ?? ''}"></div>
  <div><label for="f-since">Since</label><input id="f-since" name="since" size="12" placeholder="${WHEN_HINT}" value="${filters.since ?? ''}"></div>
  <div><label for="f-until">Until</label><input id="f-until" name="until" size="12" placeholder="${WHEN_HINT}" value="${filters.until ?? ''}"></div>
  <div><button type="submit">Filter</button> <a href="/console">clear</a></div>
</form>`;
  const problem = view.problem ? html`<p class="card problem" role="alert">${view.problem}</p>` : '';
  const verdict = view.verdict
    ? html`<p class="card${view.verdict.intact ? '' : ' problem'}" id="ledger-verdict">${view.verdict.line}</p>`
    : html`<p class="muted"><a href="${filterQuery(filters, { verify: '1' })}">Verify ledger</a> (checks every event's hash chain)</p>`;
  const list =
    view.entries.length === 0
      ? html`<p class="card">No events match.</p>`
      : html`<ol class="timeline card">${view.entries.map(
          (entry) =>
            html`<li id="event-${entry.id}">${entry.sentence}${
              entry.goalId !== null
                ? html` <a href="/console/goals/${entry.goalId}">goal #${entry.goalId}</a>`
                : ''
            }</li>`,
        )}</ol>`;
  const total =
    view.total !== undefined
      ? html`<p class="muted">${view.total} event${view.total === 1 ? '' : 's'} match.</p>`
      : '';
  const older =
    view.olderBefore !== null
      ? html`<p><a href="${filterQuery(filters, { before: String(view.olderBefore) })}">Older events →</a></p>`
      : '';
  return consolePage({
    title: 'Timeline',
    section: 'timeline',
    csrf: common.csrf,
    notice: common.notice ?? null,
    body: html`${form}${problem}${verdict}${list}${total}${older}`,
  });
}
