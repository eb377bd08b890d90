/** The few iCalendar (RFC 5545) fields Spine reads and writes. */
export interface CalendarEvent {
  uid: string;
  title: string;
  start: Date;
  end: Date;
  location?: string | undefined;
  description?: string | undefined;
}

function escapeText(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');
}

function unescapeText(value: string): string {
  return value.replace(/\\n/gi, '\n').replace(/\\([,;\\])/g, '$1');
}

/** `20261125T090000Z` */
export function icalDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function parseIcalDate(value: string, params: string): Date {
  const match = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?$/.exec(value.trim());
  if (!match) return new Date(Number.NaN);
  const [, y, mo, d, h = '00', mi = '00', s = '00'] = match;
  // Floating and TZID times are read as UTC: good enough to show and move Spine's own events,
  // which are always written in UTC.
  void params;
  return new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
}

/** Fold lines longer than 75 octets, as RFC 5545 requires. */
function fold(line: string): string {
  const parts: string[] = [];
  let rest = line;
  while (rest.length > 74) {
    parts.push(rest.slice(0, 74));
    rest = ` ${rest.slice(74)}`;
  }
  parts.push(rest);
  return parts.join('\r\n');
}

/** A VCALENDAR with one VEVENT. */
export function buildEvent(event: CalendarEvent, stamp: Date): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Spine//Calendar connector//EN',
    'BEGIN:VEVENT',
    `UID:${event.uid}`,
    `DTSTAMP:${icalDate(stamp)}`,
    `DTSTART:${icalDate(event.start)}`,
    `DTEND:${icalDate(event.end)}`,
    `SUMMARY:${escapeText(event.title)}`,
    ...(event.location ? [`LOCATION:${escapeText(event.location)}`] : []),
    ...(event.description ? [`DESCRIPTION:${escapeText(event.description)}`] : []),
    'END:VEVENT',
    'END:VCALENDAR',
  ];
  return `${lines.map(fold).join('\r\n')}\r\n`;
}

/** The first VEVENT of an iCalendar object, or null. */
export function parseEvent(ics: string): CalendarEvent | null {
  const unfolded = ics.replace(/\r?\n[ \t]/g, '');
  const body = /BEGIN:VEVENT([\s\S]*?)END:VEVENT/.exec(unfolded)?.[1];
  if (!body) return null;
  const fields = new Map<string, { params: string; value: string }>();
  for (const line of body.split(/\r?\n/)) {
    const match = /^([A-Z-]+)((?:;[^:]*)?):(.*)$/.exec(line);
    if (match?.[1] && !fields.has(match[1]))
      fields.set(match[1], { params: match[2] ?? '', value: match[3] ?? '' });
  }
  const uid = fields.get('UID')?.value;
  const start = fields.get('DTSTART');
  if (!uid || !start) return null;
  const end = fields.get('DTEND');
  const startDate = parseIcalDate(start.value, start.params);
  return {
    uid,
    title: unescapeText(fields.get('SUMMARY')?.value ?? ''),
    start: startDate,
    end: end ? parseIcalDate(end.value, end.params) : startDate,
    location: fields.has('LOCATION') ? unescapeText(fields.get('LOCATION')?.value ?? '') : undefined,
    description: fields.has('DESCRIPTION') ? unescapeText(fields.get('DESCRIPTION')?.value ?? '') : undefined,
  };
}
