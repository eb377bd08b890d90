/** An e-mail as Spine keeps it: who, to whom, when, about what, and the text (quoted replies trimmed). */
export interface NormalisedEmail {
  /** The Message-ID without angle brackets, or null when the message has none. */
  messageId: string | null;
  from: { name: string | null; address: string };
  to: string[];
  subject: string;
  date: Date | null;
  text: string;
}

type Headers = Map<string, string>;

const MAX_TEXT_CHARS = 100_000;

/** Split raw bytes (as a latin1 string, one char per byte) into headers and body. */
function splitMessage(raw: string): { headers: Headers; body: string } {
  const match = /\r?\n\r?\n/.exec(raw);
  const head = match ? raw.slice(0, match.index) : raw;
  const body = match ? raw.slice(match.index + match[0].length) : '';
  const headers: Headers = new Map();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    // The first occurrence wins (a forged later header does not override).
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { headers, body };
}

function decodeCharset(bytes: Buffer, charset: string | undefined): string {
  const label = (charset ?? 'utf-8').trim().toLowerCase();
  try {
    return new TextDecoder(label === 'us-ascii' ? 'utf-8' : label).decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

function decodeQuotedPrintable(text: string): Buffer {
  const joined = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let index = 0; index < joined.length; index += 1) {
    const char = joined.charCodeAt(index);
    const hex = joined.slice(index + 1, index + 3);
    if (char === 0x3d && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      index += 2;
    } else {
      bytes.push(char & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** RFC 2047 encoded words (`=?utf-8?B?…?=`) in a header, as text. */
export function decodeHeader(value: string): string {
  // Raw 8-bit header bytes are almost always UTF-8 today; encoded words are plain ASCII.
  const raw = decodeCharset(Buffer.from(value, 'latin1'), 'utf-8');
  return raw
    .replace(
      /=\?([^?]+)\?([BbQq])\?([^?]*)\?=(\s+(?==\?))?/g,
      (_whole, charset: string, encoding: string, text: string) => {
        const bytes =
          encoding.toUpperCase() === 'B'
            ? Buffer.from(text, 'base64')
            : decodeQuotedPrintable(text.replace(/_/g, ' '));
        return decodeCharset(bytes, charset.split('*')[0]);
      },
    )
    .trim();
}

/** `type/subtype; a=b; c="d"` → the lower-case type and its parameters. */
function parseContentType(value: string | undefined): { type: string; params: Record<string, string> } {
  const [type, ...rest] = (value ?? 'text/plain').split(';');
  const params: Record<string, string> = {};
  for (const part of rest) {
    const equals = part.indexOf('=');
    if (equals <= 0) continue;
    params[part.slice(0, equals).trim().toLowerCase()] = part
      .slice(equals + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
  }
  return { type: (type ?? 'text/plain').trim().toLowerCase(), params };
}

function decodeBody(body: string, headers: Headers, charset: string | undefined): string {
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const bytes =
    encoding === 'base64'
      ? Buffer.from(body.replace(/\s+/g, ''), 'base64')
      : encoding === 'quoted-printable'
        ? decodeQuotedPrintable(body)
        : Buffer.from(body, 'latin1');
  return decodeCharset(bytes, charset);
}

function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|li|tr|h\d)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

/** The text of a part: text/plain first, text/html (as text) otherwise, attachments skipped. */
function textOf(headers: Headers, body: string, depth = 0): { plain: string | null; html: string | null } {
  const contentType = parseContentType(headers.get('content-type'));
  const attachment = /^\s*attachment/i.test(headers.get('content-disposition') ?? '');
  if (contentType.type.startsWith('multipart/') && contentType.params.boundary && depth < 8) {
    const boundary = `--${contentType.params.boundary}`;
    const parts = body.split(boundary).slice(1);
    let plain: string | null = null;
    let html: string | null = null;
    for (const part of parts) {
      if (part.startsWith('--')) break;
      const inner = splitMessage(part.replace(/^\r?\n/, ''));
      const found = textOf(inner.headers, inner.body.replace(/\r?\n$/, ''), depth + 1);
      plain ??= found.plain;
      html ??= found.html;
    }
    return { plain, html };
  }
  if (attachment) return { plain: null, html: null };
  if (contentType.type === 'text/plain')
    return { plain: decodeBody(body, headers, contentType.params.charset), html: null };
  if (contentType.type === 'text/html')
    return { plain: null, html: htmlToText(decodeBody(body, headers, contentType.params.charset)) };
  return { plain: null, html: null };
}

/** Drop quoted replies lightly: `>` lines, and everything after "On … wrote:" or an "Original Message" line. */
export function stripQuotedReply(text: string): string {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const kept: string[] = [];
  for (const [index, line] of lines.entries()) {
    const next = lines[index + 1] ?? '';
    if (/^-{2,}\s*Original Message\s*-{2,}/i.test(line)) break;
    if (
      /^On .+wrote:\s*$/.test(line) ||
      (/^On .+/.test(line) && /^.*wrote:\s*$/.test(next) && !next.startsWith('>'))
    )
      break;
    if (/^\s*>/.test(line)) continue;
    kept.push(line.trimEnd());
  }
  return kept
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** `"Dana Scully" <dana@example.com>` → name and address. */
export function parseAddress(value: string): { name: string | null; address: string } {
  const angle = /^(.*)<([^>]+)>\s*$/.exec(value.trim());
  if (angle) {
    const name = decodeHeader((angle[1] ?? '').trim().replace(/^"(.*)"$/, '$1'));
    return { name: name || null, address: (angle[2] ?? '').trim().toLowerCase() };
  }
  return { name: null, address: value.trim().replace(/^"|"$/g, '').toLowerCase() };
}

/** A list of addresses, split on commas outside quotes and angle brackets. */
function parseAddressList(value: string | undefined): string[] {
  if (!value) return [];
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let angle = false;
  for (const char of value) {
    if (char === '"') quoted = !quoted;
    if (char === '<' && !quoted) angle = true;
    if (char === '>' && !quoted) angle = false;
    if (char === ',' && !quoted && !angle) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => parseAddress(part).address);
}

/**
 * Parse a raw RFC 5322 message (text/plain, text/html and nested multipart; base64 and
 * quoted-printable; any charset TextDecoder knows) into Spine's normalised e-mail.
 */
export function parseEmail(raw: Buffer | string): NormalisedEmail {
  const { headers, body } = splitMessage(typeof raw === 'string' ? raw : raw.toString('latin1'));
  const found = textOf(headers, body);
  const text = stripQuotedReply(found.plain ?? found.html ?? '');
  const dateHeader = headers.get('date');
  const date = dateHeader ? new Date(dateHeader) : null;
  const messageId = /<([^>]+)>/.exec(headers.get('message-id') ?? '')?.[1] ?? null;
  return {
    messageId,
    from: parseAddress(headers.get('from') ?? ''),
    to: parseAddressList(headers.get('to')),
    subject: decodeHeader(headers.get('subject') ?? ''),
    date: date && !Number.isNaN(date.getTime()) ? date : null,
    text: text.length > MAX_TEXT_CHARS ? `${text.slice(0, MAX_TEXT_CHARS - 1)}…` : text,
  };
}
