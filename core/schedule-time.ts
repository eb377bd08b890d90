import { addDays, localDateOf, zonedInstant } from './local-time.ts';

/** A "when" said in chat, resolved to an instant in the operator's time zone. */
export interface DelayedRequest {
  notBefore: Date;
  /** The request without the time phrase. */
  rest: string;
  /** The phrase as said ("at 9:00 tomorrow"), for the reply. */
  phrase: string;
}

/** The instant of a wall-clock time on the local date of `now` plus `dayOffset` days. */
export function localTimeOn(
  now: Date,
  timezone: string,
  dayOffset: number,
  hour: number,
  minute: number,
): Date {
  return zonedInstant(addDays(localDateOf(now, timezone), dayOffset), { hour, minute }, timezone);
}

const TIME = String.raw`(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm)?`;
const LEADING = [
  // "at 9:00 tomorrow, email …" / "at 9am email …"
  new RegExp(String.raw`^at\s+${TIME}(?:\s+(today|tomorrow))?\s*[,:]?\s+(.+)$`, 'is'),
  // "tomorrow at 9:00 email …"
  new RegExp(String.raw`^(today|tomorrow)\s+at\s+${TIME}\s*[,:]?\s+(.+)$`, 'is'),
];
const RELATIVE = /^in\s+(\d{1,4})\s*(minutes?|mins?|hours?|h)\s*[,:]?\s+(.+)$/is;

/**
 * Understand a leading time phrase: "at 9:00 tomorrow, …", "tomorrow at 9am …", "in 2 hours …".
 * A time already past today with no day given means tomorrow. Null when there is none.
 */
export function parseDelayedRequest(text: string, now: Date, timezone: string): DelayedRequest | null {
  const trimmed = text.trim();
  const relative = RELATIVE.exec(trimmed);
  if (relative) {
    const amount = Number(relative[1]);
    const unit = (relative[2] ?? '').toLowerCase().startsWith('h') ? 3_600_000 : 60_000;
    return {
      notBefore: new Date(now.getTime() + amount * unit),
      rest: (relative[3] ?? '').trim(),
      phrase: `in ${relative[1]} ${relative[2]}`,
    };
  }
  for (const [index, pattern] of LEADING.entries()) {
    const match = pattern.exec(trimmed);
    if (!match) continue;
    const [hourText, minuteText, meridiem, day, rest] =
      index === 0
        ? [match[1], match[2], match[3], match[4], match[5]]
        : [match[2], match[3], match[4], match[1], match[5]];
    let hour = Number(hourText);
    const minute = minuteText ? Number(minuteText) : 0;
    if (meridiem?.toLowerCase() === 'pm' && hour < 12) hour += 12;
    if (meridiem?.toLowerCase() === 'am' && hour === 12) hour = 0;
    if (hour > 23 || minute > 59) return null;
    const dayWord = day?.toLowerCase();
    let at = localTimeOn(now, timezone, dayWord === 'tomorrow' ? 1 : 0, hour, minute);
    if (!dayWord && at <= now) at = localTimeOn(now, timezone, 1, hour, minute);
    const phrase = `at ${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}${dayWord ? ` ${dayWord}` : ''}`;
    return { notBefore: at, rest: (rest ?? '').trim(), phrase };
  }
  return null;
}
