import { describe, expect, it } from 'vitest';
import { renderForConsole } from '../../bot/console/render.ts';

describe('renderForConsole', () => {
  it('prints the text of a message without blocks', () => {
    expect(renderForConsole({ text: 'Got it.' })).toBe('Got it.');
    expect(renderForConsole({ text: 'Got it.', blocks: [] })).toBe('Got it.');
  });

  it('renders blocks in order: section, fields, preformatted, context, buttons as numbered choices', () => {
    const text = renderForConsole({
      text: 'fallback that must not be printed',
      blocks: [
        { type: 'section', text: 'Approval #3 — Send an e-mail' },
        {
          type: 'fields',
          fields: [
            { label: 'To', value: 'dana@example.com' },
            { label: 'Body', value: 'Hello Dana,\nsee you Tuesday.' },
          ],
        },
        { type: 'preformatted', text: 'Subject: Tuesday\n\nHello' },
        { type: 'context', text: 'Goal #1 · risk: write' },
        {
          type: 'buttons',
          buttons: [
            { action: 'approval:approve:3', label: 'Approve', style: 'primary' },
            { action: 'approval:reject:3', label: 'Reject', style: 'danger' },
          ],
        },
      ],
    });
    expect(text).toBe(
      [
        'Approval #3 — Send an e-mail',
        '  To: dana@example.com',
        '  Body: Hello Dana,',
        '    see you Tuesday.',
        '    Subject: Tuesday',
        '    ',
        '    Hello',
        '  (Goal #1 · risk: write)',
        '  1) Approve   2) Reject   — type approve/reject or the number',
      ].join('\n'),
    );
    expect(text).not.toContain('fallback');
    // The actions behind the buttons are never shown: the console answers by word or number.
    expect(text).not.toContain('approval:approve');
  });

  it('renders an empty field value as an empty line after the label', () => {
    expect(
      renderForConsole({ text: '', blocks: [{ type: 'fields', fields: [{ label: 'Cc', value: '' }] }] }),
    ).toBe('  Cc: ');
  });
});
