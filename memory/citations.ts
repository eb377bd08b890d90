import type { MemoryPointer } from './memory-store.ts';

function sourceLabel(pointer: MemoryPointer): string {
  const source = pointer.source;
  if (source === 'console') return 'in the console';
  if (source === 'slack') return 'in Slack';
  if (source === 'telegram') return 'in Telegram';
  if (source === 'web') return 'in the web console';
  if (source.startsWith('connector:')) return `from the ${source.slice('connector:'.length)} connector`;
  return `from ${source}`;
}

function whoLabel(pointer: MemoryPointer, operatorIdentities: ReadonlySet<string>): string {
  if (pointer.source.startsWith('connector:')) return 'reported';
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
  const ref = pointer.sourceRef ? `, ${pointer.sourceRef}` : '';
  return `• ${pointer.snippet} — ${who} ${where} on ${date} (memory #${pointer.id}${ref})`;
}
