/** A span of time a question refers to ("last week", "in May", "yesterday", "in 2023"). */
export interface TimeWindow {
  since: Date;
  until: Date;
  /** The words that named it. */
  phrase: string;
}

/** English month names, lower case, January first. */
export const MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];

const DAY = 86_400_000;

function startOfUtcDay(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}

/**
 * The time window a query mentions, relative to `now` (UTC calendar), or null. Month names without
 * a year mean the most recent such month that has begun; "may" only counts as a month after
 * "in"/"during"/"since"/"last" or before a year, so "may I ask" is not May.
 */
export function parseTimeWindow(query: string, now: Date): TimeWindow | null {
  const text = query.toLowerCase();
  const today = startOfUtcDay(now);
  const relative: Array<[RegExp, () => [Date, Date]]> = [
    [/\btoday\b/, () => [today, new Date(today.getTime() + DAY)]],
    [/\byesterday\b/, () => [new Date(today.getTime() - DAY), today]],
    [
      /\b(last|past|previous) week\b/,
      () => {
        const weekday = (today.getUTCDay() + 6) % 7; // Monday = 0
        const thisMonday = new Date(today.getTime() - weekday * DAY);
        return [new Date(thisMonday.getTime() - 7 * DAY), thisMonday];
      },
    ],
    [
      /\bthis week\b/,
      () => {
        const weekday = (today.getUTCDay() + 6) % 7;
        return [new Date(today.getTime() - weekday * DAY), new Date(today.getTime() + DAY)];
      },
    ],
    [/\b(last|past) (\d{1,2}) days\b/, () => [new Date(today.getTime() - 30 * DAY), now]],
    [
      /\b(last|previous) month\b/,
      () => [
        new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, 1)),
        new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1)),
      ],
    ],
    [
      /\bthis month\b/,
      () => [new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1)), new Date(now.getTime() + 1)],
    ],
    [
      /\blast year\b/,
      () => [
        new Date(Date.UTC(today.getUTCFullYear() - 1, 0, 1)),
        new Date(Date.UTC(today.getUTCFullYear(), 0, 1)),
      ],
    ],
    [/\bthis year\b/, () => [new Date(Date.UTC(today.getUTCFullYear(), 0, 1)), new Date(now.getTime() + 1)]],
  ];
  for (const [pattern, window] of relative) {
    const match = pattern.exec(text);
    if (match) {
      if (match[2] && /days/.test(match[0])) {
        return { since: new Date(today.getTime() - Number(match[2]) * DAY), until: now, phrase: match[0] };
      }
      const [since, until] = window();
      return { since, until, phrase: match[0] };
    }
  }
  const month = new RegExp(
    `\\b(?:(in|during|since|last|early|late|mid)\\s+)?(${MONTHS.join('|')})(?:\\s*,?\\s*(\\d{4}))?\\b`,
  ).exec(text);
  if (month?.[2] && (month[2] !== 'may' || month[1] || month[3])) {
    const index = MONTHS.indexOf(month[2]);
    let year = month[3] ? Number(month[3]) : today.getUTCFullYear();
    if (!month[3] && index > today.getUTCMonth()) year -= 1;
    return {
      since: new Date(Date.UTC(year, index, 1)),
      until: new Date(Date.UTC(year, index + 1, 1)),
      phrase: month[0].trim(),
    };
  }
  const year = /\b(?:in|during)\s+((?:19|20)\d{2})\b/.exec(text);
  if (year?.[1]) {
    const value = Number(year[1]);
    return {
      since: new Date(Date.UTC(value, 0, 1)),
      until: new Date(Date.UTC(value + 1, 0, 1)),
      phrase: year[0],
    };
  }
  return null;
}
