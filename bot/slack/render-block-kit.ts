import type { MessageBlock, OutboundMessage } from '../../core/message.ts';

/** A Block Kit block, loosely typed: Slack validates the shape, we only build a few kinds. */
export type SlackBlock = Record<string, unknown>;

export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

// Slack's limits: section text 3000, a field 2000, at most 10 fields, 50 blocks.
const SECTION_LIMIT = 3000;
const FIELD_LIMIT = 2000;
const MAX_FIELDS = 10;
const MAX_BLOCKS = 50;

/** Escape the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

function mrkdwn(text: string, limit = SECTION_LIMIT): { type: 'mrkdwn'; text: string } {
  return { type: 'mrkdwn', text: clip(escapeMrkdwn(text), limit) };
}

function renderBlock(block: MessageBlock): SlackBlock[] {
  switch (block.type) {
    case 'section':
      return [{ type: 'section', text: mrkdwn(block.text) }];
    case 'fields': {
      const out: SlackBlock[] = [];
      for (let start = 0; start < block.fields.length; start += MAX_FIELDS) {
        out.push({
          type: 'section',
          fields: block.fields
            .slice(start, start + MAX_FIELDS)
            .map((field) => mrkdwn(`*${field.label}*\n${field.value}`, FIELD_LIMIT)),
        });
      }
      return out;
    }
    case 'preformatted':
      return [{ type: 'section', text: mrkdwn(`\`\`\`${clip(block.text, SECTION_LIMIT - 8)}\`\`\``) }];
    case 'context':
      return [{ type: 'context', elements: [mrkdwn(block.text)] }];
    case 'buttons':
      return [
        {
          type: 'actions',
          elements: block.buttons.map((button) => ({
            type: 'button',
            // The action id is the portable button action (`approval:approve:12`): no decision data
            // travels that the server does not check again (ownership, compare-and-set).
            action_id: button.action,
            value: button.action,
            text: { type: 'plain_text', text: clip(button.label, 75) },
            ...(button.style ? { style: button.style } : {}),
          })),
        },
      ];
  }
}

function chunks(text: string, size: number): string[] {
  const out: string[] = [];
  for (let start = 0; start < text.length; start += size) out.push(text.slice(start, start + size));
  return out.length > 0 ? out : [' '];
}

/** Block Kit for a portable message; plain messages become one section. */
export function renderForSlack(message: OutboundMessage): SlackMessage {
  const blocks =
    message.blocks && message.blocks.length > 0
      ? message.blocks.flatMap(renderBlock)
      : chunks(escapeMrkdwn(message.text), SECTION_LIMIT).map((text) => ({
          type: 'section',
          text: { type: 'mrkdwn', text },
        }));
  return { text: clip(message.text, 3000), blocks: blocks.slice(0, MAX_BLOCKS) };
}
