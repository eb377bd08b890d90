import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatAdapter } from '../../bot/chat-adapter.ts';
import { ConsoleAdapter } from '../../bot/console/console-adapter.ts';
import type { ThreadRef } from '../../core/domain.ts';
import type { OutboundMessage } from '../../core/message.ts';
import { type ChatApp, startChatApp } from '../support/chat-app.ts';
import { TestDatabases } from '../support/databases.ts';

/** What a user sees of one posted or updated message, read back from the platform calls. */
interface Seen {
  /** Visible text with platform escaping undone and markup removed. */
  text: string;
  /** Raw payload as sent (to check escaping). */
  raw: string;
  /** Button labels, in order. */
  buttons: string[];
}

interface Subject {
  adapter: ChatAdapter;
  thread: ThreadRef;
  /** Everything shown since `mark()`: one entry per platform message. */
  seenSince(mark: number): Seen[];
  mark(): number;
}

function unescapeEntities(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

const CARD: OutboundMessage = {
  text: 'Approval #7 needed: Send an e-mail',
  blocks: [
    { type: 'section', text: 'Approval #7 — Send an e-mail' },
    {
      type: 'fields',
      fields: [
        { label: 'To', value: 'dana@example.com' },
        { label: 'Subject', value: 'Tuesday' },
      ],
    },
    { type: 'preformatted', text: 'Hello Dana,\nTuesday works.' },
    { type: 'context', text: 'Goal #3 · risk: write' },
    {
      type: 'buttons',
      buttons: [
        { action: 'approval:approve:7', label: 'Approve', style: 'primary' },
        { action: 'approval:reject:7', label: 'Reject', style: 'danger' },
      ],
    },
  ],
};

const DECIDED: OutboundMessage = {
  text: 'Approved: Send an e-mail',
  blocks: [
    { type: 'section', text: 'Approval #7 — Send an e-mail' },
    { type: 'context', text: 'Approved by Ada on 1 Jan 2026, 10:00 via Slack.' },
  ],
};

describe('ChatAdapter conformance: console, Slack and Telegram render the same message model', () => {
  const databases = new TestDatabases('server');
  let app: ChatApp;
  let consoleOutput = '';
  const subjects: Record<string, () => Subject> = {};

  beforeAll(async () => {
    app = await startChatApp(await databases.open());
    const output = new PassThrough();
    output.on('data', (chunk: Buffer) => {
      consoleOutput += chunk.toString();
    });
    const consoleAdapter = new ConsoleAdapter({
      input: new PassThrough(),
      output,
      interactive: false,
      operatorName: 'Ada',
    });
    const slackAdapter = app.chat.adapters.find((adapter) => adapter.channel === 'slack');
    const telegramAdapter = app.chat.adapters.find((adapter) => adapter.channel === 'telegram');
    if (!slackAdapter || !telegramAdapter) throw new Error('adapters missing');

    subjects.console = () => ({
      adapter: consoleAdapter,
      thread: { channel: 'console', conversation: 'local' },
      mark: () => consoleOutput.length,
      seenSince: (mark) =>
        consoleOutput
          .slice(mark)
          .split('\n\n')
          .filter((part) => part.trim() !== '')
          .map((part) => ({
            text: part,
            raw: part,
            buttons: [...part.matchAll(/\d\) (\w+)/g)].map((match) => match[1] ?? ''),
          })),
    });
    subjects.slack = () => ({
      adapter: slackAdapter,
      thread: { channel: 'slack', conversation: 'D1', thread: '1700000000.000001' },
      mark: () => app.slack.calls.length,
      seenSince: (mark) =>
        app.slack.calls
          .slice(mark)
          .filter((call) => call.method === 'chat.postMessage' || call.method === 'chat.update')
          .map((call) => {
            const blocks = (call.params.blocks ?? []) as Array<Record<string, unknown>>;
            const texts: string[] = [];
            const buttons: string[] = [];
            for (const block of blocks) {
              const text = block.text as { text?: string } | undefined;
              if (text?.text) texts.push(text.text);
              for (const field of (block.fields ?? []) as Array<{ text: string }>) texts.push(field.text);
              for (const element of (block.elements ?? []) as Array<{
                type: string;
                text: string | { text: string };
              }>) {
                if (element.type === 'button' && typeof element.text === 'object')
                  buttons.push(element.text.text);
                else if (typeof element.text === 'string') texts.push(element.text);
              }
            }
            return {
              text: unescapeEntities(texts.join('\n').replace(/```/g, '').replace(/\*/g, '')),
              raw: JSON.stringify(blocks),
              buttons,
            };
          }),
    });
    subjects.telegram = () => ({
      adapter: telegramAdapter,
      thread: { channel: 'telegram', conversation: '456' },
      mark: () => app.telegram.calls.length,
      seenSince: (mark) =>
        app.telegram.calls
          .slice(mark)
          .filter((call) => call.method === 'sendMessage' || call.method === 'editMessageText')
          .map((call) => {
            const keyboard = (
              call.params.reply_markup as { inline_keyboard?: Array<Array<{ text: string }>> } | undefined
            )?.inline_keyboard;
            const raw = String(call.params.text);
            return {
              text: unescapeEntities(raw.replace(/<\/?(b|i|pre)>/g, '')),
              raw,
              buttons: (keyboard ?? []).flat().map((button) => button.text),
            };
          }),
    });
  });

  afterAll(async () => {
    await app.close();
    await databases.closeAll();
  });

  describe.each(['console', 'slack', 'telegram'])('%s adapter', (name) => {
    const subject = () => {
      const make = subjects[name];
      if (!make) throw new Error(`no subject ${name}`);
      return make();
    };

    it('renders a card with its title, fields, body, context and both choices', async () => {
      const { adapter, thread, mark, seenSince } = subject();
      const start = mark();
      const ref = await adapter.post(thread, CARD);
      expect(ref.channel).toBe(adapter.channel);
      const seen = seenSince(start);
      expect(seen.length).toBe(1);
      const shown = seen[0];
      for (const text of [
        'Approval #7',
        'Send an e-mail',
        'To',
        'dana@example.com',
        'Subject',
        'Tuesday',
        'Hello Dana,',
        'Goal #3',
      ]) {
        expect(shown?.text).toContain(text);
      }
      // Approve and Reject first; a platform may add its own (Slack adds Edit, a modal).
      expect(shown?.buttons.slice(0, 2)).toEqual(['Approve', 'Reject']);
    });

    it('replaces a card in place with the decision and no live buttons', async () => {
      const { adapter, thread, mark, seenSince } = subject();
      const ref = await adapter.post(thread, CARD);
      const start = mark();
      await adapter.update(ref, DECIDED);
      const seen = seenSince(start);
      expect(seen.length).toBe(1);
      expect(seen[0]?.text).toContain('Approved by Ada');
      expect(seen[0]?.buttons).toEqual([]);
    });

    it('shows markup-like user text literally (escaped for the platform)', async () => {
      const { adapter, thread, mark, seenSince } = subject();
      const start = mark();
      const text = 'Use <b>bold</b> & <@U123> <!channel>';
      await adapter.post(thread, { text });
      const seen = seenSince(start);
      expect(seen.map((part) => part.text).join('\n')).toContain(text);
      if (adapter.channel !== 'console')
        expect(seen.map((part) => part.raw).join('')).not.toContain('<b>bold');
    });

    it('delivers a 10 000-character message in full', async () => {
      const { adapter, thread, mark, seenSince } = subject();
      const start = mark();
      const text = Array.from(
        { length: 500 },
        (_, index) => `line ${String(index).padStart(4, '0')} of the report`,
      ).join('\n');
      expect(text.length).toBeGreaterThan(10_000);
      await adapter.post(thread, { text });
      const shown = seenSince(start)
        .map((part) => part.text)
        .join('\n');
      expect(shown.replace(/\s+/g, '')).toBe(text.replace(/\s+/g, ''));
    });

    it('renders to its platform format', () => {
      const { adapter } = subject();
      const rendered = adapter.render(CARD);
      expect(rendered).toBeTruthy();
      expect(JSON.stringify(rendered)).toContain('dana@example.com');
    });
  });
});
