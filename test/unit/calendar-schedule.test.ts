import { describe, expect, it } from 'vitest';
import { calendarSchedule } from '../../app/calendar-schedule.ts';
import type { CalendarProvider } from '../../connectors/calendar/calendar-connector.ts';
import type { CalendarEvent } from '../../connectors/calendar/icalendar.ts';

function fakeCalendar(
  events: CalendarEvent[],
): CalendarProvider & { asked: Array<{ now: Date; zone: string }> } {
  const asked: Array<{ now: Date; zone: string }> = [];
  return {
    asked,
    async eventsOfDay(now, zone) {
      asked.push({ now, zone });
      return events;
    },
  };
}

describe('the digest schedule from the calendar connector', () => {
  it("asks for the operator's local day and lists events with local start times", async () => {
    const calendar = fakeCalendar([
      {
        uid: 'a',
        title: 'Call with Dana',
        start: new Date('2026-03-29T07:30:00Z'),
        end: new Date('2026-03-29T08:00:00Z'),
        location: 'Zoom',
      },
      {
        uid: 'b',
        title: 'Invoice day',
        start: new Date('2026-03-28T23:00:00Z'),
        end: new Date('2026-03-29T22:00:00Z'),
      },
    ]);
    const items = await calendarSchedule(calendar).itemsFor({
      operatorId: 1,
      localDate: '2026-03-29',
      timezone: 'Europe/Berlin',
    });
    // 29 March 2026 is the DST change in Berlin: 07:30Z is 09:30 local (CEST).
    expect(items).toEqual([
      { start: '09:30', title: 'Call with Dana', where: 'Zoom' },
      { start: null, title: 'Invoice day' },
    ]);
    expect(calendar.asked[0]?.zone).toBe('Europe/Berlin');
    expect(calendar.asked[0]?.now.toISOString()).toBe('2026-03-29T10:00:00.000Z');
  });

  it('says nothing is scheduled when the calendar is empty', async () => {
    const items = await calendarSchedule(fakeCalendar([])).itemsFor({
      operatorId: 1,
      localDate: '2026-11-25',
      timezone: 'America/New_York',
    });
    expect(items).toEqual([]);
  });
});
