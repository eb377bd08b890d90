import { extname } from 'node:path';
import { SpineError } from '../core/errors.ts';

export type DocumentFormat = 'text' | 'markdown' | 'html' | 'pdf';

/** The format of a file from its name (and, for unknown names, its first bytes). */
export function documentFormat(name: string, bytes: Uint8Array): DocumentFormat {
  const extension = extname(name).toLowerCase();
  if (extension === '.pdf' || Buffer.from(bytes.slice(0, 5)).toString('latin1') === '%PDF-') return 'pdf';
  if (extension === '.md' || extension === '.markdown') return 'markdown';
  if (extension === '.html' || extension === '.htm') return 'html';
  return 'text';
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** Visible text of an HTML page: scripts and styles dropped, block elements as line breaks. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style|noscript|template)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(br|\/p|\/div|\/li|\/h[1-6]|\/tr|\/section|\/article)\b[^>]*>/gi, '\n')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&(#\d+|#x[0-9a-f]+|[a-z]+);/gi, (entity, name: string) => {
      if (name.startsWith('#x')) return String.fromCodePoint(Number.parseInt(name.slice(2), 16));
      if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
      return ENTITIES[name.toLowerCase()] ?? entity;
    })
    .replace(/[ \t]+/g, ' ')
    .replace(/\n\s*\n+/g, '\n\n')
    .trim();
}

/** Markdown as plain text: markup removed, headings and paragraphs kept as lines. */
export function markdownToText(markdown: string): string {
  return markdown
    .replace(/```[^\n]*\n([\s\S]*?)```/g, '$1')
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    .replace(/^#{1,6}\s+/gm, '')
    .replace(/^\s*[-*+]\s+/gm, '• ')
    .replace(/(\*\*|__|\*|_|`)(\S(?:.*?\S)?)\1/g, '$2')
    .trim();
}

/** Extract the text of a document (text, Markdown, HTML or PDF via unpdf). */
export async function documentText(
  name: string,
  bytes: Uint8Array,
): Promise<{ format: DocumentFormat; text: string }> {
  const format = documentFormat(name, bytes);
  if (format === 'pdf') {
    try {
      const { extractText, getDocumentProxy } = await import('unpdf');
      const pdf = await getDocumentProxy(new Uint8Array(bytes));
      const { text } = await extractText(pdf, { mergePages: true });
      return { format, text: String(text).trim() };
    } catch (error) {
      throw new SpineError(
        'memory.pdf_unreadable',
        `I could not read the PDF "${name}": ${(error as Error).message}. Is it a valid, unencrypted PDF?`,
        { category: 'user', cause: error },
      );
    }
  }
  const raw = Buffer.from(bytes).toString('utf8');
  if (format === 'html') return { format, text: htmlToText(raw) };
  if (format === 'markdown') return { format, text: markdownToText(raw) };
  return { format, text: raw.trim() };
}
