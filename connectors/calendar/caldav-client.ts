import { createHash } from 'node:crypto';
import { createDAVClient, type DAVCalendar } from 'tsdav';
import { SpineError } from '../../core/errors.ts';
import { networkError, parseRetryAfter, serviceError } from '../connector-errors.ts';
import { type CalendarEvent, parseEvent } from './icalendar.ts';

/** Where the calendar lives. The password comes from the environment. */
export interface CalDavSettings {
  /** The server's root or the account's principal URL (discovery finds the calendars). */
  url: string;
  username: string;
  password: string;
  /** Display name or URL of the calendar to use; the first calendar when absent. */
  calendar?: string | undefined;
}

/** One stored event: its URL and ETag on the server, the parsed fields and the raw iCalendar. */
export interface StoredEvent {
  url: string;
  etag: string | null;
  event: CalendarEvent;
  ics: string;
}

type DavClient = Awaited<ReturnType<typeof createDAVClient>>;

/**
 * A small CalDAV client on tsdav: discovery and REPORT queries through tsdav, and conditional
 * PUT/DELETE (If-None-Match / If-Match) so creates and deletes are idempotent on retry.
 */
export class CalDavClient {
  readonly #settings: CalDavSettings;
  #client: DavClient | undefined;
  #calendar: DAVCalendar | undefined;

  constructor(settings: CalDavSettings) {
    this.#settings = settings;
  }

  get #authorization(): string {
    return `Basic ${Buffer.from(`${this.#settings.username}:${this.#settings.password}`).toString('base64')}`;
  }

  async #connect(): Promise<{ client: DavClient; calendar: DAVCalendar }> {
    if (this.#client && this.#calendar) return { client: this.#client, calendar: this.#calendar };
    let client: DavClient;
    let calendars: DAVCalendar[];
    try {
      client = await createDAVClient({
        serverUrl: this.#settings.url,
        credentials: { username: this.#settings.username, password: this.#settings.password },
        authMethod: 'Basic',
        defaultAccountType: 'caldav',
      });
      calendars = await client.fetchCalendars();
    } catch (error) {
      throw new SpineError(
        'calendar.unreachable',
        `Spine could not open the CalDAV account at ${this.#settings.url}: ${error instanceof Error ? error.message : String(error)}. ` +
          'Check the URL, user name and password (CALDAV_PASSWORD).',
        { category: 'third_party', retryable: true, cause: error },
      );
    }
    const wanted = this.#settings.calendar;
    const calendar = wanted
      ? calendars.find((c) => c.displayName === wanted || c.url === wanted || c.url.endsWith(`/${wanted}/`))
      : calendars[0];
    if (!calendar) {
      throw new SpineError(
        'calendar.not_found',
        `The CalDAV account has no calendar ${wanted ? `named "${wanted}"` : 'at all'}. Calendars found: ${
          calendars.map((c) => String(c.displayName ?? c.url)).join(', ') || 'none'
        }.`,
        { category: 'user' },
      );
    }
    this.#client = client;
    this.#calendar = calendar;
    return { client, calendar };
  }

  /** The object URL of an event Spine creates: derived from its UID, so a retry PUTs the same resource. */
  async urlFor(uid: string): Promise<string> {
    const { calendar } = await this.#connect();
    const safe = /^[A-Za-z0-9_.@-]+$/.test(uid) ? uid : createHash('sha256').update(uid).digest('hex');
    return new URL(`${safe}.ics`, calendar.url).toString();
  }

  /** Events overlapping [from, to). */
  async list(from: Date, to: Date, signal?: AbortSignal): Promise<StoredEvent[]> {
    const { client, calendar } = await this.#connect();
    const objects = await client.fetchCalendarObjects({
      calendar,
      timeRange: { start: from.toISOString(), end: to.toISOString() },
      ...(signal ? { fetchOptions: { signal } } : {}),
    });
    return objects
      .map((object) => {
        const ics = String(object.data ?? '');
        const event = parseEvent(ics);
        return event ? { url: object.url, etag: object.etag ?? null, event, ics } : null;
      })
      .filter((stored): stored is StoredEvent => stored !== null)
      .sort((a, b) => a.event.start.getTime() - b.event.start.getTime());
  }

  /** The event with this UID, or null. */
  async find(uid: string, signal?: AbortSignal): Promise<StoredEvent | null> {
    const { client, calendar } = await this.#connect();
    const objects = await client.fetchCalendarObjects({
      calendar,
      ...(signal ? { fetchOptions: { signal } } : {}),
    });
    for (const object of objects) {
      const ics = String(object.data ?? '');
      const event = parseEvent(ics);
      if (event?.uid === uid) return { url: object.url, etag: object.etag ?? null, event, ics };
    }
    return null;
  }

  /**
   * PUT an iCalendar object. `mode: 'create'` sends If-None-Match: * and treats 412 (it already
   * exists: our earlier attempt committed) as done.
   */
  async put(url: string, ics: string, mode: 'create' | 'replace', signal?: AbortSignal): Promise<void> {
    const response = await this.#request(url, {
      method: 'PUT',
      headers: {
        'content-type': 'text/calendar; charset=utf-8',
        ...(mode === 'create' ? { 'if-none-match': '*' } : {}),
      },
      body: ics,
      ...(signal ? { signal } : {}),
    });
    if (mode === 'create' && response.status === 412) return;
    if (!response.ok) await this.#fail(response);
  }

  /** DELETE an object; 404 (already gone: an earlier attempt committed) counts as done. */
  async delete(url: string, signal?: AbortSignal): Promise<void> {
    const response = await this.#request(url, { method: 'DELETE', ...(signal ? { signal } : {}) });
    if (response.status === 404) return;
    if (!response.ok) await this.#fail(response);
  }

  async #request(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), authorization: this.#authorization },
      });
    } catch (error) {
      if (init.signal?.aborted) throw init.signal.reason ?? error;
      throw networkError('calendar', error);
    }
  }

  async #fail(response: Response): Promise<never> {
    const text = (await response.text()).slice(0, 200);
    throw serviceError(
      'calendar',
      response.status,
      text || response.statusText,
      parseRetryAfter(response.headers.get('retry-after')),
    );
  }
}
