import { describe, expect, it } from 'vitest';
import { renderForConsole } from '../../bot/console/render.ts';
import type { Action, Failure } from '../../core/domain.ts';
import { failureCard, parseFailureButton } from '../../core/failure-card.ts';
import { parseAssignments, parseFailureCommand } from '../../ledger/failure-commands.ts';
import { remediesFor } from '../../ledger/failure-remedies.ts';

function action(overrides: Partial<Action>): Action {
  return {
    id: 1,
    goalId: 1,
    operatorId: 1,
    connector: 'email',
    operation: 'send',
    params: { to: 'dana@example.com', subject: 'Hi', attachments: [] },
    risk: 'write',
    reversible: false,
    idempotencyKey: 'k',
    preview: { title: 't', doing: 'd', done: 'dn', fields: [] },
    why: '',
    status: 'failed',
    result: null,
    error: null,
    createdAt: new Date(0),
    executedAt: null,
    ...overrides,
  };
}

describe('failure commands', () => {
  it('parses the typed remedies, leaving `undo #12` to the action undo', () => {
    expect(parseFailureCommand('failures')).toEqual({ kind: 'list' });
    expect(parseFailureCommand('open failures')).toEqual({ kind: 'list' });
    expect(parseFailureCommand('retry')).toEqual({ kind: 'remedy', remedy: 'retry', failureId: null });
    expect(parseFailureCommand('retry failure #4')).toEqual({
      kind: 'remedy',
      remedy: 'retry',
      failureId: 4,
    });
    expect(parseFailureCommand('undo failure #4')).toEqual({ kind: 'remedy', remedy: 'undo', failureId: 4 });
    expect(parseFailureCommand('undo #12')).toBeNull();
    expect(parseFailureCommand('dismiss #4 because it was a duplicate.')).toEqual({
      kind: 'remedy',
      remedy: 'dismiss',
      failureId: 4,
      reason: 'it was a duplicate',
    });
    expect(parseFailureCommand('dismiss')).toEqual({ kind: 'remedy', remedy: 'dismiss', failureId: null });
    expect(parseFailureCommand('edit failure #4 subject="Re: \\"quote\\"" to=dana@example.com')).toEqual({
      kind: 'remedy',
      remedy: 'edit',
      failureId: 4,
      values: { subject: 'Re: "quote"', to: 'dana@example.com' },
    });
    expect(parseFailureCommand('edit failure #4')).toEqual({
      kind: 'remedy',
      remedy: 'edit',
      failureId: 4,
      values: {},
    });
    expect(parseFailureCommand('edit failure #4 subject="unterminated')).toBeNull();
    expect(parseFailureCommand('retry the invoice')).toBeNull();
    expect(parseAssignments("a='one two' b=3")).toEqual({ a: 'one two', b: '3' });
  });

  it('parses only well-formed failure buttons', () => {
    expect(parseFailureButton('failure:undo:3')).toEqual({ choice: 'undo', failureId: 3 });
    expect(parseFailureButton('failure:edit:3')).toEqual({ choice: 'edit', failureId: 3 });
    expect(parseFailureButton('failure:pay:3')).toBeNull();
  });

  it('offers only the remedies that make sense', () => {
    const now = new Date(10_000);
    const base = { kind: 'action_failed', now, undoWindowMs: 5_000, retryable: true };
    const failed = action({});
    const ran = action({ id: 2, reversible: true, status: 'succeeded', executedAt: new Date(8_000) });
    expect(remediesFor({ ...base, action: failed, goalActions: [failed, ran] })).toEqual([
      'retry',
      'undo',
      'edit',
      'dismiss',
    ]);
    // Outside the undo window, or already undone: no Undo.
    const old = { ...ran, executedAt: new Date(1_000) };
    expect(remediesFor({ ...base, action: failed, goalActions: [failed, old] })).not.toContain('undo');
    const undo = action({ id: 3, undoOf: 2, status: 'succeeded', params: { params: {}, result: null } });
    expect(remediesFor({ ...base, action: failed, goalActions: [failed, ran, undo] })).not.toContain('undo');
    // A failed undo has nothing to edit; a digest job can only be retried or dismissed.
    expect(remediesFor({ ...base, action: undo, goalActions: [] })).toEqual(['retry', 'dismiss']);
    expect(remediesFor({ ...base, kind: 'digest_failed', action: null, goalActions: [] })).toEqual([
      'retry',
      'dismiss',
    ]);
  });

  it('shows each offered remedy as a button on one card', () => {
    const failure: Failure = {
      id: 7,
      goalId: 1,
      actionId: 1,
      operatorId: 1,
      kind: 'action_failed',
      message: 'I could not finish sending: 550',
      evidence: {},
      remediation: ['retry', 'undo', 'edit', 'dismiss'],
      status: 'open',
      createdAt: new Date(0),
    };
    const card = failureCard(failure);
    expect(card.blocks?.at(-1)).toEqual({
      type: 'buttons',
      buttons: [
        { action: 'failure:retry:7', label: 'Retry', style: 'primary' },
        { action: 'failure:undo:7', label: 'Undo what was done' },
        { action: 'failure:edit:7', label: 'Edit and retry' },
        { action: 'failure:dismiss:7', label: 'Dismiss' },
      ],
    });
  });

  it('tells the console what to type for each button', () => {
    const text = renderForConsole({
      text: 'x',
      blocks: [
        {
          type: 'buttons',
          buttons: [
            { action: 'failure:retry:7', label: 'Retry' },
            { action: 'failure:undo:7', label: 'Undo what was done' },
            { action: 'failure:edit:7', label: 'Edit and retry' },
            { action: 'renormalize:apply:email:2', label: 'Confirm' },
          ],
        },
      ],
    });
    expect(text).toContain('[Retry: type `retry 7`]');
    expect(text).toContain('[Undo what was done: type `undo failure 7`]');
    expect(text).toContain('[Edit and retry: type `edit failure 7 field="…"`]');
    expect(text).toContain('[Confirm: type `renormalize email confirm`]');
  });
});
