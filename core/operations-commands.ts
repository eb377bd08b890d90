import { type LocalTime, parseLocalTime } from './local-time.ts';

/**
 * Chat commands about Spine's own operation (README.md, "Queue mode and the daily digest"): the digest and failures.
 * Kept apart from core/commands.ts so the goal commands stay one list.
 */
export type OperationsCommand =
  | { kind: 'digest-now' }
  | { kind: 'digest-at'; time: LocalTime }
  | { kind: 'failure'; choice: 'retry' | 'dismiss'; failureId: number | null };

export function parseOperationsCommand(input: string): OperationsCommand | null {
  const text = input.trim().replace(/^\//, '').toLowerCase();
  if (/^(digest|digest now|send (me )?(the |my )?digest( now)?)$/.test(text)) return { kind: 'digest-now' };
  const at = /^(?:digest|send (?:me )?(?:the |my )?digest)\s+(?:at|every day at|daily at)\s+(.+)$/.exec(text);
  if (at) {
    const time = parseLocalTime(at[1] ?? '');
    return time ? { kind: 'digest-at', time } : null;
  }
  const failure = /^(retry|dismiss)(?:\s+(?:failure\s+)?#?(\d+))?$/.exec(text);
  if (failure) {
    return {
      kind: 'failure',
      choice: failure[1] === 'retry' ? 'retry' : 'dismiss',
      failureId: failure[2] ? Number(failure[2]) : null,
    };
  }
  return null;
}

/** Help lines for these commands. */
export const OPERATIONS_HELP = [
  '• digest — your digest now; digest at 7:30 — when the daily digest comes',
  '• retry / dismiss [#id] — answer the most recent failure',
].join('\n');
