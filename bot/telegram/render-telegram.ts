import type { MessageBlock, OutboundMessage } from '../../core/message.ts';

/** Telegram's limit on a message's text, after entity parsing. */
export const TELEGRAM_TEXT_LIMIT = 4096;
/** Telegram's limit on callback_data, in bytes. */
export const CALLBACK_DATA_LIMIT = 64;

export interface InlineButton {
  text: string;
  callback_data: string;
}

/** One or more HTML messages (split at 4096 characters); the keyboard goes on the last one. */
export interface TelegramMessage {
  parts: string[];
  keyboard: InlineButton[][];
}

/** Escape for Telegram's HTML parse mode: only &, < and > are special. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// Leave room for the wrapping tags of a paragraph.
const PIECE_LIMIT = TELEGRAM_TEXT_LIMIT - 64;

/** Split raw text into pieces whose escaped form fits one message, preferring line breaks. */
function escapedPieces(text: string): string[] {
  const pieces: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    const escapedLine = escapeHtml(line);
    const candidate = current === '' ? escapedLine : `${current}\n${escapedLine}`;
    if (candidate.length <= PIECE_LIMIT) {
      current = candidate;
      continue;
    }
    if (current !== '') pieces.push(current);
    current = '';
    // A single line longer than a message: cut it by characters (never inside an entity).
    let chunk = '';
    for (const char of line) {
      const escaped = escapeHtml(char);
      if (chunk.length + escaped.length > PIECE_LIMIT) {
        pieces.push(chunk);
        chunk = '';
      }
      chunk += escaped;
    }
    current = chunk;
  }
  if (current !== '' || pieces.length === 0) pieces.push(current);
  return pieces;
}

function wrap(pieces: string[], open: string, close: string): string[] {
  return pieces.map((piece) => `${open}${piece}${close}`);
}

function renderBlock(block: MessageBlock): string[] {
  switch (block.type) {
    case 'section':
      return wrap(escapedPieces(block.text), '<b>', '</b>');
    case 'fields':
      return block.fields.flatMap((field) =>
        escapedPieces(field.value).map((piece, index) =>
          index === 0 ? `<b>${escapeHtml(field.label)}:</b> ${piece}` : piece,
        ),
      );
    case 'preformatted':
      return wrap(escapedPieces(block.text), '<pre>', '</pre>');
    case 'context':
      return wrap(escapedPieces(block.text), '<i>', '</i>');
    case 'buttons':
      return [];
  }
}

/** Pack paragraphs into messages of at most 4096 characters. */
function pack(paragraphs: string[]): string[] {
  const parts: string[] = [];
  let current = '';
  for (const paragraph of paragraphs) {
    const candidate = current === '' ? paragraph : `${current}\n${paragraph}`;
    if (candidate.length <= TELEGRAM_TEXT_LIMIT) {
      current = candidate;
    } else {
      if (current !== '') parts.push(current);
      current = paragraph;
    }
  }
  if (current !== '' || parts.length === 0) parts.push(current === '' ? ' ' : current);
  return parts;
}

/**
 * HTML and an inline keyboard for a portable message. A button's callback_data is the portable
 * action (`approval:approve:12`), which names an approval but decides nothing: the server checks
 * the clicker's ownership and compare-and-sets the approval row.
 */
export function renderForTelegram(message: OutboundMessage): TelegramMessage {
  const blocks = message.blocks ?? [];
  const paragraphs = blocks.length > 0 ? blocks.flatMap(renderBlock) : escapedPieces(message.text.trimEnd());
  const keyboard = blocks
    .filter((block) => block.type === 'buttons')
    .map((block) =>
      block.buttons
        .filter((button) => Buffer.byteLength(button.action, 'utf8') <= CALLBACK_DATA_LIMIT)
        .map((button) => ({ text: button.label, callback_data: button.action })),
    )
    .filter((row) => row.length > 0);
  return { parts: pack(paragraphs), keyboard };
}
