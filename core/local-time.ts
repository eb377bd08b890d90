/**
 * Wall-clock arithmetic in an IANA time zone, without a date library: the digest is due at a
 * local time on a local date, and DST shifts must neither skip nor repeat a day.
 */

/** A local time of day, `HH:MM` (24 h). */
export interface LocalTime {
  hour: number;
  minute: number;
}

/** Parse `7:30`, `07:30`, `7`, `7am`, `7:30 pm`; null when it is not a time of day. */
export function parseLocalTime(input: string): LocalTime | null {
  const match = /^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$/i.exec(input.trim());
  if (!match) return null;
  let hour = Number(match[1]);
  const minute = match[2] ? Number(match[2]) : 0;
  const meridiem = match[3]?.toLowerCase();
  if (meridiem) {
    if (hour < 1 || hour > 12) return null;
    hour = (hour % 12) + (meridiem === 'pm' ? 12 : 0);
  }
  if (hour > 23 || minute > 59) return null;
  return { hour, minute };
}

/** `HH:MM` with leading zeros. */
export function formatLocalTime(time: LocalTime): string {
  return `${String(time.hour).padStart(2, '0')}:${String(time.minute).padStart(2, '0')}`;
}

const partsCache = new Map<string, Intl.DateTimeFormat>();
function formatter(timezone: string): Intl.DateTimeFormat {
  let format = partsCache.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    partsCache.set(timezone, format);
  }
  return format;
}

/** The wall clock in `timezone` at `instant`. */
export function wallClock(
  instant: Date,
  timezone: string,
): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const parts: Record<string, number> = {};
  for (const part of formatter(timezone).formatToParts(instant)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year ?? 1970,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: (parts.hour ?? 0) % 24,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

/** The local date (`YYYY-MM-DD`) in `timezone` at `instant`. */
export function localDateOf(instant: Date, timezone: string): string {
  const clock = wallClock(instant, timezone);
  return `${clock.year}-${String(clock.month).padStart(2, '0')}-${String(clock.day).padStart(2, '0')}`;
}

/** The local date `days` after `localDate` (calendar arithmetic, no time zone involved). */
export function addDays(localDate: string, days: number): string {
  const [year, month, day] = localDate.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(year, month - 1, day + days)).toISOString().slice(0, 10);
}

/** Milliseconds `timezone` is ahead of UTC at `instant`. */
function offsetAt(instant: number, timezone: string): number {
  const clock = wallClock(new Date(instant), timezone);
  const asUtc = Date.UTC(clock.year, clock.month - 1, clock.day, clock.hour, clock.minute, clock.second);
  return asUtc - Math.floor(instant / 1000) * 1000;
}

/**
 * The instant the wall clock in `timezone` shows `time` on `localDate`. A time skipped by a
 * spring-forward change maps to the same number of minutes after the gap (02:30 → 03:30); a time
 * that happens twice in the autumn maps to its first occurrence.
 */
export function zonedInstant(localDate: string, time: LocalTime, timezone: string): Date {
  const [year, month, day] = localDate.split('-').map(Number) as [number, number, number];
  const wall = Date.UTC(year, month - 1, day, time.hour, time.minute);
  // Two candidates: the offset before and after any change near this wall time.
  const early = wall - offsetAt(wall - 86_400_000 / 2, timezone);
  const late = wall - offsetAt(wall + 86_400_000 / 2, timezone);
  const candidates = [early, late].sort((a, b) => a - b);
  for (const candidate of candidates) {
    if (wall - offsetAt(candidate, timezone) === candidate) return new Date(candidate);
  }
  // In a gap: no instant shows this wall time; use the offset from before the change.
  return new Date(wall - offsetAt(wall - 86_400_000 / 2, timezone));
}
