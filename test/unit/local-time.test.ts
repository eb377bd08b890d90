import { describe, expect, it } from 'vitest';
import { localDateOf, parseLocalTime, zonedInstant } from '../../core/local-time.ts';
import { dueDigest } from '../../jobs/digest-schedule.ts';

describe('local time in a time zone', () => {
  it('maps a local time to the right instant on both sides of DST changes', () => {
    const eight = { hour: 8, minute: 0 };
    expect(zonedInstant('2026-03-07', eight, 'America/New_York').toISOString()).toBe(
      '2026-03-07T13:00:00.000Z',
    );
    expect(zonedInstant('2026-03-08', eight, 'America/New_York').toISOString()).toBe(
      '2026-03-08T12:00:00.000Z',
    );
    expect(zonedInstant('2026-10-24', eight, 'Europe/Berlin').toISOString()).toBe('2026-10-24T06:00:00.000Z');
    expect(zonedInstant('2026-10-25', eight, 'Europe/Berlin').toISOString()).toBe('2026-10-25T07:00:00.000Z');
  });

  it('moves a time skipped by spring-forward past the gap, and takes the first of a repeated time', () => {
    // 02:30 does not exist in New York on 8 March 2026: it becomes 03:30 EDT.
    expect(zonedInstant('2026-03-08', { hour: 2, minute: 30 }, 'America/New_York').toISOString()).toBe(
      '2026-03-08T07:30:00.000Z',
    );
    // 02:30 happens twice in Berlin on 25 October 2026: the first (CEST) one.
    expect(zonedInstant('2026-10-25', { hour: 2, minute: 30 }, 'Europe/Berlin').toISOString()).toBe(
      '2026-10-25T00:30:00.000Z',
    );
  });

  it('gives the local date of an instant', () => {
    expect(localDateOf(new Date('2026-03-08T04:59:00Z'), 'America/New_York')).toBe('2026-03-07');
    expect(localDateOf(new Date('2026-03-08T05:00:00Z'), 'America/New_York')).toBe('2026-03-08');
  });

  it('parses the times people type', () => {
    expect(parseLocalTime('7:30')).toEqual({ hour: 7, minute: 30 });
    expect(parseLocalTime('07:05')).toEqual({ hour: 7, minute: 5 });
    expect(parseLocalTime('7pm')).toEqual({ hour: 19, minute: 0 });
    expect(parseLocalTime('12 am')).toEqual({ hour: 0, minute: 0 });
    expect(parseLocalTime('25:00')).toBeNull();
    expect(parseLocalTime('soon')).toBeNull();
  });
});

describe('which digest is due', () => {
  const operator = {
    id: 1,
    name: 'Ada',
    timezone: 'Europe/Berlin',
    digestTime: '08:00',
    createdAt: new Date('2026-01-01T00:00:00Z'),
  };

  it('is yesterday’s before today’s time, and today’s after it', () => {
    expect(dueDigest(operator, new Date('2026-06-10T05:59:00Z'))?.localDate).toBe('2026-06-09');
    const due = dueDigest(operator, new Date('2026-06-10T06:00:30Z'));
    expect(due).toEqual({ localDate: '2026-06-10', dueAt: new Date('2026-06-10T06:00:00Z'), late: false });
  });

  it('is late when Spine comes up long after the time, and only the latest one is due', () => {
    const due = dueDigest(operator, new Date('2026-06-14T09:00:00Z'));
    expect(due?.localDate).toBe('2026-06-14');
    expect(due?.late).toBe(true);
  });

  it('is none for a day before the operator existed', () => {
    expect(
      dueDigest(
        { ...operator, createdAt: new Date('2026-06-10T07:00:00Z') },
        new Date('2026-06-10T07:30:00Z'),
      ),
    ).toBeNull();
  });
});
