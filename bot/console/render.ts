import type { MessageBlock, OutboundMessage } from '../../core/message.ts';

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => `${prefix}${line}`)
    .join('\n');
}

function renderBlock(block: MessageBlock): string {
  switch (block.type) {
    case 'section':
      return block.text;
    case 'fields':
      return block.fields
        .map((field) => {
          const [first, ...rest] = field.value.split('\n');
          return [`  ${field.label}: ${first ?? ''}`, ...rest.map((line) => `    ${line}`)].join('\n');
        })
        .join('\n');
    case 'preformatted':
      return indent(block.text, '    ');
    case 'context':
      return `  (${block.text})`;
    case 'buttons': {
      const choices = block.buttons.map((button, index) => `${index + 1}) ${button.label}`).join('   ');
      const words = block.buttons.map((button) => button.label.toLowerCase()).join('/');
      return `  ${choices}   — type ${words} or the number`;
    }
  }
}

/** Plain text for a terminal: blocks in order, buttons as numbered choices. */
export function renderForConsole(message: OutboundMessage): string {
  if (!message.blocks || message.blocks.length === 0) return message.text;
  return message.blocks.map(renderBlock).join('\n');
}
