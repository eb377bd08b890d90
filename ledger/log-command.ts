import type { Clock } from '../core/clock.ts';
import type { SpineEvent } from '../core/domain.ts';
import { renderNarrative } from '../core/narrative.ts';
import type { Queryable } from '../db/database.ts';
import { type EventLogPage, readEventLog } from './event-log.ts';
import { describeVerdict, verifyLedger } from './hash-chain.ts';
import { describeAudit, type LedgerAudit } from './ledger-audit.ts';
import { type LogFilter, LogFilterError, parseLogArguments } from './log-filter.ts';

export interface LogCommandDeps {
  db: Queryable;
  clock: Clock;
  /** The keyed check (MACs and anchor, app/ledger-setup.ts); without it `log verify` checks the unkeyed chain only. */
  audit?: () => Promise<LedgerAudit>;
}

/** The story as text with a line saying which page it is and how to see older events. */
export function renderLogPage(
  result: EventLogPage,
  options: { timezone: string; nextPageHint: (page: number) => string },
): string {
  if (result.events.length === 0)
    return result.total === 0
      ? 'No events match.'
      : `There is no page ${result.page}: ${result.total} events match.`;
  const story = renderNarrative(result.events, { timezone: options.timezone });
  const first = (result.page - 1) * result.limit + 1;
  const last = first + result.events.length - 1;
  const range =
    result.total > result.events.length
      ? `Events ${first}–${last} of ${result.total}, newest first by page`
      : '';
  const older = result.nextPage === null ? '' : `older: ${options.nextPageHint(result.nextPage)}`;
  const footer = [range, older].filter(Boolean).join('; ');
  return footer ? `${story}\n— ${footer}` : story;
}

/** Whether the filter narrows anything (for the empty-log wording). */
export function isFiltered(filter: LogFilter): boolean {
  return Object.values(filter).some((value) => value !== undefined);
}

/**
 * The chat `log` command: `log`, `log 50`, `log goal 41`, `log connector email`, `log actor spine`,
 * `log since yesterday until today`, `log "dana"`, `log page 2`, `log verify`.
 */
export async function answerLogCommand(
  deps: LogCommandDeps,
  operator: { id: number; timezone: string },
  argumentsText: string,
): Promise<string> {
  let request: ReturnType<typeof parseLogArguments>;
  try {
    request = parseLogArguments(argumentsText, { now: deps.clock.now(), timezone: operator.timezone });
  } catch (error) {
    if (error instanceof LogFilterError) return `${error.message} Say \`help\` for the log filters.`;
    throw error;
  }
  if (request.verify)
    return deps.audit
      ? describeAudit(await deps.audit())
      : `${describeVerdict(await verifyLedger(deps.db))}\n(\`spine log --verify\` also checks the ledger key and the anchors.)`;
  const result = await readEventLog(deps.db, operator.id, request.filter, request.page);
  if (result.total === 0 && !isFiltered(request.filter)) return 'Nothing has happened yet.';
  const withoutPage = argumentsText.replace(/\bpage\s+\d+\b/i, '').trim();
  return renderLogPage(result, {
    timezone: operator.timezone,
    nextPageHint: (page) => `\`log ${withoutPage ? `${withoutPage} ` : ''}page ${page}\``,
  });
}

/** Events as JSON-safe objects for `spine log --json`. */
export function eventsAsJson(events: SpineEvent[]): Array<Record<string, unknown>> {
  return events.map((event) => ({ ...event, at: event.at.toISOString() }));
}
