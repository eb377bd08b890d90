import type { Action, Failure, NewEvent } from '../core/domain.ts';
import type { Repositories } from '../db/repositories/index.ts';
import { offeredRemedies, UNKNOWN_OUTCOME } from './failure-remedies.ts';

/** The story line of an action that ran: "Spine sent an e-mail to dana@example.com (action #12)". */
export function actionDoneEvent(action: Action, why?: string): NewEvent {
  return {
    operatorId: action.operatorId,
    actor: 'spine',
    verb: action.preview.done.split(' ')[0] ?? 'did',
    object: action.preview.done.split(' ').slice(1).join(' '),
    ...(why ? { why } : {}),
    ref: `action #${action.id}`,
    goalId: action.goalId,
    actionId: action.id,
  };
}

/**
 * A failed action becomes a failure with a plain explanation, its evidence, and the remedies that
 * make sense for it (Retry; Undo when the goal already did something reversible; Edit and retry
 * when the action has text parameters; Dismiss), plus a `failed at` event.
 */
export async function recordActionFailure(
  repos: Repositories,
  action: Action,
  options: { now: Date; undoWindowMs: number },
): Promise<Failure> {
  // Once per action: an executor that died between the outcome and this record leaves it to the
  // next one (which finds the outcome replayed), and that one must not record it twice.
  const recorded = await repos.failures.ofAction(action.id);
  if (recorded) return recorded;
  const message = action.error?.message ?? 'unknown error';
  const unknown = action.status === 'unknown';
  const kind = unknown ? UNKNOWN_OUTCOME : 'action_failed';
  const remediation = await offeredRemedies(
    repos,
    { kind, goalId: action.goalId, actionId: action.id, retryable: true },
    options.now,
    options.undoWindowMs,
  );
  const failure = await repos.failures.insert({
    goalId: action.goalId,
    actionId: action.id,
    operatorId: action.operatorId,
    kind,
    message: unknown
      ? `I can't tell whether ${action.preview.doing} happened: ${message}. Please check, then tell me — I won't repeat it on my own`
      : `I could not finish ${action.preview.doing}: ${message}`,
    evidence: { connector: action.connector, operation: action.operation, error: action.error },
    remediation,
  });
  await repos.events.append({
    operatorId: action.operatorId,
    actor: 'spine',
    verb: unknown ? 'could not tell whether it finished' : 'failed at',
    object: action.preview.doing,
    why: message,
    ref: `action #${action.id}`,
    goalId: action.goalId,
    actionId: action.id,
  });
  return failure;
}
