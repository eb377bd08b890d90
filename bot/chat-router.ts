import type { Logger } from 'pino';
import type { Channel, MessageRef, ThreadRef } from '../core/domain.ts';
import type { ChatSender, OutboundMessage } from '../core/message.ts';

/**
 * One ChatSender for the whole app that sends each message through the adapter of its channel.
 * A message for a channel with no adapter running (e.g. a console goal finished by a server) is
 * logged, not lost: the event log still tells the story.
 */
export class ChatRouter implements ChatSender {
  readonly #senders = new Map<Channel, ChatSender>();

  constructor(private readonly logger: Logger) {}

  register(channel: Channel, sender: ChatSender): void {
    this.#senders.set(channel, sender);
  }

  /** The channels that have an adapter (health report). */
  channels(): Channel[] {
    return [...this.#senders.keys()];
  }

  async post(thread: ThreadRef, message: OutboundMessage): Promise<MessageRef> {
    const sender = this.#senders.get(thread.channel);
    if (!sender) {
      this.logger.info(
        { channel: thread.channel, text: message.text },
        'no adapter running for this channel; message not shown',
      );
      return { channel: thread.channel, conversation: thread.conversation, messageId: 'undelivered' };
    }
    return sender.post(thread, message);
  }

  async update(ref: MessageRef, message: OutboundMessage): Promise<void> {
    const sender = this.#senders.get(ref.channel);
    if (!sender) {
      this.logger.info(
        { channel: ref.channel, text: message.text },
        'no adapter running for this channel; update not shown',
      );
      return;
    }
    await sender.update(ref, message);
  }
}
