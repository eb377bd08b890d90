import { addDays, localDateOf, zonedInstant } from '../core/local-time.ts';

/** What `log` / `spine log` narrow the story to. Every field is optional; all given ones must match. */
export interface LogFilter {
  goalId?: number;
  /** Events about an action of this connector (e.g. `email`). */
  connector?: string;
  /** `operator` (also "you", "me"), `spine`, or part of another actor's name. */
  actor?: string;
  /** Inclusive lower bound. */
  since?: Date;
  /** Exclusive upper bound. */
  until?: Date;
  /** Free text matched (case-insensitive) against verb, object, reason and reference. */
  text?: string;
}

export interface LogPage {
  /** 1 is the newest page. */
  page: number;
  limit: number;
}

/** A bad filter value, with the message to show. */
export class LogFilterError extends Error {}

/**
 * A point in time from what a person types, in the operator's time zone: `today`, `yesterday`,
 * `7d` / `24h` / `2w` (that long ago), `2026-11-20` (start of that day), or an ISO date-time.
 * `end` makes a bare day mean the end of it (for `until yesterday`).
 */
export function parseWhen(input: string, options: { now: Date; timezone: string; end?: boolean }): Date {
  const text = input.trim().toLowerCase();
  const today = localDateOf(options.now, options.timezone);
  const day = (localDate: string) =>
    zonedInstant(options.end ? addDays(localDate, 1) : localDate, { hour: 0, minute: 0 }, options.timezone);
  if (text === 'today') return day(today);
  if (text === 'yesterday') return day(addDays(today, -1));
  const ago = /^(\d{1,5})\s*(m|min|h|d|w)$/.exec(text);
  if (ago) {
    const unit = { m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 }[
      ago[2] as 'm' | 'min' | 'h' | 'd' | 'w'
    ];
    return new Date(options.now.getTime() - Number(ago[1]) * unit);
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(text))) return day(text);
  // A local date-time without a zone is the operator's wall clock; with `Z` or an offset, an instant.
  const local = /^(\d{4}-\d{2}-\d{2})[t ](\d{2}):(\d{2})$/.exec(text);
  if (local && !Number.isNaN(Date.parse(local[1] ?? '')))
    return zonedInstant(
      local[1] ?? '',
      { hour: Number(local[2]), minute: Number(local[3]) },
      options.timezone,
    );
  if (/^\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}.*(z|[+-]\d{2}:?\d{2})$/.test(text)) {
    const parsed = new Date(text.replace(' ', 'T').toUpperCase());
    if (!Number.isNaN(parsed.getTime())) return parsed;
  }
  throw new LogFilterError(
    `I don't understand the time "${input}". Use today, yesterday, 7d, 24h, 2w, a date like 2026-11-20 or an ISO date-time.`,
  );
}

export interface ParsedLogRequest {
  filter: LogFilter;
  page: LogPage;
  /** `log verify`: check the hash chain instead of listing. */
  verify: boolean;
}

export const DEFAULT_LOG_LIMIT = 30;
const MAX_LOG_LIMIT = 500;

/**
 * The arguments of the chat command after `log`: `goal 41`, `goal #41`, `connector email`,
 * `actor spine`, `since yesterday`, `until 2026-11-20`, `"dana"` (free text), `page 2`, `limit 50`,
 * a bare number (the page size, as before), `verify`. Anything else unquoted is free text too.
 */
export function parseLogArguments(input: string, options: { now: Date; timezone: string }): ParsedLogRequest {
  const filter: LogFilter = {};
  const page: LogPage = { page: 1, limit: DEFAULT_LOG_LIMIT };
  let verify = false;
  const words: string[] = [];
  const tokens = input.match(/"[^"]*"|“[^”]*”|'[^']*'|\S+/g) ?? [];
  for (let index = 0; index < tokens.length; index += 1) {
    const token = tokens[index] ?? '';
    const keyword = token.toLowerCase().replace(/^--/, '');
    const value = tokens[index + 1];
    const takesValue = [
      'goal',
      'connector',
      'actor',
      'since',
      'until',
      'page',
      'limit',
      'text',
      'from',
      'by',
    ];
    if (takesValue.includes(keyword) && value !== undefined) {
      index += 1;
      applyOption(keyword, unquote(value), filter, page, options);
    } else if (keyword === 'verify') {
      verify = true;
    } else if (/^\d{1,4}$/.test(token)) {
      page.limit = Math.min(positive(token, 'limit'), MAX_LOG_LIMIT);
    } else {
      words.push(unquote(token));
    }
  }
  if (words.length > 0) filter.text = words.join(' ');
  return { filter, page, verify };
}

/** Apply one `--option value` (CLI) or `option value` (chat). */
export function applyOption(
  name: string,
  value: string,
  filter: LogFilter,
  page: LogPage,
  options: { now: Date; timezone: string },
): void {
  switch (name) {
    case 'goal':
      filter.goalId = positive(value.replace(/^#/, ''), 'goal');
      return;
    case 'connector':
      filter.connector = value.toLowerCase();
      return;
    case 'actor':
    case 'by':
      filter.actor = value;
      return;
    case 'since':
    case 'from':
      filter.since = parseWhen(value, options);
      return;
    case 'until':
      filter.until = parseWhen(value, { ...options, end: true });
      return;
    case 'text':
      filter.text = value;
      return;
    case 'page':
      page.page = positive(value, 'page');
      return;
    case 'limit':
      page.limit = Math.min(positive(value, 'limit'), MAX_LOG_LIMIT);
      return;
    default:
      throw new LogFilterError(`Unknown log option "${name}".`);
  }
}

function unquote(value: string): string {
  return value.replace(/^["“']|["”']$/g, '');
}

function positive(value: string, what: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0)
    throw new LogFilterError(`${what} needs a positive whole number, not "${value}".`);
  return number;
}
