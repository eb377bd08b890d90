import type { NewMemory, Provenance } from './memory-store.ts';

/** One message of a conversation, in order. */
export interface ConversationTurn {
  /** A stable id of the message (a chat message id, a LoCoMo dia_id). */
  id: string;
  speaker: string;
  text: string;
  /** A description of an image the speaker shared, if any. */
  imageCaption?: string | undefined;
  at: Date;
}

export interface ConversationIngestOptions {
  operatorId: number;
  provenance: (turn: ConversationTurn) => Provenance;
  /** Turns before and after a turn stored as its search context. */
  before?: number;
  after?: number;
  threadRef?: string;
}

const DATE_WORDS = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'UTC',
  weekday: 'long',
  day: 'numeric',
  month: 'long',
  year: 'numeric',
});

/** A turn as a memory's text: "Caroline: I went to a support group … [shared an image: …]". */
export function turnText(turn: ConversationTurn): string {
  const caption = turn.imageCaption ? ` [shared an image: ${turn.imageCaption}]` : '';
  return `${turn.speaker}: ${turn.text}${caption}`;
}

/**
 * Memories for the turns of a conversation: each turn is one note with its own time, and its
 * neighbours (two before, one after by default) and its date in words as search context, because
 * a message is often only understandable with what was said around it ("Yes! Last Friday.").
 */
export function conversationMemories(
  turns: ConversationTurn[],
  options: ConversationIngestOptions,
): NewMemory[] {
  const before = options.before ?? 2;
  const after = options.after ?? 1;
  return turns.map((turn, index) => {
    const neighbours = [
      ...turns.slice(Math.max(0, index - before), index),
      ...turns.slice(index + 1, index + 1 + after),
    ];
    const context = [DATE_WORDS.format(turn.at), ...neighbours.map(turnText)].join('\n');
    return {
      operatorId: options.operatorId,
      kind: 'note' as const,
      content: turnText(turn),
      context,
      occurredAt: turn.at,
      provenance: options.provenance(turn),
      threadRef: options.threadRef,
      metadata: { messageId: turn.id, speaker: turn.speaker },
    };
  });
}
