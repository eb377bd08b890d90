import { describe, expect, it } from 'vitest';
import { renderForTelegram, TELEGRAM_TEXT_LIMIT } from '../../bot/telegram/render-telegram.ts';

describe('Telegram rendering', () => {
  it('escapes HTML and keeps short messages whole', () => {
    expect(renderForTelegram({ text: 'a <b> & c' })).toEqual({
      parts: ['a &lt;b&gt; &amp; c'],
      keyboard: [],
    });
  });

  it('splits at 4096 characters, also a single line full of characters that grow when escaped', () => {
    const rendered = renderForTelegram({ text: '&'.repeat(10_000) });
    for (const part of rendered.parts) expect(part.length).toBeLessThanOrEqual(TELEGRAM_TEXT_LIMIT);
    expect(rendered.parts.join('')).toBe('&amp;'.repeat(10_000));
  });

  it('drops a button whose callback data would exceed 64 bytes', () => {
    const rendered = renderForTelegram({
      text: 'card',
      blocks: [
        {
          type: 'buttons',
          buttons: [
            { action: 'approval:approve:1', label: 'Approve' },
            { action: 'x'.repeat(65), label: 'Too long' },
          ],
        },
      ],
    });
    expect(rendered.keyboard).toEqual([[{ text: 'Approve', callback_data: 'approval:approve:1' }]]);
  });
});
