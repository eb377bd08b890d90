import type { MessageRef, ThreadRef } from './domain.ts';

/**
 * A portable chat message. Adapters render it: Block Kit for Slack, HTML and an inline keyboard
 * for Telegram, plain text with numbered choices for the console.
 */
export interface OutboundMessage {
  /** Plain-text summary; also the notification text and the fallback for simple clients. */
  text: string;
  blocks?: MessageBlock[];
}

export type MessageBlock =
  | { type: 'section'; text: string }
  | { type: 'fields'; fields: Array<{ label: string; value: string }> }
  | { type: 'preformatted'; text: string }
  | { type: 'context'; text: string }
  | { type: 'buttons'; buttons: MessageButton[] };

export interface MessageButton {
  /** What the click means: `approval:approve:<id>` etc. Adapters map it to an opaque platform id. */
  action: string;
  label: string;
  style?: 'primary' | 'danger';
}

/** The outbound half of a chat adapter, as seen by graphs and jobs. */
export interface ChatSender {
  /** Post a message in a thread; returns a reference to update it later. */
  post(thread: ThreadRef, message: OutboundMessage): Promise<MessageRef>;
  /** Replace a message in place (e.g. an approval card after the decision). */
  update(ref: MessageRef, message: OutboundMessage): Promise<void>;
}
