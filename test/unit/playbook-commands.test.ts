import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePlaybookCommand } from '../../playbooks/playbook-command.ts';
import { stepKind } from '../../playbooks/playbook-format.ts';
import { parsePlaybook } from '../../playbooks/playbook-parse.ts';

describe('playbook chat commands', () => {
  it('parses every form', () => {
    expect(parsePlaybookCommand('playbook list')).toEqual({ kind: 'list' });
    expect(parsePlaybookCommand('playbooks')).toEqual({ kind: 'list' });
    expect(parsePlaybookCommand('playbook show Reminders')).toEqual({ kind: 'show', name: 'reminders' });
    expect(parsePlaybookCommand('playbook enable reminders')).toEqual({ kind: 'enable', name: 'reminders' });
    expect(parsePlaybookCommand('/playbook disable reminders')).toEqual({
      kind: 'disable',
      name: 'reminders',
    });
    expect(parsePlaybookCommand('run reminders')).toEqual({ kind: 'run', name: 'reminders' });
    expect(parsePlaybookCommand('playbook run reminders')).toEqual({ kind: 'run', name: 'reminders' });
    expect(parsePlaybookCommand('playbook shadow reminders')).toEqual({
      kind: 'shadow',
      name: 'reminders',
      days: 7,
      live: false,
    });
    expect(parsePlaybookCommand('playbook shadow reminders days 30')).toEqual({
      kind: 'shadow',
      name: 'reminders',
      days: 30,
      live: false,
    });
    expect(parsePlaybookCommand('playbook shadow reminders live 3 days')).toEqual({
      kind: 'shadow',
      name: 'reminders',
      days: 3,
      live: true,
    });
    expect(parsePlaybookCommand('playbook add ```yaml\nname: x\n```')).toEqual({
      kind: 'add',
      source: 'name: x',
    });
    expect(parsePlaybookCommand('playbook add ./my.yaml')).toEqual({ kind: 'add', source: './my.yaml' });
    expect(parsePlaybookCommand('playbook approve #4')).toEqual({
      kind: 'decide',
      playbookId: 4,
      approve: true,
    });
    expect(parsePlaybookCommand('remember that Dana likes tea')).toBeNull();
    expect(parsePlaybookCommand('run the numbers for me please')).toBeNull();
  });
});

describe('the shipped example playbooks', () => {
  const folder = new URL('../../playbooks/examples/', import.meta.url);
  const files = readdirSync(folder).filter((file) => file.endsWith('.yaml'));

  it('are the three documented ones, and all validate', () => {
    expect(files.sort()).toEqual([
      'inbound-lead-triage.yaml',
      'unpaid-invoice-reminders.yaml',
      'weekly-newsletter.yaml',
    ]);
    const kinds = files.map((file) => {
      const { playbook } = parsePlaybook(readFileSync(new URL(file, folder), 'utf8'), file);
      expect(playbook.name).toBe(file.replace('.yaml', ''));
      return playbook.steps.map(stepKind);
    });
    // Each example asks the operator before anything leaves Spine.
    for (const steps of kinds) expect(steps).toContain('checkpoint');
  });
});
