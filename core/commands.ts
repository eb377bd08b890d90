/**
 * Chat commands answered at once, without starting a goal: they read state or decide an approval.
 * Everything else a user says becomes a goal for the planner.
 */
export type ChatCommand =
  | { kind: 'help' }
  | { kind: 'status' }
  | { kind: 'log'; limit: number }
  | { kind: 'usage' }
  | { kind: 'decide'; decision: 'approved' | 'rejected'; approvalId: number | null };

const DEFAULT_LOG_LIMIT = 30;

export function parseChatCommand(input: string): ChatCommand | null {
  const text = input.trim().replace(/^\//, '').toLowerCase();
  if (/^(help|\?|commands|what can you do\??)$/.test(text)) return { kind: 'help' };
  if (/^(status|what'?s (pending|open)\??)$/.test(text)) return { kind: 'status' };
  if (/^(usage|costs?|spend(ing)?|budget)\??$/.test(text)) return { kind: 'usage' };
  const log = /^(?:log|history|story)(?:\s+(\d{1,4}))?$/.exec(text);
  if (log) return { kind: 'log', limit: log[1] ? Number(log[1]) : DEFAULT_LOG_LIMIT };
  // "1"/"2" answer the numbered choices of the most recent card.
  if (text === '1') return { kind: 'decide', decision: 'approved', approvalId: null };
  if (text === '2') return { kind: 'decide', decision: 'rejected', approvalId: null };
  const decide = /^(approve|approved|yes|ok|reject|rejected|no|deny)(?:\s+#?(\d+))?$/.exec(text);
  if (decide) {
    const approve = ['approve', 'approved', 'yes', 'ok'].includes(decide[1] ?? '');
    return {
      kind: 'decide',
      decision: approve ? 'approved' : 'rejected',
      approvalId: decide[2] ? Number(decide[2]) : null,
    };
  }
  return null;
}

/** The help text: the offline command language, with the natural phrasings it accepts. */
export const HELP_TEXT = [
  'Here is what I understand without a language model:',
  '• remember <text> — store a fact ("remember that Dana prefers calls before 10")',
  '• recall <query> — search my memory ("what do you know about Dana?")',
  '• email <address> "<subject>" <body> — draft an e-mail; I show it and wait for your approval',
  '  (also: send an email to <address> about <subject>: <body>)',
  '• approve / reject [#id] — answer the most recent approval card (or 1 / 2)',
  '• status — open goals and pending approvals',
  '• log [n] — the story of what happened, newest last',
  '• usage — language-model calls, tokens and cost today, against the daily budget',
  '• help — this list',
].join('\n');
