import { ApprovalEditor } from '../bot/approval-edit.ts';
import type { ChatAdapter } from '../bot/chat-adapter.ts';
import type { HttpRoute } from '../bot/http-route.ts';
import { describeError, SpineError } from '../core/errors.ts';
import { DeadLetterRepository } from '../db/repositories/dead-letters.ts';
import type { Spine } from './spine.ts';

/** Knobs for tests and benchmarks; production uses the defaults. */
export interface ChatAdapterTuning {
  progressDelayMs?: number;
  ackBudgetMs?: number;
  pollTimeoutSeconds?: number;
  /** Clock for request timestamp checks (tests use a fake one). */
  now?: () => number;
  /** Attempts per Telegram update / deliveries per Slack event before it is dead-lettered. */
  deliveryAttempts?: number;
  /** First wait between attempts at a polled Telegram update (doubled each time). */
  retryDelayMs?: number;
}

/** The chat adapters the config enables, initialised and registered with Spine. */
export interface ChatAdapters {
  adapters: ChatAdapter[];
  /** Routes for Spine's HTTP server. */
  routes: HttpRoute[];
  /** Begin receiving (Socket Mode, long polling, webhook registration). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Build every configured adapter (Slack when SLACK_BOT_TOKEN is set, Telegram when
 * TELEGRAM_BOT_TOKEN is set), check its credentials, and register it as its channel's sender.
 */
export async function createChatAdapters(
  spine: Spine,
  tuning: ChatAdapterTuning = {},
): Promise<ChatAdapters> {
  const { config, logger, intake, repos } = spine;
  const adapters: ChatAdapter[] = [];
  // Deliveries that keep failing are set aside here, so one poisoned update cannot stall a channel.
  const deadLetters = new DeadLetterRepository(spine.db.pool);
  // The platform SDKs are loaded only when configured: every other CLI command starts faster.
  if (config.chat.slack) {
    const { SlackAdapter } = await import('../bot/slack/slack-adapter.ts');
    adapters.push(
      new SlackAdapter({
        botToken: config.chat.slack.botToken,
        signingSecret: config.chat.slack.signingSecret,
        appToken: config.chat.slack.appToken,
        apiUrl: config.chat.slack.apiUrl,
        intake,
        repos,
        logger,
        deadLetters,
        editor: new ApprovalEditor({
          pool: spine.db.pool,
          connectors: spine.connectors,
          // In queue mode cards are often a worker's: update them through the outbox's map.
          chat: spine.queueMode?.intakeChat ?? spine.chat,
          logger,
        }),
        ...tuning,
      }),
    );
  }
  if (config.chat.telegram) {
    const { TelegramAdapter } = await import('../bot/telegram/telegram-adapter.ts');
    adapters.push(
      new TelegramAdapter({
        botToken: config.chat.telegram.botToken,
        apiRoot: config.chat.telegram.apiRoot,
        webhook: config.chat.telegram.webhook,
        intake,
        logger,
        deadLetters,
        ...tuning,
      }),
    );
  }
  for (const adapter of adapters) {
    try {
      await adapter.init();
    } catch (error) {
      throw new SpineError(
        'chat.adapter_init_failed',
        `Spine could not connect to ${adapter.channel}: ${describeError(error)}. Check the ${adapter.channel === 'slack' ? 'SLACK_BOT_TOKEN' : 'TELEGRAM_BOT_TOKEN'} and that the API is reachable.`,
        { category: 'user', cause: error },
      );
    }
    spine.registerAdapter(adapter.channel, adapter);
  }
  if (adapters.length > 0)
    logger.info({ channels: adapters.map((adapter) => adapter.channel) }, 'chat adapters ready');
  return {
    adapters,
    routes: adapters.flatMap((adapter) => adapter.routes()),
    async start() {
      for (const adapter of adapters) await adapter.start();
    },
    async stop() {
      for (const adapter of adapters) {
        await adapter.stop().catch((error: unknown) => {
          logger.warn(
            { err: describeError(error), channel: adapter.channel },
            'could not stop a chat adapter',
          );
        });
      }
    },
  };
}
