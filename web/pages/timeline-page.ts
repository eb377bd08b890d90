import { html } from '../html.ts';
import { consolePage } from './layout.ts';

/** The timeline's filters, as they come from the query string. */
export interface TimelineFilters {
  goalId?: number;
  actor?: string;
  text?: string;
  /** A local date, YYYY-MM-DD, in the operator's time zone. */
  since?: string;
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
}

function filterQuery(filters: TimelineFilters, before: number): string {
  const query = new URLSearchParams();
  if (filters.goalId !== undefined) query.set('goal', String(filters.goalId));
  if (filters.actor) query.set('actor', filters.actor);
  if (filters.text) query.set('text', filters.text);
  if (filters.since) query.set('since', filters.since);
  query.set('before', String(before));
  return `/console?${query.toString()}`;
}

/** The narrative log, newest first, with its filters and an "older" link. */
export function timelinePage(view: TimelineView, common: { csrf: string; notice?: string | null }): string {
  const { filters } = view;
  const form = html`<form class="card row" method="get" action="/console">
  <div><label for="f-goal">Goal #</label><input id="f-goal" name="goal" inputmode="numeric" size="5" value="${filters.goalId ?? ''}"></div>
  <div><label for="f-actor">Actor</label><select id="f-actor" name="actor"><option value="">anyone</option>${view.actors.map(
    (actor) =>
      html`<option value="${actor}"${actor === filters.actor ? html` selected` : ''}>${actor === 'operator' ? 'you' : actor}</option>`,
  )}</select></div>
  <div><label for="f-text">Text</label><input id="f-text" name="text" value="${filters.text ?? ''}"></div>
  <div><label for="f-since">Since</label><input id="f-since" name="since" type="date" value="${filters.since ?? ''}"></div>
  <div><button type="submit">Filter</button> <a href="/console">clear</a></div>
</form>`;
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
  const older =
    view.olderBefore !== null
      ? html`<p><a href="${filterQuery(filters, view.olderBefore)}">Older events →</a></p>`
      : '';
  return consolePage({
    title: 'Timeline',
    section: 'timeline',
    csrf: common.csrf,
    notice: common.notice ?? null,
    body: html`${form}${list}${older}`,
  });
}
