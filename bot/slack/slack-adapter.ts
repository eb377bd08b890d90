import { App } from '@slack/bolt';
import type { Logger } from 'pino';
import { parseApprovalButton } from '../../core/cards.ts';
import type { MessageRef, ThreadRef } from '../../core/domain.ts';
import type { OutboundMessage } from '../../core/message.ts';
import type { Repositories } from '../../db/repositories/index.ts';
import type { ApprovalEditor } from '../approval-edit.ts';
import type { ChatAdapter, DeadLetterSink } from '../chat-adapter.ts';
import type { HttpRoute } from '../http-route.ts';
import type { Intake } from '../intake.ts';
import { ProgressWatch } from '../progress-watch.ts';
import { appHomeView } from './app-home.ts';
import { boltLogger } from './bolt-logger.ts';
import { type SlackDeliveryGuard, slackDeliveryGuard } from './delivery-guard.ts';
import {
  EDIT_CALLBACK_ID,
  editButtonAction,
  editModal,
  parseEditButton,
  submittedValues,
} from './edit-modal.ts';
import { renderForSlack, type SlackMessage } from './render-block-kit.ts';
import { ResponseUrls } from './response-urls.ts';
import { SpineSlackReceiver } from './slack-receiver.ts';
import { SpineSocketModeReceiver } from './socket-mode-receiver.ts';

export interface SlackAdapterOptions {
  botToken: string;
  /** HTTP mode (required there). */
  signingSecret?: string | undefined;
  /** Socket Mode when set. */
  appToken?: string | undefined;
  /** Web API base URL (tests and proxies). */
  apiUrl: string;
  intake: Intake;
  repos: Repositories;
  logger: Logger;
  now?: () => number;
  ackBudgetMs?: number;
  /** A goal slower than this gets a "working…" message (default 1 s). */
  progressDelayMs?: number;
  /** Enables the Edit button on approval cards. */
  editor?: ApprovalEditor;
  /** Spine's workspace; learned from `auth.test` at init when not given. Other teams are refused. */
  teamId?: string | undefined;
  /** Where events whose last delivery failed are set aside; without it they are only logged. */
  deadLetters?: DeadLetterSink | undefined;
  /** Deliveries of an event before it is set aside (at most Slack's 4, the default). */
  deliveryAttempts?: number;
}

interface SlackMessageEvent {
  type?: string;
  subtype?: string;
  bot_id?: string;
  user?: string;
  text?: string;
  channel?: string;
  channel_type?: string;
  ts?: string;
  thread_ts?: string;
  /** Files shared with the message (subtype `file_share`). */
  files?: Array<{
    id?: string;
    name?: string;
    size?: number;
    url_private_download?: string;
    permalink?: string;
  }>;
}

const WORKING_TEXT = 'Working on it…';

/**
 * Slack through Bolt: DMs and @mentions become goals (replies in the same thread), the `/spine`
 * command, Approve / Reject buttons, the App Home tab. HTTP mode mounts `POST /slack/events` on
 * Spine's server; with an app token it uses Socket Mode instead (no public URL). Both receivers
 * acknowledge a delivery only after the listeners recorded it.
 */
export class SlackAdapter implements ChatAdapter<SlackMessage> {
  readonly channel = 'slack' as const;
  readonly app: App;
  readonly #options: SlackAdapterOptions;
  readonly #receiver: SpineSlackReceiver | undefined;
  readonly #progress: ProgressWatch<string | undefined>;
  readonly #logger: Logger;
  readonly #responseUrls = new ResponseUrls();
  #responseSequence = 0;
  #teamId: string | undefined;
  readonly #guard: SlackDeliveryGuard;

  constructor(options: SlackAdapterOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ channel: 'slack' });
    this.#teamId = options.teamId;
    this.#guard = slackDeliveryGuard({
      teamId: () => this.#teamId,
      deadLetters: options.deadLetters,
      logger: this.#logger,
      maxDeliveries: options.deliveryAttempts,
    });
    const clientOptions = {
      slackApiUrl: options.apiUrl,
      // Bolt's client already waits out 429 Retry-After; keep other retries short so a dead API
      // surfaces as a failure instead of half an hour of back-off.
      retryConfig: { retries: 2, factor: 2, minTimeout: 200, maxTimeout: 2_000 },
    };
    const common = {
      token: options.botToken,
      logger: boltLogger(this.#logger),
      clientOptions,
      deferInitialization: true,
    };
    if (options.appToken) {
      this.#receiver = undefined;
      const receiver = new SpineSocketModeReceiver({
        appToken: options.appToken,
        apiUrl: options.apiUrl,
        logger: this.#logger,
        guard: this.#guard,
        ...(options.ackBudgetMs ? { ackBudgetMs: options.ackBudgetMs } : {}),
      });
      this.app = new App({ ...common, receiver });
    } else {
      if (!options.signingSecret) throw new Error('SlackAdapter: HTTP mode needs a signing secret');
      this.#receiver = new SpineSlackReceiver({
        signingSecret: options.signingSecret,
        logger: this.#logger,
        guard: this.#guard,
        ...(options.now ? { now: options.now } : {}),
        ...(options.ackBudgetMs ? { ackBudgetMs: options.ackBudgetMs } : {}),
      });
      this.app = new App({ ...common, receiver: this.#receiver });
    }
    this.#progress = new ProgressWatch<string | undefined>({
      delayMs: options.progressDelayMs ?? 1_000,
      logger: this.#logger,
      onSlow: async (key) => {
        const [conversation, thread] = key.split('|') as [string, string];
        const ref = await this.#send({ channel: 'slack', conversation, thread }, { text: WORKING_TEXT });
        return ref.messageId;
      },
    });
    this.#listen();
  }

  /** Block Kit; approval cards get an Edit button (a modal) next to Approve / Reject. */
  render(message: OutboundMessage): SlackMessage {
    const rendered = renderForSlack(message);
    if (!this.#options.editor) return rendered;
    for (const block of rendered.blocks) {
      if (block.type !== 'actions') continue;
      const elements = block.elements as Array<{ action_id: string }>;
      const approve = elements
        .map((element) => parseApprovalButton(element.action_id))
        .find((parsed) => parsed !== null);
      if (!approve) continue;
      const action = editButtonAction(approve.approvalId);
      elements.push({
        type: 'button',
        action_id: action,
        value: action,
        text: { type: 'plain_text', text: 'Edit' },
      } as never);
    }
    return rendered;
  }

  /**
   * `auth.test`: checks the token and learns the bot's own user id (to ignore itself) and, unless
   * configured, the workspace it serves: requests for any other team are refused from then on.
   */
  async init(): Promise<void> {
    await this.app.init();
    if (this.#teamId !== undefined) return;
    const auth = await this.app.client.auth.test();
    this.#teamId = typeof auth.team_id === 'string' && auth.team_id !== '' ? auth.team_id : undefined;
    if (this.#teamId === undefined)
      this.#logger.warn('auth.test named no team: requests from other workspaces cannot be refused');
  }

  async start(): Promise<void> {
    await this.app.start();
    this.#logger.info({ mode: this.#receiver ? 'http' : 'socket' }, 'Slack adapter started');
  }

  async stop(): Promise<void> {
    this.#progress.stopAll();
    await this.app.stop();
  }

  routes(): HttpRoute[] {
    return this.#receiver ? [this.#receiver.route()] : [];
  }

  /** Post in the thread; a "working…" message already there is replaced in place. */
  async post(thread: ThreadRef, message: OutboundMessage): Promise<MessageRef> {
    const working = thread.thread ? await this.#progress.settle(progressKey(thread)) : undefined;
    if (working) {
      const ref: MessageRef = { channel: 'slack', conversation: thread.conversation, messageId: working };
      await this.update(ref, message);
      return ref;
    }
    return this.#send(thread, message);
  }

  async update(ref: MessageRef, message: OutboundMessage): Promise<void> {
    const rendered = this.render(message);
    if (ref.messageId.startsWith('response:')) {
      // Posted through a response_url, so there is no message to edit: show the new state below it.
      if (await this.#responseUrls.post(ref.conversation, rendered)) return;
      throw new Error('that Slack message was posted through an expired response_url and cannot be updated');
    }
    await this.app.client.chat.update({
      channel: ref.conversation,
      ts: ref.messageId,
      text: rendered.text,
      blocks: rendered.blocks as never,
    });
  }

  async #send(thread: ThreadRef, message: OutboundMessage): Promise<MessageRef> {
    const rendered = this.render(message);
    let result: Awaited<ReturnType<App['client']['chat']['postMessage']>>;
    try {
      result = await this.app.client.chat.postMessage({
        channel: thread.conversation,
        ...(thread.thread ? { thread_ts: thread.thread } : {}),
        text: rendered.text,
        blocks: rendered.blocks as never,
      });
    } catch (error) {
      if (!this.#responseUrls.canFallBack(thread.conversation, error)) throw error;
      // The bot is not in this channel, but the operator's /spine command left a response_url.
      await this.#responseUrls.post(thread.conversation, rendered);
      this.#responseSequence += 1;
      return {
        channel: 'slack',
        conversation: thread.conversation,
        messageId: `response:${this.#responseSequence}`,
      };
    }
    return {
      channel: 'slack',
      conversation: String(result.channel ?? thread.conversation),
      messageId: String(result.ts),
    };
  }

  #listen(): void {
    const { app } = this;
    app.event('message', async ({ event, body, context }) => {
      const message = event as SlackMessageEvent;
      // Only direct messages; edits, joins and bot messages carry a subtype or a bot id.
      if (message.channel_type !== 'im') return;
      if (message.subtype && message.subtype !== 'file_share') return;
      if (message.bot_id) return;
      await this.#onMessage(String((body as { event_id?: string }).event_id), message, context.botUserId);
    });
    app.event('app_mention', async ({ event, body, context }) => {
      await this.#onMessage(
        String((body as { event_id?: string }).event_id),
        event as SlackMessageEvent,
        context.botUserId,
      );
    });
    app.event('app_home_opened', async ({ event, client }) => {
      const { user, tab } = event as { user: string; tab?: string };
      if (tab && tab !== 'home') return;
      const identity = await this.#options.repos.operators.findIdentity('slack', user);
      const view = await appHomeView(this.#options.repos, identity?.operatorId ?? null);
      await client.views.publish({ user_id: user, view: view as never });
    });
    app.command('/spine', async ({ command, ack }) => {
      const text = command.text.trim() === '' ? 'help' : command.text;
      this.#responseUrls.remember(command.channel_id, command.response_url);
      await this.#options.intake.handleMessage({
        channel: 'slack',
        // Slack does not retry slash commands; the trigger id is unique per invocation.
        deliveryId: `command:${command.trigger_id}`,
        userId: command.user_id,
        text,
        thread: { channel: 'slack', conversation: command.channel_id },
      });
      await ack();
    });
    app.view(EDIT_CALLBACK_ID, async ({ ack, view, body }) => {
      const editor = this.#options.editor;
      const values = submittedValues(view.state);
      const approvalId = Number(view.private_metadata);
      const outcome = editor
        ? await editor.apply(approvalId, 'slack', body.user.id, values)
        : { kind: 'refused' as const, reason: 'Editing is not available.' };
      if (outcome.kind === 'refused') {
        const field = Object.keys(values)[0] ?? 'value';
        await ack({ response_action: 'errors', errors: { [field]: outcome.reason.slice(0, 150) } });
        return;
      }
      await ack();
    });
    // One listener for every button, so a tampered or unknown action id is refused here (and
    // acknowledged, so the user's client does not show an error) instead of silently ignored.
    app.action(/.*/, async ({ ack, body, action }) => {
      const actionId = (action as { action_id?: string }).action_id ?? '';
      const click = body as {
        user?: { id?: string };
        channel?: { id?: string };
        message?: { ts?: string; thread_ts?: string };
      };
      const userId = click.user?.id ?? '';
      const thread: ThreadRef | undefined =
        click.channel?.id && click.message?.ts
          ? {
              channel: 'slack',
              conversation: click.channel.id,
              thread: click.message.thread_ts ?? click.message.ts,
            }
          : undefined;
      const editId = parseEditButton(actionId);
      if (editId !== null) {
        await this.#openEditor(editId, userId, (body as { trigger_id?: string }).trigger_id, thread);
        await ack();
        return;
      }
      const parsed = parseApprovalButton(actionId);
      if (!parsed) {
        // Undo, Always allow, Cancel, Retry / Dismiss: the intake checks the clicker and the data.
        const known = await this.#options.intake.press({
          action: actionId,
          channel: 'slack',
          userId,
          ...(thread ? { thread } : {}),
        });
        if (!known) {
          this.#logger.warn(
            { userId, actionId: actionId.slice(0, 80) },
            'refused a Slack button with unknown data',
          );
        }
        await ack();
        return;
      }
      await this.#options.intake.decide({
        approvalId: parsed.approvalId,
        decision: parsed.decision,
        channel: 'slack',
        userId,
        ...(thread ? { thread } : {}),
      });
      await ack();
    });
  }

  async #openEditor(
    approvalId: number,
    userId: string,
    triggerId: string | undefined,
    thread: ThreadRef | undefined,
  ): Promise<void> {
    const editor = this.#options.editor;
    const target = editor
      ? await editor.target(approvalId, 'slack', userId)
      : { kind: 'refused' as const, reason: 'Editing is not available.' };
    if (target.kind === 'refused') {
      if (thread) await this.#send(thread, { text: target.reason });
      return;
    }
    if (!triggerId) return;
    await this.app.client.views.open({
      trigger_id: triggerId,
      view: editModal(approvalId, target.action.preview.title, target.fields) as never,
    });
  }

  async #onMessage(eventId: string, event: SlackMessageEvent, botUserId: string | undefined): Promise<void> {
    if (!event.user || !event.channel || !event.ts) return;
    const text = stripMention(event.text ?? '', botUserId);
    const thread: ThreadRef = {
      channel: 'slack',
      conversation: event.channel,
      thread: event.thread_ts ?? event.ts,
    };
    const files = (event.files ?? []).filter((file) => file.url_private_download);
    // Each shared file is read into memory (its own delivery id); the message's words come after.
    for (const [index, file] of files.entries()) {
      await this.#options.intake.handleMessage({
        channel: 'slack',
        deliveryId: `${eventId}:file:${file.id ?? index}`,
        userId: event.user,
        text: '',
        thread,
        file: {
          name: file.name ?? 'file',
          size: file.size ?? null,
          link: file.permalink ?? `slack:${event.channel}/${event.ts}`,
          download: () => this.#download(String(file.url_private_download)),
        },
      });
    }
    if (files.length > 0 && text === '') return;
    const result = await this.#options.intake.handleMessage({
      channel: 'slack',
      deliveryId: eventId,
      userId: event.user,
      text,
      thread,
    });
    if (result.kind === 'goal' && !result.duplicate) this.#progress.watch(progressKey(thread));
  }

  /** A private Slack file, fetched with the bot token (the `files:read` scope). */
  async #download(url: string): Promise<Uint8Array> {
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${this.#options.botToken}` },
      signal: AbortSignal.timeout(60_000),
    });
    if (!response.ok) throw new Error(`Slack answered HTTP ${response.status} for the file`);
    return new Uint8Array(await response.arrayBuffer());
  }
}

function progressKey(thread: ThreadRef): string {
  return `${thread.conversation}|${thread.thread ?? ''}`;
}

/** `<@U123> do this` → `do this`: the mention that addressed the bot is not part of the goal. */
function stripMention(text: string, botUserId: string | undefined): string {
  const pattern = botUserId ? new RegExp(`<@${botUserId}(\\|[^>]*)?>`, 'g') : /^\s*<@[A-Z0-9]+(\|[^>]*)?>/;
  return text.replace(pattern, '').trim();
}
