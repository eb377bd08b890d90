/** The `playbook …` commands of chat and the CLI (`spine playbook …`). */
export type PlaybookCommand =
  | { kind: 'list' }
  | { kind: 'show'; name: string }
  | { kind: 'add'; source: string }
  | { kind: 'enable'; name: string }
  | { kind: 'disable'; name: string }
  | { kind: 'shadow'; name: string; days: number; live: boolean }
  | { kind: 'run'; name: string }
  | { kind: 'propose'; description: string }
  | { kind: 'decide'; playbookId: number; approve: boolean };

const DEFAULT_SHADOW_DAYS = 7;

/** Parse a playbook command; null when the text is not one. `run <name>` is accepted without the prefix. */
export function parsePlaybookCommand(input: string): PlaybookCommand | null {
  const text = input.trim().replace(/^\//, '');
  const run = /^(?:playbook\s+)?run\s+([a-z0-9][a-z0-9-]{0,62})$/i.exec(text);
  if (run) return { kind: 'run', name: (run[1] ?? '').toLowerCase() };
  if (/^playbooks?(\s+list)?$/i.test(text)) return { kind: 'list' };
  const add = /^playbook\s+add\s+([\s\S]+)$/i.exec(text);
  if (add) return { kind: 'add', source: (add[1] ?? '').replace(/^```(?:ya?ml)?\n?|```$/g, '').trim() };
  const propose = /^playbook\s+(?:new|propose)\s+([\s\S]+)$/i.exec(text);
  if (propose) return { kind: 'propose', description: (propose[1] ?? '').trim() };
  const decide = /^playbook\s+(approve|reject)\s+#?(\d{1,15})$/i.exec(text);
  if (decide)
    return { kind: 'decide', playbookId: Number(decide[2]), approve: decide[1]?.toLowerCase() === 'approve' };
  const shadow =
    /^playbook\s+shadow\s+([a-z0-9][a-z0-9-]{0,62})(?:\s+(live))?(?:\s+(?:days\s+(\d{1,3})|(\d{1,3})\s+days?))?$/i.exec(
      text,
    );
  if (shadow) {
    const days = Number(shadow[3] ?? shadow[4] ?? DEFAULT_SHADOW_DAYS);
    return {
      kind: 'shadow',
      name: (shadow[1] ?? '').toLowerCase(),
      days: Math.max(1, Math.min(days, 90)),
      live: Boolean(shadow[2]),
    };
  }
  const named = /^playbook\s+(show|enable|disable)\s+([a-z0-9][a-z0-9-]{0,62})$/i.exec(text);
  if (named) {
    const kind = (named[1] ?? '').toLowerCase() as 'show' | 'enable' | 'disable';
    return { kind, name: (named[2] ?? '').toLowerCase() };
  }
  return null;
}

/** A chat button of a proposed playbook: `playbook:<approve|reject>:<id>`. */
export function playbookButtonAction(approve: boolean, playbookId: number): string {
  return `playbook:${approve ? 'approve' : 'reject'}:${playbookId}`;
}

export function parsePlaybookButton(action: string): { playbookId: number; approve: boolean } | null {
  const match = /^playbook:(approve|reject):(\d{1,15})$/.exec(action);
  return match ? { playbookId: Number(match[2]), approve: match[1] === 'approve' } : null;
}

/** Help lines for `help`. */
export const PLAYBOOK_HELP = [
  'Playbooks (recurring work as YAML workflows; see README "Playbooks"):',
  '• playbook list — your playbooks; playbook show <name> — its YAML, version, webhook and runs',
  '• playbook add <yaml or path> — add a playbook or a new version (added disabled)',
  '• playbook shadow <name> [days N] — what it would have done over the last N days, nothing executed',
  '• playbook shadow <name> live N days — simulate its live triggers for N days',
  '• playbook enable|disable <name> — switch it on or off; run <name> — run it now',
  '• playbook new <what it should do> — a model drafts a playbook for your approval',
].join('\n');
