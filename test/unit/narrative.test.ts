import { describe, expect, it } from 'vitest';
import type { SpineEvent } from '../../core/domain.ts';
import { channelLabel, formatEventTime, renderEvent, renderNarrative } from '../../core/narrative.ts';

let nextId = 1;
function event(overrides: Partial<SpineEvent> & Pick<SpineEvent, 'at'>): SpineEvent {
  return {
    id: nextId++,
    operatorId: 1,
    actor: 'spine',
    verb: 'finished',
    object: 'goal #1',
    why: null,
    ref: null,
    goalId: null,
    actionId: null,
    channel: null,
    payload: {},
    ...overrides,
  };
}

describe('formatEventTime', () => {
  it('shows the time in the operator time zone, 24-hour', () => {
    const at = new Date('2026-07-01T21:05:00Z');
    expect(formatEventTime(at, 'UTC', false)).toBe('21:05');
    expect(formatEventTime(at, 'Europe/Berlin', false)).toBe('23:05');
    expect(formatEventTime(at, 'America/New_York', false)).toBe('17:05');
    expect(formatEventTime(at, 'Asia/Kolkata', false)).toBe('02:35');
  });

  it('follows daylight saving time', () => {
    expect(formatEventTime(new Date('2026-03-29T00:30:00Z'), 'Europe/Berlin', false)).toBe('01:30');
    expect(formatEventTime(new Date('2026-03-29T01:30:00Z'), 'Europe/Berlin', false)).toBe('03:30');
  });

  it('puts the local date first when asked', () => {
    expect(formatEventTime(new Date('2026-07-01T23:30:00Z'), 'UTC', true)).toBe('1 Jul 23:30');
    expect(formatEventTime(new Date('2026-07-01T23:30:00Z'), 'Europe/Berlin', true)).toBe('2 Jul 01:30');
  });
});

describe('renderEvent', () => {
  const at = new Date('2026-07-01T09:14:00Z');

  it('tells the operator’s own actions as "You", with goal, reference and channel', () => {
    const line = renderEvent(
      event({
        at,
        actor: 'operator',
        verb: 'approved',
        object: 'sending an e-mail to dana@example.com',
        ref: 'approval #7',
        goalId: 41,
        channel: 'slack',
      }),
      { timezone: 'UTC' },
    );
    expect(line).toBe(
      '09:14 You approved sending an e-mail to dana@example.com (goal #41, approval #7, via Slack)',
    );
  });

  it('uses another label for the operator when given one', () => {
    const line = renderEvent(event({ at, actor: 'operator', verb: 'asked', object: '“hi”' }), {
      timezone: 'UTC',
      operatorLabel: 'Ada',
    });
    expect(line).toBe('09:14 Ada asked “hi”');
  });

  it('names Spine and other actors as they are, and gives the reason', () => {
    expect(
      renderEvent(event({ at, verb: 'proposed', object: 'an e-mail', why: 'you asked me to send it' }), {
        timezone: 'UTC',
      }),
    ).toBe('09:14 Spine proposed an e-mail because you asked Spine to send it');
    expect(
      renderEvent(event({ at, actor: 'email', verb: 'bounced', object: 'a message' }), { timezone: 'UTC' }),
    ).toBe('09:14 email bounced a message');
  });

  it('does not repeat the goal when the object already names it, and omits the system channel', () => {
    const line = renderEvent(event({ at, goalId: 1, object: 'goal #1', channel: 'system' }), {
      timezone: 'UTC',
    });
    expect(line).toBe('09:14 Spine finished goal #1');
  });

  it('names a goal other than the one in the object', () => {
    const line = renderEvent(event({ at, goalId: 12, object: 'goal #1' }), { timezone: 'UTC' });
    expect(line).toBe('09:14 Spine finished goal #1 (goal #12)');
  });

  it.each([
    ['console', 'the console'],
    ['telegram', 'Telegram'],
    ['web', 'the web console'],
    ['carrier-pigeon', 'carrier-pigeon'],
  ])('channel %s reads as %s', (channel, label) => {
    expect(channelLabel(channel)).toBe(label);
  });
});

describe('renderNarrative', () => {
  it('says so when nothing happened', () => {
    expect(renderNarrative([], { timezone: 'UTC' })).toBe('Nothing has happened yet.');
  });

  it('shows times only when every event is on one local day', () => {
    const story = renderNarrative(
      [
        event({ at: new Date('2026-07-01T08:00:00Z'), actor: 'operator', verb: 'asked', object: '“a”' }),
        event({ at: new Date('2026-07-01T21:59:00Z'), verb: 'finished', object: 'goal #1' }),
      ],
      { timezone: 'Europe/Berlin' },
    );
    expect(story).toBe('10:00 You asked “a”\n23:59 Spine finished goal #1');
  });

  it('shows dates when the events span local days (in the operator’s time zone, not UTC)', () => {
    const events = [
      event({ at: new Date('2026-07-01T20:00:00Z'), actor: 'operator', verb: 'asked', object: '“a”' }),
      event({ at: new Date('2026-07-01T22:30:00Z'), verb: 'finished', object: 'goal #1' }),
    ];
    // One UTC day …
    expect(renderNarrative(events, { timezone: 'UTC' })).toBe(
      '20:00 You asked “a”\n22:30 Spine finished goal #1',
    );
    // … but two days in Berlin.
    expect(renderNarrative(events, { timezone: 'Europe/Berlin' })).toBe(
      '1 Jul 22:00 You asked “a”\n2 Jul 00:30 Spine finished goal #1',
    );
  });

  it('treats the same day and month of different years as different days', () => {
    const story = renderNarrative(
      [
        event({ at: new Date('2025-07-01T08:00:00Z'), verb: 'started', object: 'goal #1' }),
        event({ at: new Date('2026-07-01T09:00:00Z'), verb: 'finished', object: 'goal #1' }),
      ],
      { timezone: 'UTC' },
    );
    expect(story.split('\n')).toHaveLength(2);
    expect(story).toMatch(
      /^1 Jul( 2025)? 08:00 Spine started goal #1\n1 Jul( 2026)? 09:00 Spine finished goal #1$/,
    );
  });

  it('honours an explicit choice about dates', () => {
    const events = [
      event({ at: new Date('2026-07-01T08:00:00Z') }),
      event({ at: new Date('2026-07-03T08:00:00Z') }),
    ];
    expect(renderNarrative(events, { timezone: 'UTC', withDate: false })).toBe(
      '08:00 Spine finished goal #1\n08:00 Spine finished goal #1',
    );
    expect(renderNarrative(events.slice(0, 1), { timezone: 'UTC', withDate: true })).toBe(
      '1 Jul 08:00 Spine finished goal #1',
    );
  });
});
