import type { Logger } from 'pino';
import type { DeadLetterSink } from '../chat-adapter.ts';

/**
 * Slack delivers an event at most four times: once, then three retries (`X-Slack-Retry-Num` 1–3,
 * over about an hour). The last one that fails is set aside; Slack would drop it anyway.
 */
export const SLACK_MAX_DELIVERIES = 4;

/** Keys whose values are credentials, or act as them, in Slack payloads. */
const SECRET_KEYS = new Set(['token', 'response_url', 'response_urls', 'trigger_id']);

/**
 * What both Slack transports check around Bolt's listeners: that a request is for Spine's own
 * workspace, and what to do with an event whose last delivery failed.
 */
export interface SlackDeliveryGuard {
  /** Spine's workspace (`team_id`); undefined while unknown, and nothing is checked then. */
  teamId(): string | undefined;
  /** Deliveries of one event before it is set aside. */
  readonly maxDeliveries: number;
  /** Set aside an event whose last delivery failed; false when that failed too. */
  deadLetter(body: Record<string, unknown>, error: string, deliveries: number): Promise<boolean>;
}

/** The guard of a Slack adapter: its team, learned at start, and its dead-letter store. */
export function slackDeliveryGuard(options: {
  teamId: () => string | undefined;
  deadLetters: DeadLetterSink | undefined;
  logger: Logger;
  maxDeliveries?: number | undefined;
}): SlackDeliveryGuard {
  const { logger, deadLetters } = options;
  return {
    teamId: options.teamId,
    maxDeliveries: Math.max(1, Math.min(options.maxDeliveries ?? SLACK_MAX_DELIVERIES, SLACK_MAX_DELIVERIES)),
    async deadLetter(body, error, deliveries) {
      const eventId = String(body.event_id ?? 'unknown');
      if (!deadLetters) {
        logger.error({ err: error, eventId, deliveries }, 'dropped a Slack event that kept failing');
        return true;
      }
      try {
        const letter = await deadLetters.record({
          channel: 'slack',
          deliveryId: eventId,
          payload: withoutSecrets(body) as Record<string, unknown>,
          error,
          attempts: deliveries,
        });
        logger.error(
          { err: error, eventId, deliveries, deadLetterId: letter.id },
          'set aside a Slack event that kept failing (dead letter); acknowledged so Slack stops',
        );
        return true;
      } catch (recording) {
        logger.error(
          { err: error, recordErr: String(recording), eventId, deliveries },
          'could not set aside a failing Slack event',
        );
        return false;
      }
    },
  };
}

/**
 * The workspace a request is for, as Bolt reads it: an event's installation
 * (`authorizations[0].team_id`, else `team_id`), a command's `team_id`, an interaction's
 * `view.app_installed_team_id`, `team.id` or `user.team_id`. Undefined when the body names none.
 */
export function slackTeamOf(body: Record<string, unknown>): string | undefined {
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const object = (value: unknown) =>
    value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  if (body.type === 'event_callback') {
    const authorizations = Array.isArray(body.authorizations) ? body.authorizations : [];
    return text(object(authorizations[0])?.team_id) ?? text(body.team_id);
  }
  if (typeof body.command === 'string') return text(body.team_id);
  return (
    text(object(body.view)?.app_installed_team_id) ??
    text(object(body.team)?.id) ??
    text(object(body.user)?.team_id) ??
    text(body.team_id)
  );
}

/** A copy of a payload without the values that act as credentials (see SECRET_KEYS). */
export function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([key]) => !SECRET_KEYS.has(key))
      .map(([key, inner]) => [key, withoutSecrets(inner)]),
  );
}
