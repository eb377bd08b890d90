import type { Failure } from './domain.ts';
import type { OutboundMessage } from './message.ts';

/** Button actions carry only the failure id: `failure:retry:<id>`, `failure:dismiss:<id>`. */
export function failureButtonAction(choice: 'retry' | 'dismiss', failureId: number): string {
  return `failure:${choice}:${failureId}`;
}

/** Parse `failure:<retry|dismiss>:<id>`; null for anything else. */
export function parseFailureButton(
  action: string,
): { choice: 'retry' | 'dismiss'; failureId: number } | null {
  const match = /^failure:(retry|dismiss):(\d{1,15})$/.exec(action);
  if (!match) return null;
  return { choice: match[1] === 'retry' ? 'retry' : 'dismiss', failureId: Number(match[2]) };
}

/** The failure card: what went wrong in plain words, with its remedies as buttons (Retry / Dismiss). */
export function failureCard(failure: Failure): OutboundMessage {
  // The remedies the failure offers, in the order it lists them.
  const buttons = failure.remediation
    .filter((remedy): remedy is 'retry' | 'dismiss' => remedy === 'retry' || remedy === 'dismiss')
    .map((remedy) =>
      remedy === 'retry'
        ? { action: failureButtonAction('retry', failure.id), label: 'Retry', style: 'primary' as const }
        : { action: failureButtonAction('dismiss', failure.id), label: 'Dismiss' },
    );
  return {
    text: `Failure #${failure.id}: ${failure.message}`,
    blocks: [
      { type: 'section', text: `Failure #${failure.id} — ${failure.message}` },
      {
        type: 'context',
        text: 'Retry runs it again from where it stopped; Dismiss closes it. (Or type `retry` / `dismiss`.)',
      },
      ...(buttons.length > 0 ? [{ type: 'buttons' as const, buttons }] : []),
    ],
  };
}

/** The failure card after a choice: no live buttons left. */
export function closedFailureCard(failure: Failure, choice: 'retry' | 'dismiss'): OutboundMessage {
  const outcome = choice === 'retry' ? 'Retrying' : 'Dismissed';
  return {
    text: `${outcome}: failure #${failure.id}`,
    blocks: [
      { type: 'section', text: `Failure #${failure.id} — ${failure.message}` },
      { type: 'context', text: `${outcome}.` },
    ],
  };
}
