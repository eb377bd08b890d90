import { describe, expect, it } from 'vitest';
import { hasCode } from '../../core/errors.ts';
import { evaluate, renderTemplate, resolveValue } from '../../playbooks/expressions.ts';
import { parsePlaybook } from '../../playbooks/playbook-parse.ts';
import { cronOf, fireTimesBetween } from '../../playbooks/schedule-pattern.ts';

const VALID = `name: reminders
description: Chase unpaid invoices
trigger:
  schedule: { every: friday, at: "16:00" }
steps:
  - id: invoices
    action: { connector: payments, operation: list_unpaid_invoices }
  - id: drafts
    forEach: steps.invoices.invoices
    draft:
      template: "Hello {{ $item.customerName }}, invoice {{ $item.number }} is due."
`;

function problemsOf(source: string): string[] {
  try {
    parsePlaybook(source, 'invoices.yaml');
  } catch (error) {
    if (hasCode(error, 'playbook.invalid')) return error.details.problems as string[];
    throw error;
  }
  return [];
}

describe('playbook format', () => {
  it('accepts a valid playbook and hashes its source', () => {
    const parsed = parsePlaybook(VALID);
    expect(parsed.playbook.name).toBe('reminders');
    expect(parsed.playbook.steps).toHaveLength(2);
    expect(parsed.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names the line and the field of a wrong parameter', () => {
    const source = VALID.replace(
      '    action: { connector: payments, operation: list_unpaid_invoices }',
      '    action:\n      connector: payments\n      operation: list_unpaid_invoices\n      params: 5',
    );
    expect(problemsOf(source)).toEqual([
      'invoices.yaml line 10, steps[0].action.params: expected record, received number',
    ]);
  });

  it('reports the field of the step kind the author meant, not a generic union error', () => {
    const source = `${VALID}  - id: later\n    wait: { for: "two weeks" }\n`;
    expect(problemsOf(source)).toEqual([
      'invoices.yaml line 13, steps[2].wait.for: expected a duration like "2h", "30m" or "1d"',
    ]);
  });

  it('reports unknown fields, missing fields and YAML syntax errors with their lines', () => {
    expect(problemsOf(VALID.replace('description: Chase unpaid invoices\n', 'descripton: typo\n'))).toEqual([
      'invoices.yaml line 1, description: expected string, received undefined',
      'invoices.yaml line 2, descripton: unknown field',
    ]);
    const syntax = problemsOf('name: x\n  bad: [\n');
    expect(syntax[0]).toMatch(/^invoices\.yaml line \d+: /);
  });

  it('reports an expression that does not compile, and duplicate step ids', () => {
    const source = `${VALID}  - id: drafts\n    checkpoint: { message: "Send {{ $count( }}?" }\n`;
    const problems = problemsOf(source);
    expect(problems[0]).toBe('invoices.yaml line 12, steps[2].id: the id “drafts” is used twice');
    expect(problems[1]).toMatch(
      /^invoices\.yaml line 13, steps\[2\]\.checkpoint\.message: the expression “\$count\(” is not valid/,
    );
  });
});

describe('playbook expressions', () => {
  const scope = {
    trigger: { from: 'dana@example.com' },
    inputs: { limit: 3 },
    steps: {
      invoices: {
        invoices: [
          { number: 'A-1', amountDue: 1200 },
          { number: 'A-2', amountDue: 800 },
        ],
      },
    },
    playbook: { name: 'reminders', now: '2026-11-27T16:00:00.000Z' },
  };

  it('evaluates JSONata over trigger, inputs and steps', async () => {
    expect(await evaluate('$sum(steps.invoices.invoices.amountDue)', scope)).toBe(2000);
    expect(await evaluate('{{ trigger.from }}', scope)).toBe('dana@example.com');
  });

  it('renders templates and keeps the type of a whole-string expression', async () => {
    expect(await renderTemplate('{{ $count(steps.invoices.invoices) }} invoices', scope)).toBe('2 invoices');
    expect(await resolveValue({ limit: '{{ inputs.limit }}', to: 'x {{ trigger.from }}' }, scope)).toEqual({
      limit: 3,
      to: 'x dana@example.com',
    });
    expect(
      await resolveValue('{{ steps.invoices.invoices[$index].number }}', scope, { item: null, index: 1 }),
    ).toBe('A-2');
  });

  it('refuses to run JavaScript: expressions are JSONata, never eval', async () => {
    // Names resolve against the scope only: there is no `process`, `require` or prototype to reach.
    expect(await evaluate('process.exit(1)', scope)).toBeUndefined();
    expect(await evaluate('constructor.constructor', scope)).toBeUndefined();
    await expect(evaluate('$count(', scope)).rejects.toThrow(/The expression “\$count\(” failed/);
  });

  it('stops an expression that recurses or loops without end, with a clear error', async () => {
    // Non-tail recursion: the stack guard.
    await expect(evaluate('($f := function($n) { 1 + $f($n + 1) }; $f(0))', scope)).rejects.toThrow(
      /Stack overflow[\s\S]*simplify it/,
    );
    // Tail recursion runs in constant depth (JSONata trampolines it): the time guard.
    await expect(
      evaluate('($loop := function($n) { $n > 0 ? $loop($n - 1) : 0 }; $loop(1000000000))', scope),
    ).rejects.toThrow(/timeout after 1000 milliseconds[\s\S]*may run for 1 s/);
    // A huge range: the sequence guard.
    await expect(evaluate('$count([1..5000000])', scope)).rejects.toThrow(/failed[\s\S]*simplify it/);
    // Ordinary work still runs.
    expect(await evaluate('$sum([1..1000])', scope)).toBe(500500);
  });
});

describe('schedule patterns', () => {
  it('turns every/at into cron and fires in the operator time zone', () => {
    expect(cronOf({ every: 'friday', at: '16:00' })).toBe('0 16 * * 5');
    expect(cronOf({ every: 'weekday', at: '09:30' })).toBe('30 9 * * 1-5');
    const fires = fireTimesBetween(
      '0 16 * * 5',
      'Europe/Paris',
      new Date('2026-11-20T00:00:00Z'),
      new Date('2026-12-05T00:00:00Z'),
    );
    expect(fires.map((at) => at.toISOString())).toEqual([
      '2026-11-20T15:00:00.000Z',
      '2026-11-27T15:00:00.000Z',
      '2026-12-04T15:00:00.000Z',
    ]);
  });
});
