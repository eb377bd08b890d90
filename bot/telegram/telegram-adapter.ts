import type { IncomingMessage, ServerResponse } from 'node:http';
import { autoRetry } from '@grammyjs/auto-retry';
import { apiThrottler } from '@grammyjs/transformer-throttler';
import { Bot, BotError, type Context, GrammyError } from 'grammy';
import type { Update } from 'grammy/types';
import type { Logger } from 'pino';
import { parseApprovalButton } from '../../core/cards.ts';
import type { MessageRef, ThreadRef } from '../../core/domain.ts';
import { hasCode } from '../../core/errors.ts';
import type { OutboundMessage } from '../../core/message.ts';
import type { ChatAdapter, DeadLetterSink } from '../chat-adapter.ts';
import { type HttpRoute, readRawBody, sendJson } from '../http-route.ts';
import type { Intake } from '../intake.ts';
import { ProgressWatch } from '../progress-watch.ts';
import {
  escapeHtml,
  renderForTelegram,
  TELEGRAM_TEXT_LIMIT,
  type TelegramMessage,
} from './render-telegram.ts';
import { verifyWebhookSecret } from './webhook-secret.ts';

export const TELEGRAM_WEBHOOK_PATH = '/telegram/webhook';

/** The commands shown in Telegram's menu (setMyCommands). */
export const TELEGRAM_COMMANDS = [
  { command: 'start', description: 'Say hello and see what I can do' },
  { command: 'help', description: 'What I understand' },
  { command: 'status', description: 'Open goals and pending approvals' },
  { command: 'log', description: 'The story of what happened' },
  { command: 'digest', description: 'Your digest now' },
  { command: 'console', description: 'A one-time login link to the web console' },
];

export interface TelegramAdapterOptions {
  botToken: string;
  /** Bot API base URL (tests and self-hosted Bot API servers). */
  apiRoot: string;
  /** Webhook mode when set; long polling otherwise. */
  webhook?: { url: string; secret: string } | undefined;
  intake: Intake;
  logger: Logger;
  /** A goal slower than this shows "typing…" (default 1 s). */
  progressDelayMs?: number;
  /** Long-poll timeout in seconds (default 25). */
  pollTimeoutSeconds?: number;
  /** Where updates that kept failing are set aside; without it they are only logged and skipped. */
  deadLetters?: DeadLetterSink | undefined;
  /** Attempts per update before it is set aside (default 5). */
  deliveryAttempts?: number;
  /** Wait before the second attempt, doubled for each further one (default 500 ms). */
  retryDelayMs?: number;
}

/** Default attempts per update: a few seconds of back-off ride out a blip, not a poisoned update. */
export const DEFAULT_DELIVERY_ATTEMPTS = 5;

/**
 * Telegram through grammY: private chats and group mentions become goals (replies quote the
 * user's message), inline-keyboard approvals, commands. Long polling by default — Telegram allows
 * one consumer per bot, so run one poller (or use the webhook with several replicas); webhook mode
 * mounts `POST /telegram/webhook` and checks the secret token on every request.
 */
export class TelegramAdapter implements ChatAdapter<TelegramMessage> {
  readonly channel = 'telegram' as const;
  readonly bot: Bot;
  readonly #options: TelegramAdapterOptions;
  readonly #logger: Logger;
  readonly #progress: ProgressWatch<void>;
  #polling: Promise<void> | undefined;
  readonly #stop = new AbortController();

  constructor(options: TelegramAdapterOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ channel: 'telegram' });
    this.bot = new Bot(options.botToken, { client: { apiRoot: options.apiRoot } });
    // 429 retry_after is honoured by auto-retry; the throttler keeps us under the flood limits
    // (~30 messages/s overall, ~1/s per chat) so 429s stay rare.
    this.bot.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 60 }));
    this.bot.api.config.use(apiThrottler());
    this.#progress = new ProgressWatch<void>({
      delayMs: options.progressDelayMs ?? 1_000,
      repeatMs: 4_500,
      logger: this.#logger,
      onSlow: async (key) => {
        const [chatId] = key.split('|') as [string];
        await this.bot.api.sendChatAction(chatId, 'typing');
      },
    });
    this.#listen();
  }

  render(message: OutboundMessage): TelegramMessage {
    return renderForTelegram(message);
  }

  /** `getMe` (checks the token, learns the bot's username) and the command menu. */
  async init(): Promise<void> {
    await this.bot.init();
    await this.bot.api.setMyCommands(TELEGRAM_COMMANDS);
  }

  async start(): Promise<void> {
    const { webhook } = this.#options;
    if (webhook) {
      await this.bot.api.setWebhook(webhook.url, {
        secret_token: webhook.secret,
        allowed_updates: ['message', 'callback_query'],
      });
      this.#logger.info('Telegram adapter started (webhook)');
      return;
    }
    // Polling and a webhook exclude each other: remove a stale webhook first.
    await this.bot.api.deleteWebhook();
    this.#polling = this.#poll();
    this.#logger.info('Telegram adapter started (long polling)');
  }

  async stop(): Promise<void> {
    this.#progress.stopAll();
    this.#stop.abort();
    await this.#polling;
  }

  routes(): HttpRoute[] {
    if (!this.#options.webhook) return [];
    return [{ method: 'POST', path: TELEGRAM_WEBHOOK_PATH, handle: (req, res) => this.#webhook(req, res) }];
  }

  async post(thread: ThreadRef, message: OutboundMessage): Promise<MessageRef> {
    await this.#progress.settle(progressKey(thread));
    const rendered = this.render(message);
    let last: { message_id: number; chat: { id: number } } | undefined;
    for (const [index, part] of rendered.parts.entries()) {
      const isLast = index === rendered.parts.length - 1;
      last = await this.bot.api.sendMessage(thread.conversation, part, {
        parse_mode: 'HTML',
        link_preview_options: { is_disabled: true },
        // Quote the user's message on the first part, so replies are tied to what was asked.
        ...(index === 0 && thread.thread
          ? { reply_parameters: { message_id: Number(thread.thread), allow_sending_without_reply: true } }
          : {}),
        ...(isLast && rendered.keyboard.length > 0
          ? { reply_markup: { inline_keyboard: rendered.keyboard } }
          : {}),
      });
    }
    return {
      channel: 'telegram',
      conversation: String(last?.chat.id ?? thread.conversation),
      messageId: String(last?.message_id),
    };
  }

  /** Edit in place; a card edited without a keyboard has no live buttons left. */
  async update(ref: MessageRef, message: OutboundMessage): Promise<void> {
    const rendered = this.render(message);
    const text = rendered.parts.join('\n');
    try {
      await this.bot.api.editMessageText(
        ref.conversation,
        Number(ref.messageId),
        text.length <= TELEGRAM_TEXT_LIMIT ? text : (rendered.parts[0] ?? ''),
        { parse_mode: 'HTML', reply_markup: { inline_keyboard: rendered.keyboard } },
      );
    } catch (error) {
      // Editing to identical content is not a failure (a second decision path got there first).
      if (error instanceof GrammyError && /message is not modified/.test(error.description)) return;
      throw error;
    }
  }

  #listen(): void {
    this.bot.on('callback_query', (ctx) => this.#onCallback(ctx));
    this.bot.on('message', (ctx) => this.#onMessage(ctx));
  }

  async #onMessage(ctx: Context): Promise<void> {
    const message = ctx.message;
    if (!message?.from || message.from.is_bot) return;
    const chat = message.chat;
    const raw = message.text ?? message.caption ?? '';
    const username = ctx.me.username;
    let text = raw;
    if (chat.type !== 'private') {
      const mentioned = raw.toLowerCase().includes(`@${username.toLowerCase()}`);
      const repliedToBot = message.reply_to_message?.from?.id === ctx.me.id;
      if (!mentioned && !repliedToBot) return;
      text = raw.replace(new RegExp(`@${username}\\b`, 'gi'), '').trim();
    }
    text = commandText(text, username);
    const thread: ThreadRef = {
      channel: 'telegram',
      conversation: String(chat.id),
      thread: String(message.message_id),
    };
    const document = message.document;
    const result = await this.#options.intake.handleMessage({
      channel: 'telegram',
      deliveryId: String(ctx.update.update_id),
      userId: String(message.from.id),
      text,
      thread,
      ...(document
        ? {
            file: {
              name: document.file_name ?? 'document',
              size: document.file_size ?? null,
              link: `telegram:${chat.id}/${message.message_id}`,
              download: () => this.#download(document.file_id),
            },
          }
        : {}),
    });
    if (result.kind === 'goal' && !result.duplicate) this.#progress.watch(progressKey(thread));
  }

  /** A shared document's bytes: `getFile`, then the Bot API's file endpoint (20 MB at most). */
  async #download(fileId: string): Promise<Uint8Array> {
    const file = await this.bot.api.getFile(fileId);
    if (!file.file_path) throw new Error('Telegram did not give a download path for the file');
    const url = `${this.#options.apiRoot}/file/bot${this.#options.botToken}/${file.file_path}`;
    const response = await fetch(url, { signal: AbortSignal.timeout(60_000) });
    if (!response.ok) throw new Error(`Telegram answered HTTP ${response.status} for the file`);
    return new Uint8Array(await response.arrayBuffer());
  }

  /** Every callback query is answered, whatever happens, or the user's client keeps spinning. */
  async #onCallback(ctx: Context): Promise<void> {
    const query = ctx.callbackQuery;
    if (!query) return;
    let answer = 'Sorry, that button is not valid any more.';
    try {
      const parsed = query.data ? parseApprovalButton(query.data) : null;
      if (!parsed) {
        // Undo, Always allow, Cancel, Retry / Dismiss: the intake checks the tapper and the data,
        // and answers in the chat the button was in.
        const chatId = query.message?.chat.id;
        const known = query.data
          ? await this.#options.intake.press({
              action: query.data,
              channel: 'telegram',
              userId: String(query.from.id),
              ...(chatId !== undefined
                ? { thread: { channel: 'telegram' as const, conversation: String(chatId) } }
                : {}),
            })
          : false;
        if (known) answer = 'Done.';
        else this.#logger.warn({ userId: query.from.id }, 'refused a Telegram button with unknown data');
        return;
      }
      // No thread: the callback answer (a toast on the tapper's screen) tells them the outcome,
      // so ten taps do not become ten "already decided" messages in the chat.
      const outcome = await this.#options.intake.decide({
        approvalId: parsed.approvalId,
        decision: parsed.decision,
        channel: 'telegram',
        userId: String(query.from.id),
      });
      answer =
        outcome.kind === 'decided'
          ? outcome.decision === 'approved'
            ? 'Approved.'
            : 'Rejected.'
          : outcome.kind === 'already_decided'
            ? 'This was already decided.'
            : outcome.kind === 'forbidden'
              ? 'Only my operator can decide this.'
              : 'There is no such approval waiting.';
    } finally {
      await ctx.answerCallbackQuery({ text: answer }).catch((error: unknown) => {
        this.#logger.warn({ err: String(error) }, 'could not answer a callback query');
      });
    }
  }

  async #webhook(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const secret = request.headers['x-telegram-bot-api-secret-token'];
    const check = verifyWebhookSecret(
      this.#options.webhook?.secret ?? '',
      Array.isArray(secret) ? secret[0] : secret,
    );
    if (check !== 'ok') {
      this.#logger.warn({ reason: check }, 'refused a Telegram webhook request');
      return sendJson(response, check === 'missing' ? 401 : 403, { error: 'unauthorized' });
    }
    let rawBody: Buffer;
    try {
      rawBody = await readRawBody(request);
    } catch (error) {
      if (hasCode(error, 'http.body_too_large')) return sendJson(response, 413, { error: 'body_too_large' });
      throw error;
    }
    const update = parseUpdate(rawBody);
    if (!update) {
      this.#logger.warn({ bytes: rawBody.length }, 'refused a Telegram webhook body that is not an update');
      return sendJson(response, 400, { error: 'bad_request', message: 'The body is not a Telegram update.' });
    }
    // Answered after the update is recorded: a failure gives Telegram a 500, and it re-delivers
    // (until the attempts, counted in the database for every replica, are spent).
    try {
      await this.bot.handleUpdate(update);
    } catch (error) {
      if (!(await this.#lastWebhookAttempt(update, error))) throw error;
    }
    sendJson(response, 200);
  }

  /** True when this failed webhook attempt was the update's last, and it is now set aside. */
  async #lastWebhookAttempt(update: Update, error: unknown): Promise<boolean> {
    const deadLetters = this.#options.deadLetters;
    if (!deadLetters) return false;
    let attempts: number;
    try {
      attempts = await deadLetters.countAttempt('telegram', String(update.update_id));
    } catch (counting) {
      this.#logger.warn({ err: describe(counting) }, 'could not count a failed Telegram update');
      return false;
    }
    if (attempts < this.#maxAttempts()) {
      this.#logger.warn(
        { err: describe(error), updateId: update.update_id, attempt: attempts },
        'could not handle a Telegram update; Telegram will send it again',
      );
      return false;
    }
    return this.#setAside(update, error, attempts);
  }

  /**
   * Set an update aside: a dead-letter row with its event, and an error log line as the alert.
   * False when even that failed (the database is down): the update must then be tried again.
   */
  async #setAside(update: Update, error: unknown, attempts: number): Promise<boolean> {
    const updateId = update.update_id;
    // grammY wraps what a handler threw in a BotError; the handler's error is the useful part.
    const cause = error instanceof BotError ? error.error : error;
    const deadLetters = this.#options.deadLetters;
    if (!deadLetters) {
      this.#logger.error(
        { err: describe(cause), updateId, attempts },
        'skipped a Telegram update that kept failing (no dead-letter store)',
      );
      return true;
    }
    try {
      const letter = await deadLetters.record({
        channel: 'telegram',
        deliveryId: String(updateId),
        // An update carries no credentials (the bot token is in the URL, never in the body).
        payload: update as unknown as Record<string, unknown>,
        error: describe(cause),
        attempts,
      });
      this.#logger.error(
        { err: describe(cause), updateId, attempts, deadLetterId: letter.id },
        'set aside a Telegram update that kept failing (dead letter); the bot moves on',
      );
      return true;
    } catch (recording) {
      this.#logger.error(
        { err: describe(cause), recordErr: describe(recording), updateId, attempts },
        'could not set aside a failing Telegram update; trying it again',
      );
      return false;
    }
  }

  #maxAttempts(): number {
    return Math.max(1, this.#options.deliveryAttempts ?? DEFAULT_DELIVERY_ATTEMPTS);
  }

  /**
   * Long polling that confirms an update (advances the offset) only after it is handled or set
   * aside: a failing update is tried a bounded number of times with back-off, then dead-lettered,
   * so one poisoned update cannot stop the bot. If it cannot even be set aside (the database is
   * down), it is retried as before instead of being lost.
   */
  async #poll(): Promise<void> {
    const signal = this.#stop.signal;
    let offset = 0;
    let backoffMs = 500;
    while (!signal.aborted) {
      let updates: Update[];
      try {
        updates = await this.bot.api.getUpdates(
          {
            offset,
            timeout: this.#options.pollTimeoutSeconds ?? 25,
            allowed_updates: ['message', 'callback_query'],
          },
          // grammY types the signal with the abort-controller polyfill; Node's is compatible at run time.
          signal as never,
        );
        backoffMs = 500;
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof GrammyError && error.error_code === 409) {
          this.#logger.error(
            'another process is polling this Telegram bot (409 Conflict); run one poller or use TELEGRAM_WEBHOOK_URL',
          );
        } else {
          this.#logger.warn({ err: describe(error) }, 'Telegram getUpdates failed; retrying');
        }
        await sleep(backoffMs, signal);
        backoffMs = Math.min(backoffMs * 2, 30_000);
        continue;
      }
      for (const update of updates) {
        if (!(await this.#handlePolled(update, signal))) return;
        offset = update.update_id + 1;
      }
    }
  }

  /** One polled update, with bounded retries; false only when stopping interrupted it. */
  async #handlePolled(update: Update, signal: AbortSignal): Promise<boolean> {
    let delayMs = this.#options.retryDelayMs ?? 500;
    for (let attempt = 1; !signal.aborted; attempt += 1) {
      try {
        await this.bot.handleUpdate(update);
        return true;
      } catch (error) {
        if (attempt >= this.#maxAttempts()) {
          if (await this.#setAside(update, error, attempt)) return true;
        } else {
          this.#logger.warn(
            { err: describe(error), updateId: update.update_id, attempt },
            'could not handle a Telegram update; retrying',
          );
        }
        await sleep(delayMs, signal);
        delayMs = Math.min(delayMs * 2, 30_000);
      }
    }
    return false;
  }
}

function progressKey(thread: ThreadRef): string {
  return `${thread.conversation}|${thread.thread ?? ''}`;
}

/** `/status@spine_bot` → `status`, `/start` → `help`; other text is unchanged. */
function commandText(text: string, username: string): string {
  const match = /^\/([a-z_]+)(@\w+)?(\s[\s\S]*)?$/i.exec(text.trim());
  if (!match) return text;
  if (match[2] && match[2].slice(1).toLowerCase() !== username.toLowerCase()) return text;
  const command = (match[1] ?? '').toLowerCase();
  const rest = match[3] ?? '';
  return command === 'start' ? 'help' : `${command}${rest}`;
}

function parseUpdate(rawBody: Buffer): Update | null {
  try {
    const value = JSON.parse(rawBody.toString('utf8')) as unknown;
    if (
      value &&
      typeof value === 'object' &&
      Number.isSafeInteger((value as { update_id?: unknown }).update_id)
    ) {
      return value as Update;
    }
  } catch {
    // fall through
  }
  return null;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export { escapeHtml };
