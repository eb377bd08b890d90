import type { MemoryPointer } from './memory-store.ts';
import { contentTerms } from './text-normaliser.ts';

function sourceLabel(pointer: MemoryPointer): string {
  const source = pointer.source;
  // A chat channel named in the source ref: "from your message in #sales".
  if ((source === 'slack' || source === 'telegram') && pointer.sourceRef?.startsWith('#'))
    return `in ${pointer.sourceRef.split(/\s/)[0]}`;
  if (source.startsWith('document:')) {
    const part = typeof pointer.chunkIndex === 'number' ? `, part ${pointer.chunkIndex + 1}` : '';
    return `from the document “${source.slice('document:'.length)}”${part}`;
  }
  if (source === 'console') return 'in the console';
  if (source === 'email') return 'in an e-mail';
  if (source === 'slack') return 'in Slack';
  if (source === 'telegram') return 'in Telegram';
  if (source === 'web') return 'in the web console';
  if (source.startsWith('connector:')) return `from the ${source.slice('connector:'.length)} connector`;
  return `from ${source}`;
}

function whoLabel(pointer: MemoryPointer, operatorIdentities: ReadonlySet<string>): string {
  if (pointer.source.startsWith('connector:')) return 'reported';
  if (pointer.source.startsWith('document:')) return 'read';
  return operatorIdentities.has(pointer.assertedBy) || pointer.assertedBy === 'operator'
    ? 'you told me'
    : `${pointer.assertedBy} said`;
}

/**
 * One cited line per memory: the snippet, where it came from, who said it and when.
 *
 * @example "• Dana prefers calls before 10 — you told me in the console on 25 Nov 2026 (memory #4)"
 */
export function citeMemory(
  pointer: MemoryPointer,
  timezone: string,
  operatorIdentities: ReadonlySet<string> = new Set(),
): string {
  const date = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    day: 'numeric',
    month: 'short',
    year: 'numeric',
  }).format(new Date(pointer.occurredAt));
  const who = whoLabel(pointer, operatorIdentities);
  const where = sourceLabel(pointer);
  const ref = pointer.sourceRef && !pointer.source.startsWith('document:') ? `, ${pointer.sourceRef}` : '';
  // A signed memory whose row was altered is shown, but flagged and not trusted.
  const flag = pointer.verified === false ? ' ⚠ altered after it was written — not trusted' : '';
  return `• ${pointer.snippet} — ${who} ${where} on ${date} (memory #${pointer.id}${ref})${flag}`;
}

/**
 * Whether a memory's text shares a content word (stemmed, stop words left out) with `text`: what
 * makes a retrieved memory related to it rather than merely near it.
 */
export function sharesContentWord(text: string): (snippet: string) => boolean {
  const terms = new Set(contentTerms(text));
  return (snippet) => contentTerms(snippet).some((term) => terms.has(term));
}

/**
 * A short "this relates to …" line when a new goal touches something remembered (it shares a content
 * word with it), or null. Used when the reply does not already cite the memory.
 */
export function relatedMemoryLine(
  pointers: MemoryPointer[],
  goalText: string,
  reply: string,
  timezone: string,
): string | null {
  const touches = sharesContentWord(goalText);
  const related = pointers.find(
    (pointer) =>
      pointer.kind !== 'episode' &&
      !reply.includes(`memory #${pointer.id}`) &&
      !reply.includes(pointer.snippet) &&
      touches(pointer.snippet),
  );
  if (!related) return null;
  const date = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    day: 'numeric',
    month: 'short',
  }).format(new Date(related.occurredAt));
  return `Related, from memory: “${related.snippet}” (memory #${related.id}, ${date}).`;
}
