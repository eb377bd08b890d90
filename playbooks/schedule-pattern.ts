import { SpineError } from '../core/errors.ts';
import { wallClock } from '../core/local-time.ts';
import { type ScheduleTrigger, WEEKDAYS } from './playbook-format.ts';

/**
 * Schedule triggers as five-field cron patterns in a time zone: the same pattern drives BullMQ's job
 * scheduler in queue mode and the in-process check (and shadow mode's fire times) here.
 */

/** The cron pattern of a schedule trigger (`every: friday, at: "16:00"` → `0 16 * * 5`). */
export function cronOf(schedule: ScheduleTrigger): string {
  if (schedule.cron) {
    parseCron(schedule.cron);
    return schedule.cron.trim().replace(/\s+/g, ' ');
  }
  const [hour, minute] = (schedule.at ?? '09:00').split(':').map(Number) as [number, number];
  switch (schedule.every) {
    case 'hour':
      return `${schedule.at ? minute : 0} * * * *`;
    case 'day':
      return `${minute} ${hour} * * *`;
    case 'weekday':
      return `${minute} ${hour} * * 1-5`;
    case 'week':
      return `${minute} ${hour} * * 1`;
    default: {
      const day = WEEKDAYS.indexOf(schedule.every as (typeof WEEKDAYS)[number]);
      return `${minute} ${hour} * * ${day}`;
    }
  }
}

interface CronFields {
  minute: Set<number>;
  hour: Set<number>;
  dayOfMonth: Set<number>;
  month: Set<number>;
  dayOfWeek: Set<number>;
  /** Cron's rule: when both day fields are restricted, either may match. */
  bothDays: boolean;
}

const RANGES: Array<[number, number]> = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];

function parseField(field: string, [low, high]: [number, number], name: string): Set<number> {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!match) throw invalidCron(`the ${name} field “${field}” is not valid`);
    const start = match[1] === '*' ? low : Number(match[2]);
    const end = match[1] === '*' ? high : match[3] ? Number(match[3]) : match[4] ? high : start;
    const step = match[4] ? Number(match[4]) : 1;
    if (start < low || end > high || start > end || step < 1)
      throw invalidCron(`the ${name} field “${field}” is out of range ${low}-${high}`);
    for (let value = start; value <= end; value += step) values.add(value);
  }
  return values;
}

/** Parse a five-field cron pattern; throws `playbook.invalid_cron` in words. */
export function parseCron(pattern: string): CronFields {
  const fields = pattern.trim().split(/\s+/);
  if (fields.length !== 5)
    throw invalidCron('expected five fields: minute hour day-of-month month day-of-week');
  const names = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
  const [minute, hour, dayOfMonth, month, dayOfWeek] = fields.map((field, index) =>
    parseField(field, RANGES[index] as [number, number], names[index] ?? ''),
  ) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (dayOfWeek.has(7)) dayOfWeek.add(0);
  return {
    minute,
    hour,
    dayOfMonth,
    month,
    dayOfWeek,
    bothDays: fields[2] !== '*' && fields[4] !== '*',
  };
}

function invalidCron(message: string): SpineError {
  return new SpineError('playbook.invalid_cron', `That schedule is not valid: ${message}.`, {
    category: 'user',
  });
}

function matches(fields: CronFields, instant: Date, timezone: string): boolean {
  const wall = wallClock(instant, timezone);
  if (!fields.minute.has(wall.minute) || !fields.hour.has(wall.hour) || !fields.month.has(wall.month))
    return false;
  const weekday = new Date(Date.UTC(wall.year, wall.month - 1, wall.day)).getUTCDay();
  const domOk = fields.dayOfMonth.has(wall.day);
  const dowOk = fields.dayOfWeek.has(weekday);
  return fields.bothDays ? domOk || dowOk : domOk && dowOk;
}

const MINUTE = 60_000;

/** Every instant in (from, to] at which the pattern fires in `timezone`, oldest first. */
export function fireTimesBetween(pattern: string, timezone: string, from: Date, to: Date): Date[] {
  const fields = parseCron(pattern);
  const times: Date[] = [];
  let at = Math.floor(from.getTime() / MINUTE) * MINUTE + MINUTE;
  for (; at <= to.getTime(); at += MINUTE) {
    const instant = new Date(at);
    if (matches(fields, instant, timezone)) times.push(instant);
  }
  return times;
}

/** The latest firing in (now - lookback, now], or null: the one a missed check still owes. */
export function latestFireTime(
  pattern: string,
  timezone: string,
  now: Date,
  lookbackMs: number,
): Date | null {
  return fireTimesBetween(pattern, timezone, new Date(now.getTime() - lookbackMs), now).at(-1) ?? null;
}
