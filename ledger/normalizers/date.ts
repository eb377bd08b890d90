import { defineNormalizer } from './normalizer.ts';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

function monthOf(word: string): number | null {
  const index = MONTHS.indexOf(word.slice(0, 3).toLowerCase());
  return index < 0 ? null : index + 1;
}

function iso(year: number, month: number, day: number): string | null {
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day)
    return null;
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

function fullYear(year: string): number {
  const value = Number(year);
  return year.length === 2 ? 2000 + value : value;
}

/**
 * Calendar dates as ISO 8601 (`2026-11-25`): `2026-11-25`, `25.11.2026`, `25/11/2026` (day first,
 * unless the first number cannot be a day… of a month: `11/25/2026`), `25 November 2026`,
 * `Nov 25, 2026`.
 */
export const dateNormalizer = defineNormalizer({
  name: 'date',
  version: 1,
  attributes:
    /(?:^|\s)(?:date|birthday|deadline|due date|anniversary|renewal date|expiry|expiry date|start date|end date)$/i,
  normalize(raw) {
    const text = raw
      .trim()
      .replace(/\s+/g, ' ')
      .replace(/(\d)(?:st|nd|rd|th)\b/gi, '$1');
    let match = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(text);
    if (match) return iso(Number(match[1]), Number(match[2]), Number(match[3]));
    match = /^(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})$/.exec(text);
    if (match) {
      const first = Number(match[1]);
      const second = Number(match[2]);
      const year = fullYear(match[3] ?? '');
      return second > 12 ? iso(year, first, second) : iso(year, second, first);
    }
    match = /^(\d{1,2}) ([A-Za-z]+)\.?,? (\d{4})$/.exec(text);
    if (match) {
      const month = monthOf(match[2] ?? '');
      return month ? iso(Number(match[3]), month, Number(match[1])) : null;
    }
    match = /^([A-Za-z]+)\.? (\d{1,2}),? (\d{4})$/.exec(text);
    if (match) {
      const month = monthOf(match[1] ?? '');
      return month ? iso(Number(match[3]), month, Number(match[2])) : null;
    }
    return null;
  },
});
