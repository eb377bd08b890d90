import { parseSlackBody } from '../../bot/slack/slack-receiver.ts';
import { signSlackRequest } from '../../bot/slack/slack-signature.ts';
import { SLACK_SIGNING_SECRET } from './chat-app.ts';

let sequence = 0;
function next(): number {
  sequence += 1;
  return sequence;
}

/** Headers Slack sends with a signed request; `timestamp` defaults to now. */
export function signedHeaders(
  body: string,
  options: { timestamp?: number; secret?: string; contentType?: string } = {},
): Record<string, string> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    'content-type': options.contentType ?? 'application/json',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': signSlackRequest(options.secret ?? SLACK_SIGNING_SECRET, timestamp, body),
  };
}

/** A DM to the bot (`message.im`), in the Events API envelope Slack sends. */
export function dmEvent(input: {
  text: string;
  user?: string;
  eventId?: string;
  channel?: string;
  ts?: string;
  /** Shared files: the message becomes a `file_share`. */
  files?: Array<{ id: string; name: string; size: number; url: string }>;
}): string {
  const n = next();
  const ts = input.ts ?? `1700001000.${String(n).padStart(6, '0')}`;
  return JSON.stringify({
    token: 'legacy-verification-token',
    team_id: 'T1',
    api_app_id: 'A1',
    event: {
      client_msg_id: `c-${n}`,
      type: 'message',
      text: input.text,
      user: input.user ?? 'U123',
      ts,
      blocks: [],
      team: 'T1',
      channel: input.channel ?? 'D1',
      event_ts: ts,
      channel_type: 'im',
      ...(input.files
        ? {
            subtype: 'file_share',
            files: input.files.map((file) => ({
              id: file.id,
              name: file.name,
              size: file.size,
              mimetype: 'text/plain',
              url_private_download: file.url,
              permalink: `https://spine-test.slack.com/files/U123/${file.id}/${file.name}`,
            })),
          }
        : {}),
    },
    type: 'event_callback',
    event_id: input.eventId ?? `Ev${Date.now().toString(36)}${n}`,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [
      { enterprise_id: null, team_id: 'T1', user_id: 'UBOT', is_bot: true, is_enterprise_install: false },
    ],
    is_ext_shared_channel: false,
    event_context: `4-ctx-${n}`,
  });
}

/** An @mention in a channel (`app_mention`). */
export function mentionEvent(input: { text: string; user?: string; channel?: string }): string {
  const n = next();
  const ts = `1700002000.${String(n).padStart(6, '0')}`;
  return JSON.stringify({
    team_id: 'T1',
    api_app_id: 'A1',
    event: {
      type: 'app_mention',
      user: input.user ?? 'U123',
      text: input.text,
      ts,
      channel: input.channel ?? 'C1',
      event_ts: ts,
    },
    type: 'event_callback',
    event_id: `EvM${Date.now().toString(36)}${n}`,
    event_time: Math.floor(Date.now() / 1000),
  });
}

/** Any event type, e.g. one Spine does not subscribe to. */
export function otherEvent(event: Record<string, unknown>): string {
  return JSON.stringify({
    team_id: 'T1',
    api_app_id: 'A1',
    event,
    type: 'event_callback',
    event_id: `EvO${next()}`,
    event_time: 1,
  });
}

/** A button click (`block_actions`), form-encoded as Slack posts interactivity. */
export function blockAction(input: {
  actionId: string;
  user?: string;
  channel?: string;
  messageTs?: string;
  fromHome?: boolean;
}): string {
  const n = next();
  const payload = {
    type: 'block_actions',
    user: { id: input.user ?? 'U123', username: 'ada', name: 'ada', team_id: 'T1' },
    api_app_id: 'A1',
    token: 'legacy-verification-token',
    container: input.fromHome
      ? { type: 'view', view_id: 'V1' }
      : {
          type: 'message',
          message_ts: input.messageTs ?? '1',
          channel_id: input.channel ?? 'D1',
          is_ephemeral: false,
        },
    trigger_id: `${n}.1.abc`,
    team: { id: 'T1', domain: 'spine-test' },
    enterprise: null,
    is_enterprise_install: false,
    ...(input.fromHome
      ? { view: { id: 'V1', type: 'home' } }
      : {
          channel: { id: input.channel ?? 'D1', name: 'directmessage' },
          message: {
            type: 'message',
            ts: input.messageTs ?? '1',
            text: 'card',
            user: 'UBOT',
            bot_id: 'BBOT',
          },
          response_url: 'http://127.0.0.1:9/response',
        }),
    actions: [
      {
        action_id: input.actionId,
        block_id: 'b1',
        text: { type: 'plain_text', text: 'Approve', emoji: true },
        value: input.actionId,
        style: 'primary',
        type: 'button',
        action_ts: `1700003000.${n}`,
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** The `/spine` slash command, form-encoded. */
export function slashCommand(input: {
  text: string;
  user?: string;
  channel?: string;
  responseUrl?: string;
}): string {
  const n = next();
  return new URLSearchParams({
    token: 'legacy-verification-token',
    team_id: 'T1',
    team_domain: 'spine-test',
    channel_id: input.channel ?? 'D1',
    channel_name: 'directmessage',
    user_id: input.user ?? 'U123',
    user_name: 'ada',
    command: '/spine',
    text: input.text,
    api_app_id: 'A1',
    response_url: input.responseUrl ?? 'http://127.0.0.1:9/response',
    trigger_id: `${n}.2.def`,
  }).toString();
}

/** POST a signed body to Spine's Slack endpoint. */
export async function postToSlack(
  baseUrl: string,
  body: string,
  options: { timestamp?: number; contentType?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const contentType =
    options.contentType ?? (body.startsWith('{') ? 'application/json' : 'application/x-www-form-urlencoded');
  return fetch(`${baseUrl}/slack/events`, {
    method: 'POST',
    headers: { ...signedHeaders(body, { ...options, contentType }), ...options.headers },
    body,
  });
}

/** A modal submission (`view_submission`) with text inputs keyed by block id. */
export function viewSubmission(input: {
  callbackId: string;
  privateMetadata: string;
  values: Record<string, string>;
  user?: string;
}): string {
  const n = next();
  const payload = {
    type: 'view_submission',
    team: { id: 'T1', domain: 'spine-test' },
    user: { id: input.user ?? 'U123', username: 'ada', name: 'ada', team_id: 'T1' },
    api_app_id: 'A1',
    token: 'legacy-verification-token',
    trigger_id: `${n}.3.ghi`,
    view: {
      id: `V${n}`,
      team_id: 'T1',
      type: 'modal',
      blocks: [],
      private_metadata: input.privateMetadata,
      callback_id: input.callbackId,
      state: {
        values: Object.fromEntries(
          Object.entries(input.values).map(([key, value]) => [
            key,
            { value: { type: 'plain_text_input', value } },
          ]),
        ),
      },
      hash: `h${n}`,
      title: { type: 'plain_text', text: 'Edit' },
      app_id: 'A1',
      bot_id: 'BBOT',
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/**
 * A body built above as the object a Socket Mode envelope carries: the Events API JSON, the
 * interactivity form's `payload`, or the slash command's form fields.
 */
export function envelopePayload(body: string): Record<string, unknown> {
  const contentType = body.startsWith('{') ? 'application/json' : 'application/x-www-form-urlencoded';
  const payload = parseSlackBody(Buffer.from(body), contentType);
  if (!payload) throw new Error('not a Slack payload');
  return payload;
}
