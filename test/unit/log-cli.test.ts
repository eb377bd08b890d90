import { describe, expect, it } from 'vitest';
import { parseLogCli } from '../../app/ledger-commands.ts';

const context = { now: new Date('2026-07-01T08:00:00Z'), timezone: 'UTC' };

describe('spine log options', () => {
  it('reads filters, paging, a cursor, --json and --verify, with values after a space or =', () => {
    expect(
      parseLogCli(
        [
          '--goal',
          '41',
          '--connector=email',
          '--actor',
          'spine',
          '--since',
          '7d',
          '--until=2026-07-01',
          '--text',
          'dana',
          '--page',
          '3',
          '--limit',
          '20',
          '--before',
          '99',
          '--json',
          '--verify',
        ],
        context,
      ),
    ).toEqual({
      filter: {
        goalId: 41,
        connector: 'email',
        actor: 'spine',
        since: new Date('2026-06-24T08:00:00Z'),
        until: new Date('2026-07-02T00:00:00Z'),
        text: 'dana',
      },
      page: { page: 3, limit: 20, beforeId: 99 },
      json: true,
      verify: true,
    });
  });

  it('defaults to the newest 50 events', () => {
    expect(parseLogCli([], context)).toEqual({
      filter: {},
      page: { page: 1, limit: 50 },
      json: false,
      verify: false,
    });
  });

  it.each([
    [['--frobnicate'], 'Unknown option "--frobnicate" for spine log.'],
    [['--goal'], '--goal needs a value.'],
    [['--limit', '0'], 'limit needs a positive whole number, not "0".'],
    [['--since', 'someday'], 'I don\'t understand the time "someday"'],
    [['--before', 'x'], '--before needs an event id.'],
  ])('%j is refused with a message saying what to do', (args, message) => {
    expect(() => parseLogCli(args, context)).toThrow(message);
  });
});
