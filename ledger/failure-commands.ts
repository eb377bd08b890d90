import type { FailureRemedy } from '../core/failure-card.ts';

/**
 * The typed forms of the failure commands, in chat and the console:
 * `failures`, `retry [#4]`, `undo failure #4`, `edit failure #4 subject="New subject"`,
 * `dismiss #4 because it was a duplicate`; for an action whose outcome is unknown,
 * `it happened #4` and `do it again #4`.
 */
export type FailureCommand =
  | { kind: 'list' }
  | {
      kind: 'remedy';
      remedy: FailureRemedy;
      /** Null: the most recent open failure. */
      failureId: number | null;
      /** Dismiss: why. */
      reason?: string;
      /** Edit: the new values of the failed action's parameters. */
      values?: Record<string, string>;
    };

/** `key="quoted value" other='single' plain=word` → { key: …, other: …, plain: … }; null if malformed. */
export function parseAssignments(text: string): Record<string, string> | null {
  const values: Record<string, string> = {};
  const pattern = /([A-Za-z_][\w.-]*)\s*=\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^\s"']+)\s*/y;
  let rest = text.trim();
  while (rest.length > 0) {
    pattern.lastIndex = 0;
    const match = pattern.exec(rest);
    if (!match) return null;
    const [whole, key = '', raw = ''] = match;
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        return null;
      }
    } else if (raw.startsWith("'")) value = raw.slice(1, -1);
    values[key] = value;
    rest = rest.slice(whole.length);
  }
  return values;
}

const ID = String.raw`(?:\s+(?:failure\s+)?#?(\d{1,15}))?`;

/** Parse a failure command; null for anything else (so `undo #12` stays the action undo). */
export function parseFailureCommand(input: string): FailureCommand | null {
  const text = input.trim().replace(/^\//, '');
  if (/^(?:(?:list|open|show)\s+)?failures$/i.test(text)) return { kind: 'list' };
  const retry = new RegExp(`^retry${ID}$`, 'i').exec(text);
  if (retry) return { kind: 'remedy', remedy: 'retry', failureId: retry[1] ? Number(retry[1]) : null };
  const undo = /^undo\s+failure(?:\s+#?(\d{1,15}))?$/i.exec(text);
  if (undo) return { kind: 'remedy', remedy: 'undo', failureId: undo[1] ? Number(undo[1]) : null };
  const edit = /^edit(?:\s+and\s+retry)?\s+failure(?:\s+#?(\d{1,15}))?(?:\s+(.*))?$/is.exec(text);
  if (edit) {
    const values = parseAssignments(edit[2] ?? '');
    if (!values) return null;
    return {
      kind: 'remedy',
      remedy: 'edit',
      failureId: edit[1] ? Number(edit[1]) : null,
      values,
    };
  }
  const happened = new RegExp(`^(?:it\\s+)?happened${ID}$`, 'i').exec(text);
  if (happened)
    return { kind: 'remedy', remedy: 'happened', failureId: happened[1] ? Number(happened[1]) : null };
  const again = new RegExp(`^(?:do\\s+it\\s+)?again${ID}$`, 'i').exec(text);
  if (again) return { kind: 'remedy', remedy: 'again', failureId: again[1] ? Number(again[1]) : null };
  const dismiss = new RegExp(`^dismiss${ID}(?:\\s*(?:because|as|:|—|-)\\s*(.+))?$`, 'is').exec(text);
  if (dismiss) {
    const reason = dismiss[2]?.trim().replace(/[.!]+$/, '');
    return {
      kind: 'remedy',
      remedy: 'dismiss',
      failureId: dismiss[1] ? Number(dismiss[1]) : null,
      ...(reason ? { reason } : {}),
    };
  }
  return null;
}

/** Help lines of the failure commands. */
export const FAILURES_HELP = [
  '• failures — the open failures with their remedies',
  '• retry [#id] · undo failure #id · edit failure #id subject="…" · dismiss #id because <reason>',
  '• when I cannot tell whether something happened: it happened #id · do it again #id',
].join('\n');
