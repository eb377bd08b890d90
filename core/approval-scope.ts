import type { MessageRef, ThreadRef } from './domain.ts';

/**
 * Where a bare `yes` may land: one string per conversation a card can be answered in. On Slack a
 * thread (`thread_ts`) is a conversation of its own. On Telegram `thread` is only the message a
 * reply quotes (every message has its own), so the chat is the conversation. The console and the
 * web have one conversation per `conversation` id.
 */
export function decisionScope(thread: ThreadRef): string {
  if (thread.channel === 'slack') return `slack:${thread.conversation}:${thread.thread ?? ''}`;
  return `${thread.channel}:${thread.conversation}`;
}

/**
 * The scopes an approval's card is answered in: its goal's thread, and each card message's own
 * thread (a Slack reply under the card itself, when the card was posted at the top level).
 */
export function approvalScopes(goalThread: ThreadRef, cards: readonly MessageRef[]): Set<string> {
  const scopes = new Set([decisionScope(goalThread)]);
  for (const card of cards)
    scopes.add(
      decisionScope({ channel: card.channel, conversation: card.conversation, thread: card.messageId }),
    );
  return scopes;
}

/** Whether a word typed in `thread` is typed where this approval's card is. */
export function typedInCardThread(
  thread: ThreadRef,
  goalThread: ThreadRef,
  cards: readonly MessageRef[],
): boolean {
  return approvalScopes(goalThread, cards).has(decisionScope(thread));
}
