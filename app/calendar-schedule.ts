import type { CalendarProvider } from '../connectors/calendar/calendar-connector.ts';
import { localDateOf, wallClock, zonedInstant } from '../core/local-time.ts';
import type { ScheduleItem, ScheduleProvider } from '../core/schedule.ts';

/**
 * The digest's "Today" section from the configured calendar: the events of the operator's local
 * day, soonest first. An event from local midnight to local midnight is all-day.
 */
export function calendarSchedule(calendar: CalendarProvider): ScheduleProvider {
  return {
    async itemsFor({ localDate, timezone }): Promise<ScheduleItem[]> {
      const midday = zonedInstant(localDate, { hour: 12, minute: 0 }, timezone);
      const events = await calendar.eventsOfDay(midday, timezone);
      return events.map((event) => {
        const start = wallClock(event.start, timezone);
        const end = wallClock(event.end, timezone);
        // Midnight to midnight, local: a day-long event (23 or 25 hours on a DST change).
        const allDay = start.hour === 0 && start.minute === 0 && end.hour === 0 && end.minute === 0;
        const startsToday = localDateOf(event.start, timezone) === localDate;
        const time = `${String(start.hour).padStart(2, '0')}:${String(start.minute).padStart(2, '0')}`;
        return {
          start: allDay || !startsToday ? null : time,
          title: event.title,
          ...(event.location ? { where: event.location } : {}),
        };
      });
    },
  };
}
