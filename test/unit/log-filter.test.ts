import { describe, expect, it } from 'vitest';
import { LogFilterError, parseLogArguments, parseWhen } from '../../ledger/log-filter.ts';

// 10:00 in Berlin (summer time, UTC+2) on 1 July 2026.
const now = new Date('2026-07-01T08:00:00Z');
const context = { now, timezone: 'Europe/Berlin' };

describe('parseWhen', () => {
  it.each([
    ['today', '2026-06-30T22:00:00.000Z'],
    ['yesterday', '2026-06-29T22:00:00.000Z'],
    ['7d', '2026-06-24T08:00:00.000Z'],
    ['24h', '2026-06-30T08:00:00.000Z'],
    ['2w', '2026-06-17T08:00:00.000Z'],
    ['30m', '2026-07-01T07:30:00.000Z'],
    ['2026-06-20', '2026-06-19T22:00:00.000Z'],
    ['2026-06-20T12:00:00Z', '2026-06-20T12:00:00.000Z'],
    ['2026-06-20 12:00', '2026-06-20T10:00:00.000Z'],
    ['2026-06-20T12:00+05:30', '2026-06-20T06:30:00.000Z'],
  ])('%s starts at %s (operator time zone)', (input, expected) => {
    expect(parseWhen(input, context).toISOString()).toBe(expected);
  });

  it('reads a bare day as its end when it is an upper bound', () => {
    expect(parseWhen('yesterday', { ...context, end: true }).toISOString()).toBe('2026-06-30T22:00:00.000Z');
    expect(parseWhen('2026-06-20', { ...context, end: true }).toISOString()).toBe('2026-06-20T22:00:00.000Z');
  });

  it.each(['last tuesday', '2026-13-45', 'soon'])('refuses %j, saying what it accepts', (input) => {
    expect(() => parseWhen(input, context)).toThrow(/today, yesterday, 7d/);
  });
});

describe('parseLogArguments', () => {
  it('reads every filter, quoted free text and the page', () => {
    const parsed = parseLogArguments(
      'goal #41 connector Email actor spine since yesterday until today "dana" page 2',
      context,
    );
    expect(parsed).toEqual({
      filter: {
        goalId: 41,
        connector: 'email',
        actor: 'spine',
        since: new Date('2026-06-29T22:00:00.000Z'),
        until: new Date('2026-07-01T22:00:00.000Z'),
        text: 'dana',
      },
      page: { page: 2, limit: 30 },
      verify: false,
    });
  });

  it('keeps the old form: a bare number is the page size', () => {
    expect(parseLogArguments('12', context)).toEqual({
      filter: {},
      page: { page: 1, limit: 12 },
      verify: false,
    });
    expect(parseLogArguments('', context)).toEqual({
      filter: {},
      page: { page: 1, limit: 30 },
      verify: false,
    });
  });

  it('caps the page size and takes verify', () => {
    expect(parseLogArguments('limit 5000 verify', context)).toMatchObject({
      page: { limit: 500 },
      verify: true,
    });
  });

  it('treats unknown words as free text', () => {
    expect(parseLogArguments('“invoice reminder”', context).filter).toEqual({ text: 'invoice reminder' });
  });

  it('refuses a goal that is not a number', () => {
    expect(() => parseLogArguments('goal forty', context)).toThrow(LogFilterError);
  });
});
