import type { SpineEvent } from './domain.ts';

export interface NarrativeOptions {
  timezone: string;
  /** Name the operator's own actions use; "You" reads best in chat. */
  operatorLabel?: string;
  /** Show the date as well as the time (for logs that span days). */
  withDate?: boolean;
}

/** The actor as a reader would say it. */
function actorLabel(actor: string, operatorLabel: string): string {
  if (actor === 'operator') return operatorLabel;
  if (actor === 'spine') return 'Spine';
  // A chat account that is not the operator's, stored as `channel:user id`.
  const stranger = /^(slack|telegram|console|web):(.+)$/.exec(actor);
  if (stranger) return `Someone on ${channelLabel(stranger[1] ?? '')} (${stranger[2]})`;
  return actor;
}

/**
 * How the reason joins the sentence. Most reasons are causes ("because you asked Spine to send it");
 * a failure's reason is the error and an edit's is what changed, which read better after a colon.
 */
const REASON_JOINERS: Record<string, string> = {
  'failed at': ': ',
  'could not send': ': ',
  'could not finish': ': ',
  'asked to retry after': ': ',
  edited: ': ',
};

/** The reason in the reader's voice: Spine's own reasons were written to the operator ("you asked me"). */
function reason(event: SpineEvent): string {
  if (!event.why) return '';
  const why = event.actor === 'spine' ? event.why.replace(/\bme\b/g, 'Spine') : event.why;
  return `${REASON_JOINERS[event.verb] ?? ' because '}${why}`;
}

/** `14:03` or `25 Nov 14:03` in the operator's time zone. */
export function formatEventTime(at: Date, timezone: string, withDate: boolean): string {
  const time = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(at);
  if (!withDate) return time;
  const date = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    day: 'numeric',
    month: 'short',
  }).format(at);
  return `${date} ${time}`;
}

/** The references a reader can follow: goal, action, approval, channel. */
function references(event: SpineEvent): string {
  const refs: string[] = [];
  if (event.goalId !== null && !event.object.includes(`goal #${event.goalId}`))
    refs.push(`goal #${event.goalId}`);
  if (event.ref) refs.push(event.ref);
  if (event.channel && event.channel !== 'system') refs.push(`via ${channelLabel(event.channel)}`);
  return refs.length > 0 ? ` (${refs.join(', ')})` : '';
}

export function channelLabel(channel: string): string {
  switch (channel) {
    case 'slack':
      return 'Slack';
    case 'telegram':
      return 'Telegram';
    case 'console':
      return 'the console';
    case 'web':
      return 'the web console';
    default:
      return channel;
  }
}

/**
 * One plain sentence per event: time, actor, verb, object, reason, references.
 *
 * @example "09:14 You approved sending an email to dana@example.com (goal #41, approval #7, via Slack)"
 */
export function renderEvent(event: SpineEvent, options: NarrativeOptions): string {
  const time = formatEventTime(event.at, options.timezone, options.withDate ?? false);
  const actor = actorLabel(event.actor, options.operatorLabel ?? 'You');
  return `${time} ${actor} ${event.verb} ${event.object}${reason(event)}${references(event)}`;
}

/** The calendar day in a time zone, year included (1 Jul 2025 and 1 Jul 2026 are different days). */
function localDay(at: Date, timezone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: timezone, dateStyle: 'short' }).format(at);
}

/** The whole story, oldest first, one sentence per line. */
export function renderNarrative(events: SpineEvent[], options: NarrativeOptions): string {
  if (events.length === 0) return 'Nothing has happened yet.';
  const spansDays = options.withDate ?? new Set(events.map((e) => localDay(e.at, options.timezone))).size > 1;
  return events.map((event) => renderEvent(event, { ...options, withDate: spansDays })).join('\n');
}
