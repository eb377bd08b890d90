import type { MessageRef, ThreadRef } from '../../core/domain.ts';
import type { ChatSender, OutboundMessage } from '../../core/message.ts';

/** A chat adapter that records everything it is asked to show. */
export class RecordingChat implements ChatSender {
  readonly posts: Array<{ thread: ThreadRef; message: OutboundMessage; ref: MessageRef }> = [];
  readonly updates: Array<{ ref: MessageRef; message: OutboundMessage }> = [];
  #sequence = 0;

  async post(thread: ThreadRef, message: OutboundMessage): Promise<MessageRef> {
    this.#sequence += 1;
    const ref: MessageRef = {
      channel: thread.channel,
      conversation: thread.conversation,
      messageId: String(this.#sequence),
    };
    this.posts.push({ thread, message, ref });
    return ref;
  }

  async update(ref: MessageRef, message: OutboundMessage): Promise<void> {
    this.updates.push({ ref, message });
  }

  /** Every text shown, in order. */
  texts(): string[] {
    return this.posts.map((post) => post.message.text);
  }
}
