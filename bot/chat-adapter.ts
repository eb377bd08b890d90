import type { Channel } from '../core/domain.ts';
import type { ChatSender, OutboundMessage } from '../core/message.ts';
import type { HttpRoute } from './http-route.ts';

/**
 * A chat platform behind one small port: it sends (`post`/`update` from ChatSender), renders the
 * portable message model into its own format, and has a lifecycle. Inbound traffic reaches Spine's
 * Intake through the adapter's own transport: HTTP routes on Spine's server, a socket, or polling.
 *
 * @example
 * const adapter = new SlackAdapter(options);
 * await adapter.init();            // verify credentials (auth.test / getMe)
 * spine.registerAdapter(adapter.channel, adapter);
 * await startHttpServer({ ..., routes: adapter.routes() });
 * await adapter.start();           // Socket Mode / long polling / webhook registration
 */
export interface ChatAdapter<Rendered = unknown> extends ChatSender {
  readonly channel: Channel;
  /** The platform payload for a portable message (Block Kit, HTML + keyboard, plain text). */
  render(message: OutboundMessage): Rendered;
  /** Check credentials and prepare; no inbound traffic is handled before `start`. */
  init(): Promise<void>;
  /** Begin receiving (open sockets, start polling, register webhooks). */
  start(): Promise<void>;
  /** Stop receiving and let in-flight work finish. */
  stop(): Promise<void>;
  /** HTTP routes to mount on Spine's server (none for transports that dial out). */
  routes(): HttpRoute[];
}

/**
 * Where an adapter sets aside a delivery that kept failing (db/repositories/dead-letters.ts), so
 * one poisoned update or event cannot stall its channel.
 */
export interface DeadLetterSink {
  /** Store the delivery (payload without secrets) and append its event; idempotent per delivery. */
  record(letter: {
    channel: Channel;
    deliveryId: string;
    payload: Record<string, unknown>;
    error: string;
    attempts: number;
  }): Promise<{ id: number; created: boolean }>;
  /** Count a failed attempt of a delivery the platform re-sends without numbering it; the total. */
  countAttempt(channel: Channel, deliveryId: string): Promise<number>;
}
