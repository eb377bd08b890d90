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
      // Only approve/reject answer to 1/2 (core/commands.ts); other buttons are typed by name.
      if (!block.buttons.every((button) => button.action.startsWith('approval:'))) {
        const typed = block.buttons.map((button) => typedForm(button.action, button.label)).join('   ');
        return `  ${typed}`;
      }
      const choices = block.buttons.map((button, index) => `${index + 1}) ${button.label}`).join('   ');
      const words = block.buttons.map((button) => button.label.toLowerCase()).join('/');
      return `  ${choices}   — type ${words} or the number`;
    }
  }
}

/** What to type in the console for a button: `undo 12`, `retry 3`, `always allow 5`, `approve 5`. */
function typedForm(action: string, label: string): string {
  const [kind, second, third] = action.split(':');
  if (kind === 'approval') return `[${label}: type \`${second} ${third}\`]`;
  if (kind === 'trust') return `[${label}: type \`always allow ${third}\`]`;
  if (kind === 'failure' && (second === 'undo' || second === 'edit'))
    return `[${label}: type \`${second} failure ${third}${second === 'edit' ? ' field="…"' : ''}\`]`;
  if (kind === 'renormalize') return `[${label}: type \`renormalize ${third} confirm\`]`;
  if (kind === 'failure') return `[${label}: type \`${second} ${third}\`]`;
  if (kind === 'undo' || kind === 'cancel') return `[${label}: type \`${kind} ${second}\`]`;
  return `[${label}]`;
}

/** Plain text for a terminal: blocks in order, buttons as numbered choices. */
export function renderForConsole(message: OutboundMessage): string {
  if (!message.blocks || message.blocks.length === 0) return message.text;
  return message.blocks.map(renderBlock).join('\n');
}
