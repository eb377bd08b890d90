import type { App, Receiver } from '@slack/bolt';
import { SocketModeClient } from '@slack/socket-mode';
import type { Logger } from 'pino';
import { boltLogger } from './bolt-logger.ts';
import type { SlackDeliveryGuard } from './delivery-guard.ts';
import { runListeners } from './run-listeners.ts';

export interface SpineSocketModeReceiverOptions {
  /** The app-level token (`xapp-…`, scope `connections:write`). */
  appToken: string;
  /** Web API base URL for `apps.connections.open` (tests point it at a fake). */
  apiUrl: string;
  logger: Logger;
  ackBudgetMs?: number;
  /** How long start-up may take to connect (default 30 s). */
  startTimeoutMs?: number;
  /** The team check and the dead-lettering of an event's failed last delivery. */
  guard?: SlackDeliveryGuard;
}

const START_TIMEOUT_MS = 30_000;

/** What SocketModeClient emits as `slack_event` for every envelope. */
interface SocketModeEnvelope {
  type: string;
  envelope_id: string;
  body?: Record<string, unknown>;
  retry_num?: number;
  retry_reason?: string;
  ack: (response?: Record<string, unknown>) => Promise<void>;
}

/**
 * Bolt's transport over a Socket Mode WebSocket (no public URL). The same contract as the HTTP
 * receiver: the listeners record (dedupe + goal) first, and the envelope is acknowledged only
 * after they finished — with a slash command's or modal's reply as the ack payload. An event that
 * could not be recorded, or was still being recorded at the ack budget, is not acknowledged:
 * Slack redelivers it and the inbox dedupes — until its last delivery, whose failure sets it aside
 * (dead letter) and acks it. Clicks and commands always get an (empty) ack, so the user's client
 * does not hang; Slack does not redeliver those anyway. Another workspace's envelopes are acked
 * and run nothing. Reconnects (Slack recycles connections routinely) are the client's own.
 */
export class SpineSocketModeReceiver implements Receiver {
  readonly #client: SocketModeClient;
  #app: App | undefined;
  readonly #options: SpineSocketModeReceiverOptions;
  readonly #logger: Logger;
  /** Envelopes being handled, so stop() can let them finish before the socket closes. */
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: SpineSocketModeReceiverOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ transport: 'socket-mode' });
    this.#client = new SocketModeClient({
      appToken: options.appToken,
      logger: boltLogger(this.#logger),
      clientOptions: { slackApiUrl: options.apiUrl },
    });
    this.#client.on('slack_event', (envelope: SocketModeEnvelope) => {
      const handling = this.#handle(envelope).catch((error: unknown) => {
        this.#logger.error({ err: String(error), type: envelope.type }, 'a Socket Mode envelope failed');
      });
      this.#inFlight.add(handling);
      void handling.finally(() => this.#inFlight.delete(handling));
    });
  }

  init(app: App): void {
    this.#app = app;
  }

  /**
   * Opens the WebSocket (`apps.connections.open` with the app token), resolves on Slack's hello.
   * Start-up does not wait out the client's long reconnect back-off: Slack unreachable for
   * `startTimeoutMs` (30 s) fails it with a message that says what to check.
   */
  async start(): Promise<void> {
    const limit = this.#options.startTimeoutMs ?? START_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `Slack Socket Mode did not connect within ${Math.round(limit / 1000)} s. Check that Slack is ` +
                'reachable from this machine and that SLACK_APP_TOKEN is an app-level token with connections:write.',
            ),
          ),
        limit,
      );
    });
    try {
      await Promise.race([this.#client.start(), timedOut]);
    } catch (error) {
      await this.#client.disconnect().catch(() => {});
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Lets envelopes in flight be answered, then closes the socket without reconnecting. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
    await this.#client.disconnect();
  }

  async #handle(envelope: SocketModeEnvelope): Promise<void> {
    const app = this.#app;
    const body = envelope.body;
    if (!app || !body) {
      this.#logger.warn({ type: envelope.type }, 'a Socket Mode envelope arrived before the app was ready');
      return;
    }
    const isEvent = envelope.type === 'events_api';
    const outcome = await runListeners(
      app,
      {
        body,
        ...(envelope.retry_num !== undefined ? { retryNum: envelope.retry_num } : {}),
        ...(envelope.retry_reason !== undefined ? { retryReason: envelope.retry_reason } : {}),
      },
      { logger: this.#logger, ackBudgetMs: this.#options.ackBudgetMs, guard: this.#options.guard },
    );
    if (outcome.kind === 'done') {
      await this.#ack(envelope, ackPayload(outcome.reply));
      return;
    }
    // Another workspace's request, or an event set aside after its last delivery: Slack may stop.
    if (outcome.kind === 'refused' || outcome.kind === 'dead_lettered') {
      await this.#ack(envelope, undefined);
      return;
    }
    if (isEvent) {
      this.#logger.warn(
        { envelope: envelope.envelope_id, outcome: outcome.kind, retry: envelope.retry_num ?? 0 },
        'a Slack event was not acknowledged; Slack will redeliver it',
      );
      return;
    }
    await this.#ack(envelope, undefined);
  }

  async #ack(envelope: SocketModeEnvelope, payload: Record<string, unknown> | undefined): Promise<void> {
    try {
      await envelope.ack(payload);
    } catch (error) {
      // The socket closed meanwhile: Slack redelivers an unacknowledged event on the next one.
      this.#logger.warn(
        { err: String(error), envelope: envelope.envelope_id },
        'could not acknowledge a Socket Mode envelope',
      );
    }
  }
}

/** A listener's `ack(reply)` as the envelope's payload: an object as is, text as `{ text }`. */
function ackPayload(reply: unknown): Record<string, unknown> | undefined {
  if (reply === undefined || reply === '') return undefined;
  if (typeof reply === 'string') return { text: reply };
  if (reply !== null && typeof reply === 'object') return reply as Record<string, unknown>;
  return undefined;
}
