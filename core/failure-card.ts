import type { Failure } from './domain.ts';
import type { MessageButton, OutboundMessage } from './message.ts';

/**
 * What the operator can do about a failure: run the step again, undo what the goal already did,
 * change the failed action's parameters and run it again, or close it with a reason. When an
 * action's outcome is unknown (it may have happened): say it happened (mark it done), or do it
 * again under a new key, knowing it may then happen twice.
 */
export type FailureRemedy = 'retry' | 'undo' | 'edit' | 'dismiss' | 'happened' | 'again';

export const FAILURE_REMEDIES: readonly FailureRemedy[] = [
  'retry',
  'undo',
  'edit',
  'dismiss',
  'happened',
  'again',
];

function isRemedy(value: string): value is FailureRemedy {
  return (FAILURE_REMEDIES as readonly string[]).includes(value);
}

/** Button actions carry only the remedy and the failure id: `failure:retry:<id>`, `failure:undo:<id>` … */
export function failureButtonAction(choice: FailureRemedy, failureId: number): string {
  return `failure:${choice}:${failureId}`;
}

/** Parse `failure:<remedy>:<id>`; null for anything else. */
export function parseFailureButton(action: string): { choice: FailureRemedy; failureId: number } | null {
  const match = /^failure:(retry|undo|edit|dismiss|happened|again):(\d{1,15})$/.exec(action);
  if (!match || !isRemedy(match[1] ?? '')) return null;
  return { choice: match[1] as FailureRemedy, failureId: Number(match[2]) };
}

const BUTTONS: Record<FailureRemedy, Omit<MessageButton, 'action'>> = {
  retry: { label: 'Retry', style: 'primary' },
  undo: { label: 'Undo what was done' },
  edit: { label: 'Edit and retry' },
  dismiss: { label: 'Dismiss' },
  happened: { label: 'It happened', style: 'primary' },
  again: { label: 'Do it again', style: 'danger' },
};

const HINTS: Record<FailureRemedy, string> = {
  retry: 'Retry runs it again from where it stopped',
  undo: 'Undo reverts what the goal already did',
  edit: 'Edit and retry lets you change it first',
  dismiss: 'Dismiss closes it',
  happened: 'It happened marks it done',
  again: 'Do it again runs it once more (if it did happen, it then happens twice)',
};

/** The remedies a failure offers, in the order it lists them (unknown ones are left out). */
export function failureRemedies(failure: Pick<Failure, 'remediation'>): FailureRemedy[] {
  return failure.remediation.filter(isRemedy);
}

/** The failure card: what went wrong in plain words, with its remedies as buttons. */
export function failureCard(failure: Failure): OutboundMessage {
  const remedies = failureRemedies(failure);
  const buttons = remedies.map((remedy) => ({
    action: failureButtonAction(remedy, failure.id),
    ...BUTTONS[remedy],
  }));
  const hints = remedies.map((remedy) => HINTS[remedy]);
  return {
    text: `Failure #${failure.id}: ${failure.message}`,
    blocks: [
      { type: 'section', text: `Failure #${failure.id} — ${failure.message}` },
      {
        type: 'context',
        text: `${hints.join('; ')}. (Or type \`failures\` to list them, \`dismiss #${failure.id} because …\` to give a reason.)`,
      },
      ...(buttons.length > 0 ? [{ type: 'buttons' as const, buttons }] : []),
    ],
  };
}

const OUTCOMES: Record<FailureRemedy, string> = {
  retry: 'Retrying',
  undo: 'Undoing what was done',
  edit: 'Edited and retrying',
  dismiss: 'Dismissed',
  happened: 'Marked as done',
  again: 'Doing it again',
};

/** The failure card after a choice: no live buttons left. */
export function closedFailureCard(failure: Failure, choice: FailureRemedy, reason?: string): OutboundMessage {
  const outcome = OUTCOMES[choice];
  return {
    text: `${outcome}: failure #${failure.id}`,
    blocks: [
      { type: 'section', text: `Failure #${failure.id} — ${failure.message}` },
      { type: 'context', text: `${outcome}${reason ? ` because ${reason}` : ''}.` },
    ],
  };
}
