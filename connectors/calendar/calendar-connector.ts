import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../../core/clock.ts';
import type { Preview } from '../../core/domain.ts';
import { describeError, SpineError } from '../../core/errors.ts';
import { addDays, localDateOf, zonedInstant } from '../../core/local-time.ts';
import { type Connector, defineOperation, type ExecutionContext } from '../connector.ts';
import type { CalDavClient, StoredEvent } from './caldav-client.ts';
import { buildEvent, type CalendarEvent, parseEvent } from './icalendar.ts';

/** What the digest (and anyone else) reads from the calendar. */
export interface CalendarProvider {
  /** Events of the operator's local day containing `now`, soonest first. */
  eventsOfDay(now: Date, timezone: string): Promise<CalendarEvent[]>;
}

const isoInstant = z.iso.datetime({
  offset: true,
  message: 'must be an ISO 8601 date-time, e.g. 2026-11-25T14:00:00Z',
});

const createParams = z
  .object({
    title: z.string().trim().min(1, 'must not be empty').max(250),
    start: isoInstant,
    end: isoInstant,
    location: z.string().max(500).optional(),
    description: z.string().max(5000).optional(),
  })
  .refine((p) => Date.parse(p.end) > Date.parse(p.start), {
    message: 'end must be after start',
    path: ['end'],
  });

const moveParams = z
  .object({ uid: z.string().min(1), start: isoInstant, end: isoInstant })
  .refine((p) => Date.parse(p.end) > Date.parse(p.start), {
    message: 'end must be after start',
    path: ['end'],
  });

const cancelParams = z.object({ uid: z.string().min(1) });
const listParams = z.object({ from: isoInstant, to: isoInstant });

export interface CalendarConnectorOptions {
  client: CalDavClient;
  clock: Clock;
  /** The operator's time zone, for previews. */
  timezone: string;
}

/** Start and end of the local day containing `now` in `timezone`, as instants. */
export function localDayBounds(now: Date, timezone: string): { from: Date; to: Date } {
  const date = localDateOf(now, timezone);
  const midnight = { hour: 0, minute: 0 };
  return {
    from: zonedInstant(date, midnight, timezone),
    to: zonedInstant(addDays(date, 1), midnight, timezone),
  };
}

/**
 * Calendar over CalDAV: list, create, move and cancel events. Every change is reversible: the
 * result keeps the event's previous iCalendar, and undo puts it back.
 */
export function createCalendarConnector(options: CalendarConnectorOptions): Connector & {
  provider: CalendarProvider;
} {
  const { client, clock, timezone } = options;
  const when = (date: Date) =>
    new Intl.DateTimeFormat('en-GB', { timeZone: timezone, dateStyle: 'medium', timeStyle: 'short' }).format(
      date,
    );
  const span = (event: { start: Date; end: Date }) => `${when(event.start)} – ${when(event.end)}`;
  async function current(uid: string, signal?: AbortSignal): Promise<StoredEvent> {
    const found = await client.find(uid, signal);
    if (!found) {
      throw new SpineError('calendar.event_not_found', `There is no event with UID ${uid} in the calendar.`, {
        category: 'user',
      });
    }
    return found;
  }

  /**
   * The event as it was before this action changed it, saved with the action before the change: a
   * retry after a crash must not take the already changed event for the original (undo would then
   * restore the change), nor fail because a cancelled event is gone.
   */
  async function before(uid: string, context: ExecutionContext): Promise<StoredEvent> {
    const saved = await context.checkpoint('before', async () => {
      const found = await current(uid, context.signal);
      return { url: found.url, ics: found.ics };
    });
    const event = parseEvent(saved.ics);
    if (!event) throw new Error(`the saved state of calendar event ${uid} cannot be read`);
    return { url: saved.url, etag: null, event, ics: saved.ics };
  }

  const restore = async (result: unknown, context: ExecutionContext) => {
    const previous = result as { url: string; previousIcs: string };
    await client.put(previous.url, previous.previousIcs, 'replace', context.signal);
    return { restored: parseEvent(previous.previousIcs)?.uid ?? null };
  };

  const listEvents = defineOperation({
    name: 'list_events',
    description: 'List the events between two instants.',
    risk: 'read',
    reversible: false,
    external: true,
    // CalDAV writes carry If-None-Match / If-Match: a repeat finds the first one's effect.
    retry: 'by_key',
    schema: listParams,
    simulate: (params) => ({
      title: 'Read the calendar',
      doing: 'reading the calendar',
      done: 'read the calendar',
      fields: [
        { label: 'Between', value: `${when(new Date(params.from))} and ${when(new Date(params.to))}` },
      ],
    }),
    async execute(params, context) {
      const events = await client.list(new Date(params.from), new Date(params.to), context.signal);
      return events.map(({ event }) => ({
        ...event,
        start: event.start.toISOString(),
        end: event.end.toISOString(),
      }));
    },
  });

  const createEvent = defineOperation({
    name: 'create_event',
    description: 'Create a calendar event.',
    risk: 'write',
    reversible: true,
    external: true,
    retry: 'by_key',
    schema: createParams,
    target: () => 'calendar',
    simulate: (params): Preview => ({
      title: `Add “${params.title}” to the calendar`,
      doing: `adding “${params.title}” to the calendar`,
      done: `added “${params.title}” to the calendar`,
      fields: [
        { label: 'Title', value: params.title },
        { label: 'When', value: span({ start: new Date(params.start), end: new Date(params.end) }) },
        ...(params.location ? [{ label: 'Where', value: params.location }] : []),
      ],
      body: `+ ${span({ start: new Date(params.start), end: new Date(params.end) })}  ${params.title}`,
    }),
    async execute(params, context) {
      const uid = `spine-${createHash('sha256').update(context.idempotencyKey).digest('hex').slice(0, 24)}`;
      const url = await client.urlFor(uid);
      const event: CalendarEvent = {
        uid,
        title: params.title,
        start: new Date(params.start),
        end: new Date(params.end),
        location: params.location,
        description: params.description,
      };
      await client.put(url, buildEvent(event, clock.now()), 'create', context.signal);
      return { uid, url };
    },
    undo: {
      simulate: (params) => ({
        title: `Remove “${params.title}” from the calendar`,
        doing: `removing “${params.title}” from the calendar (undo)`,
        done: `removed “${params.title}” from the calendar (undo)`,
        fields: [
          { label: 'When', value: span({ start: new Date(params.start), end: new Date(params.end) }) },
        ],
        body: `- ${span({ start: new Date(params.start), end: new Date(params.end) })}  ${params.title}`,
      }),
      async execute(_params, result, context) {
        const created = result as { url: string; uid: string };
        await client.delete(created.url, context.signal);
        return { removed: created.uid };
      },
    },
  });

  const moveEvent = defineOperation({
    name: 'move_event',
    description: 'Move a calendar event to a new time.',
    risk: 'write',
    reversible: true,
    external: true,
    retry: 'by_key',
    schema: moveParams,
    target: () => 'calendar',
    async simulate(params): Promise<Preview> {
      const next = { start: new Date(params.start), end: new Date(params.end) };
      let was = '(the current time could not be read)';
      let title = params.uid;
      try {
        const found = await current(params.uid);
        was = span(found.event);
        title = found.event.title;
      } catch (error) {
        was = `(could not read the event: ${describeError(error)})`;
      }
      return {
        title: `Move “${title}”`,
        doing: `moving “${title}” to ${span(next)}`,
        done: `moved “${title}” to ${span(next)}`,
        fields: [
          { label: 'Event', value: title },
          { label: 'From', value: was },
          { label: 'To', value: span(next) },
        ],
        body: `- ${was}  ${title}\n+ ${span(next)}  ${title}`,
      };
    },
    async execute(params, context) {
      const previous = await before(params.uid, context);
      const moved = { ...previous.event, start: new Date(params.start), end: new Date(params.end) };
      await client.put(previous.url, buildEvent(moved, clock.now()), 'replace', context.signal);
      return {
        uid: params.uid,
        url: previous.url,
        previousStart: previous.event.start.toISOString(),
        previousEnd: previous.event.end.toISOString(),
        previousIcs: previous.ics,
      };
    },
    undo: {
      simulate: (params, result) => {
        const previous = result as { previousStart: string; previousEnd: string };
        const back = { start: new Date(previous.previousStart), end: new Date(previous.previousEnd) };
        return {
          title: `Move ${params.uid} back`,
          doing: `moving the event back to ${span(back)} (undo)`,
          done: `moved the event back to ${span(back)} (undo)`,
          fields: [{ label: 'Back to', value: span(back) }],
          body: `- ${span({ start: new Date(params.start), end: new Date(params.end) })}\n+ ${span(back)}`,
        };
      },
      execute: (_params, result, context) => restore(result, context),
    },
  });

  const cancelEvent = defineOperation({
    name: 'cancel_event',
    description: 'Cancel (delete) a calendar event.',
    risk: 'destructive',
    reversible: true,
    external: true,
    retry: 'by_key',
    schema: cancelParams,
    target: () => 'calendar',
    async simulate(params): Promise<Preview> {
      let label = params.uid;
      try {
        const found = await current(params.uid);
        label = `“${found.event.title}” (${span(found.event)})`;
      } catch (error) {
        label = `${params.uid} (could not read it: ${describeError(error)})`;
      }
      return {
        title: `Cancel ${label}`,
        doing: `cancelling ${label}`,
        done: `cancelled ${label}`,
        fields: [{ label: 'Event', value: label }],
        body: `- ${label}`,
      };
    },
    async execute(params, context) {
      const previous = await before(params.uid, context);
      await client.delete(previous.url, context.signal);
      return { uid: params.uid, url: previous.url, previousIcs: previous.ics };
    },
    undo: {
      simulate: (params) => ({
        title: `Restore event ${params.uid}`,
        doing: 'restoring the cancelled event (undo)',
        done: 'restored the cancelled event (undo)',
        fields: [{ label: 'Event', value: params.uid }],
      }),
      execute: (_params, result, context) => restore(result, context),
    },
  });

  return {
    name: 'calendar',
    description: 'Calendar (CalDAV)',
    operations: {
      list_events: listEvents,
      create_event: createEvent,
      move_event: moveEvent,
      cancel_event: cancelEvent,
    },
    provider: {
      async eventsOfDay(now, zone) {
        const { from, to } = localDayBounds(now, zone);
        return (await client.list(from, to)).map((stored) => stored.event);
      },
    },
  };
}
