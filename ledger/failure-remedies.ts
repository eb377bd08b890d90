import type { Action } from '../core/domain.ts';
import type { FailureRemedy } from '../core/failure-card.ts';
import type { Repositories } from '../db/repositories/index.ts';

/** A parameter the operator may change before running a failed action again: top-level text only. */
export interface EditableParam {
  key: string;
  value: string;
}

/**
 * The parameters of an action that can be edited: its top-level text values (the same ones the
 * approval card's Edit offers), in the order its preview shows them. None for an undo.
 */
export function editableParams(action: Action): EditableParam[] {
  if (action.undoOf) return [];
  const rank = (key: string) => {
    const index = action.preview.fields.findIndex((field) => field.label.toLowerCase() === key.toLowerCase());
    return index < 0 ? Number.MAX_SAFE_INTEGER : index;
  };
  return Object.entries(action.params)
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
    .map(([key, value]) => ({ key, value }))
    .sort((a, b) => rank(a.key) - rank(b.key));
}

/**
 * The actions of a goal that already succeeded and can still be undone: reversible, not an undo
 * themselves, not undone yet, and inside the undo window.
 */
export function undoableActions(goalActions: Action[], now: Date, undoWindowMs: number): Action[] {
  const undone = new Set(goalActions.flatMap((action) => (action.undoOf ? [action.undoOf] : [])));
  return goalActions.filter(
    (action) =>
      action.status === 'succeeded' &&
      action.reversible &&
      !action.undoOf &&
      !undone.has(action.id) &&
      action.executedAt !== null &&
      now.getTime() - action.executedAt.getTime() <= undoWindowMs,
  );
}

/** The failure kind of an action whose outcome is unknown (it may have happened). */
export const UNKNOWN_OUTCOME = 'action_unknown';

/** What a failure is about, to decide which remedies make sense. */
export interface FailureSubject {
  kind: string;
  /** The failed action, when an action failed. */
  action: Action | null;
  /** Every action of the failure's goal (for Undo). */
  goalActions: Action[];
  /** Whether the failed step can be run again (an action, or a goal or digest job). */
  retryable: boolean;
  now: Date;
  undoWindowMs: number;
}

/**
 * The remedies that make sense for a failure, in the order the card shows them: Retry when the
 * step can run again, Undo when the goal already did something reversible, Edit and retry when the
 * failed action has text parameters, and always Dismiss.
 */
export function remediesFor(subject: FailureSubject): FailureRemedy[] {
  // It may have happened: only the operator can say, and only an explicit tap repeats it.
  if (subject.kind === UNKNOWN_OUTCOME) return ['happened', 'again', 'dismiss'];
  const remedies: FailureRemedy[] = [];
  if (subject.retryable) remedies.push('retry');
  if (undoableActions(subject.goalActions, subject.now, subject.undoWindowMs).length > 0)
    remedies.push('undo');
  if (subject.action && editableParams(subject.action).length > 0) remedies.push('edit');
  remedies.push('dismiss');
  return remedies;
}

/** The remedies of a new failure, read from the database (its action and its goal's actions). */
export async function offeredRemedies(
  repos: Repositories,
  failure: { kind: string; goalId: number | null; actionId: number | null; retryable: boolean },
  now: Date,
  undoWindowMs: number,
): Promise<FailureRemedy[]> {
  const action = failure.actionId === null ? null : await repos.actions.get(failure.actionId);
  const goalActions = failure.goalId === null ? [] : await repos.actions.listForGoal(failure.goalId);
  return remediesFor({
    kind: failure.kind,
    action,
    goalActions,
    retryable: failure.retryable,
    now,
    undoWindowMs,
  });
}
