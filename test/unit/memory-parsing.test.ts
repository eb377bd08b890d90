import { describe, expect, it } from 'vitest';
import { parseChatCommand } from '../../core/commands.ts';
import { chunkText } from '../../memory/document-ingest.ts';
import { htmlToText, markdownToText } from '../../memory/document-parser.ts';
import { parseFact } from '../../memory/fact-parser.ts';
import { ProvenanceSigner } from '../../memory/provenance-signer.ts';
import { parseTimeWindow } from '../../memory/time-window.ts';

const NOW = new Date('2026-05-20T10:00:00Z'); // a Wednesday

describe('time windows in questions', () => {
  it.each([
    ['what happened last week?', '2026-05-11', '2026-05-18'],
    ['anything yesterday', '2026-05-19', '2026-05-20'],
    ['what did we agree in May?', '2026-05-01', '2026-06-01'],
    ['invoices from November', '2025-11-01', '2025-12-01'],
    ['the trip in March 2024', '2024-03-01', '2024-04-01'],
    ['what did I do last month', '2026-04-01', '2026-05-01'],
    ['projects in 2025', '2025-01-01', '2026-01-01'],
  ])('%s', (query, since, until) => {
    const window = parseTimeWindow(query, NOW);
    expect(window?.since.toISOString().slice(0, 10)).toBe(since);
    expect(window?.until.toISOString().slice(0, 10)).toBe(until);
  });

  it('does not read "may" the verb as a month', () => {
    expect(parseTimeWindow('may I ask about the invoice?', NOW)).toBeNull();
  });
});

describe('facts, documents and commands', () => {
  it('recognises subject/attribute/value facts', () => {
    expect(parseFact("Dana's phone is 555-0100.")).toEqual({
      subject: 'Dana',
      attribute: 'phone',
      value: '555-0100',
    });
    expect(parseFact('the rent of the studio is 900 EUR')).toEqual({
      subject: 'the studio',
      attribute: 'rent',
      value: '900 EUR',
    });
    expect(parseFact('Dana prefers calls before 10')).toBeNull();
  });

  it('chunks long text with overlap and keeps every sentence', () => {
    const text = Array.from({ length: 40 }, (_, index) => `Sentence number ${index} is here.`).join(' ');
    const chunks = chunkText(text, 200, 40);
    expect(chunks.length).toBeGreaterThan(4);
    for (let index = 0; index < 40; index += 1) {
      expect(chunks.some((chunk) => chunk.includes(`Sentence number ${index} is here.`))).toBe(true);
    }
    expect(chunks.every((chunk) => chunk.length <= 240)).toBe(true);
  });

  it('extracts visible text from HTML and Markdown', () => {
    expect(htmlToText('<p>Hello &amp; <b>welcome</b></p><script>x()</script>')).toBe('Hello & welcome');
    expect(markdownToText('# Title\n\nSee [the docs](http://x) and **bold**.')).toBe(
      'Title\n\nSee the docs and bold.',
    );
  });

  it('parses the memory chat commands, keeping the case of paths', () => {
    expect(parseChatCommand('forget the gym membership')).toEqual({
      kind: 'forget',
      query: 'the gym membership',
    });
    expect(parseChatCommand('forget confirm #12')).toEqual({
      kind: 'forget_decide',
      requestId: 12,
      confirm: true,
    });
    expect(parseChatCommand('cancel forget')).toEqual({
      kind: 'forget_decide',
      requestId: null,
      confirm: false,
    });
    expect(parseChatCommand('ingest /Users/Ada/Notes.PDF')).toEqual({
      kind: 'ingest',
      path: '/Users/Ada/Notes.PDF',
    });
    expect(parseChatCommand("don't forget the milk")).toBeNull();
  });

  it('signs and verifies provenance; any change breaks the signature', () => {
    const signer = new ProvenanceSigner('a-very-secret-signing-key');
    const fields = {
      operatorId: 1,
      kind: 'note',
      subject: null,
      attribute: null,
      content: 'Invoice due 30 May',
      source: 'connector:email',
      sourceRef: 'msg 1',
      assertedBy: 'connector:email',
      occurredAt: '2026-05-20T10:00:00.000Z',
      sensitivity: 'normal',
    };
    const signature = signer.sign(fields);
    expect(signer.verify(fields, signature)).toBe(true);
    expect(signer.verify({ ...fields, content: 'Invoice due 1 May' }, signature)).toBe(false);
    expect(signer.verify(fields, null)).toBe(false);
    expect(new ProvenanceSigner('another-signing-key-xyz').verify(fields, signature)).toBe(false);
  });
});
