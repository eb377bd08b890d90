/**
 * Chat commands answered at once, without starting a goal: they read state or decide an approval.
 * Everything else a user says becomes a goal for the planner.
 */
export type ChatCommand =
  | { kind: 'help' }
  | { kind: 'status' }
  /** `args`: the filters after `log` (goal, connector, actor, since, until, text, page), parsed by ledger/. */
  | { kind: 'log'; limit: number; args: string }
  | { kind: 'usage' }
  /** `goal 41` / `goal #41`: the goal step by step (ledger forensics). */
  | { kind: 'goal'; goalId: number }
  /**
   * `approve #12` names its card; a bare word (`approvalId` null: `yes`, `ok`, `approve`, `1`, `no`…)
   * decides only the one pending card of the thread it is typed in, never a money, legal or
   * destructive one (bot/approval-decisions.ts).
   */
  | { kind: 'decide'; decision: 'approved' | 'rejected'; approvalId: number | null }
  | { kind: 'forget'; query: string }
  | { kind: 'forget_decide'; requestId: number | null; confirm: boolean }
  | { kind: 'ingest'; path: string }
  | { kind: 'console' }
  | ConnectorCommand;

/** Commands of the connectors and guardrails: undo, trust, cancel a scheduled action, list connectors. */
export type ConnectorCommand =
  | { kind: 'undo'; actionId: number | null }
  | { kind: 'trust'; grant: { connector: string; operation: string; target: string } | null }
  | { kind: 'untrust'; ruleId: number }
  | { kind: 'cancel'; actionId: number }
  | { kind: 'connectors' }
  | { kind: 'remedy'; remedy: 'retry' | 'dismiss'; failureId: number | null }
  | { kind: 'always_allow'; approvalId: number | null };

/** Parse the connector commands; null for anything else. Targets keep their case (URLs). */
export function parseConnectorCommand(input: string): ConnectorCommand | null {
  const text = input.trim().replace(/^\//, '');
  const undo = /^undo(?:\s+#?(\d{1,15}))?$/i.exec(text);
  if (undo) return { kind: 'undo', actionId: undo[1] ? Number(undo[1]) : null };
  if (/^trust$/i.test(text)) return { kind: 'trust', grant: null };
  const trust = /^trust\s+([a-z0-9_-]+)[\s.]+([a-z0-9_.-]+)\s+(\S+)$/i.exec(text);
  if (trust)
    return {
      kind: 'trust',
      grant: { connector: trust[1] ?? '', operation: trust[2] ?? '', target: trust[3] ?? '' },
    };
  const untrust = /^untrust\s+#?(\d{1,15})$/i.exec(text);
  if (untrust) return { kind: 'untrust', ruleId: Number(untrust[1]) };
  const cancel = /^cancel\s+#?(\d{1,15})$/i.exec(text);
  if (cancel) return { kind: 'cancel', actionId: Number(cancel[1]) };
  if (/^connectors$/i.test(text)) return { kind: 'connectors' };
  // The typed forms of the buttons, for the console: "retry", "dismiss #4", "always allow".
  const remedy = /^(retry|dismiss)(?:\s+(?:failure\s+)?#?(\d{1,15}))?$/i.exec(text);
  if (remedy)
    return {
      kind: 'remedy',
      remedy: remedy[1]?.toLowerCase() === 'retry' ? 'retry' : 'dismiss',
      failureId: remedy[2] ? Number(remedy[2]) : null,
    };
  const always = /^always\s+allow(?:\s+#?(\d{1,15}))?$/i.exec(text);
  if (always) return { kind: 'always_allow', approvalId: always[1] ? Number(always[1]) : null };
  return null;
}

const DEFAULT_LOG_LIMIT = 30;
const LOG_FILTERS =
  /^log\s+((?:goal|connector|actor|by|since|from|until|page|limit|text|verify)\b[\s\S]*|["“'][\s\S]*)$/i;

export function parseChatCommand(input: string): ChatCommand | null {
  const connectorCommand = parseConnectorCommand(input);
  if (connectorCommand) return connectorCommand;
  const text = input.trim().replace(/^\//, '').toLowerCase();
  const memoryCommand = parseMemoryCommand(input.trim().replace(/^\//, ''));
  if (memoryCommand) return memoryCommand;
  if (/^(help|\?|commands|what can you do\??)$/.test(text)) return { kind: 'help' };
  if (/^(status|what'?s (pending|open)\??)$/.test(text)) return { kind: 'status' };
  if (/^(usage|costs?|spend(ing)?|budget)\??$/.test(text)) return { kind: 'usage' };
  if (/^(web )?console( link| login)?$/.test(text)) return { kind: 'console' };
  const log = /^(?:log|history|story)(?:\s+(\d{1,4}))?$/.exec(text);
  const goal = /^goal\s+#?(\d{1,15})$/.exec(text);
  if (goal) return { kind: 'goal', goalId: Number(goal[1]) };
  if (log) return { kind: 'log', limit: log[1] ? Number(log[1]) : DEFAULT_LOG_LIMIT, args: log[1] ?? '' };
  // Only known filter words (or quoted text): "log the call with Dana" stays a request.
  const filtered = LOG_FILTERS.exec(input.trim().replace(/^\//, ''));
  if (filtered) return { kind: 'log', limit: DEFAULT_LOG_LIMIT, args: filtered[1] ?? '' };
  // "1"/"2" answer the numbered choices of the card waiting in this thread.
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

/** `forget <query>`, `forget confirm|cancel [#id]`, `ingest <path>`: the memory commands. */
function parseMemoryCommand(text: string): ChatCommand | null {
  const decide = /^(?:forget\s+(confirm|cancel)|(confirm|cancel)\s+forget)(?:\s+#?(\d+))?$/i.exec(text);
  if (decide) {
    const word = (decide[1] ?? decide[2] ?? '').toLowerCase();
    return {
      kind: 'forget_decide',
      requestId: decide[3] ? Number(decide[3]) : null,
      confirm: word === 'confirm',
    };
  }
  const forget = /^forget\s+(?:about\s+)?(.+)$/is.exec(text);
  if (forget) return { kind: 'forget', query: (forget[1] ?? '').trim() };
  const ingest =
    /^(?:ingest|read|learn)\s+(?:the\s+)?(?:file\s+|document\s+)?(\/\S.*|\.{1,2}\/\S.*|~\/\S.*|\S+\.(?:txt|md|markdown|html?|pdf))$/is.exec(
      text,
    );
  if (ingest) return { kind: 'ingest', path: (ingest[1] ?? '').trim() };
  return null;
}

/** The help text: the offline command language, with the natural phrasings it accepts. */
export const HELP_TEXT = [
  'Here is what I understand without a language model:',
  '• remember <text> — store a fact ("remember that Dana prefers calls before 10")',
  '• recall <query> — search my memory ("what do you know about Dana?")',
  '• any other question ("when does Dana prefer calls?") — I show what I remember about it',
  '• email <address> "<subject>" <body> — draft an e-mail; I show it and wait for your approval',
  '  (also: send an email to <address> about <subject>: <body>)',
  '• call <webhook> {json} — call a configured webhook with that payload (after your approval)',
  '• forget <query> — show what I would forget, then `forget confirm` to delete it',
  '• ingest <path> — read a text, Markdown, HTML or PDF file into memory (console only)',
  '• approve / reject [#id] — answer the approval card waiting in this thread (or yes / ok / 1 / no / 2);',
  '  with several cards in a thread, and always for money, legal and destructive ones: its button or approve #id',
  '• status — open goals and pending approvals',
  '• undo [#id] — undo the last reversible action (or action #id) within the undo window',
  '• trust / untrust <id> — list or revoke "always allow" rules (trust <connector> <operation> <target> adds one)',
  '• cancel #id — cancel a scheduled action before it runs ("at 9:00 tomorrow, email …" schedules one)',
  '• connectors — the connectors and their health',
  '• retry / dismiss [#failure] — answer the latest failure; always allow [#approval] — approve and trust',
  '• log [n] — the story of what happened, newest last; filters: log goal 41 | connector email | actor spine |',
  '  since yesterday | until 2026-11-20 | "dana" | page 2; log verify checks the tamper-evident chain',
  '• goal #id — a goal step by step: what it read, planned, asked, called and what it cost',
  '• usage — language-model calls, tokens and cost today, against the daily budget',
  '• console — a one-time login link to the web console (timeline, goals, approvals, failures, metrics)',
  '• playbook list|show|add|enable|disable|shadow|run — recurring work as playbooks (details below)',
  '• help — this list',
].join('\n');
