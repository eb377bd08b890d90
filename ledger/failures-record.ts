import type { Action, Failure, NewEvent } from '../core/domain.ts';
import type { Repositories } from '../db/repositories/index.ts';
import { offeredRemedies } from './failure-remedies.ts';

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
  const message = action.error?.message ?? 'unknown error';
  const remediation = await offeredRemedies(
    repos,
    { kind: 'action_failed', goalId: action.goalId, actionId: action.id, retryable: true },
    options.now,
    options.undoWindowMs,
  );
  const failure = await repos.failures.insert({
    goalId: action.goalId,
    actionId: action.id,
    operatorId: action.operatorId,
    kind: 'action_failed',
    message: `I could not finish ${action.preview.doing}: ${message}`,
    evidence: { connector: action.connector, operation: action.operation, error: action.error },
    remediation,
  });
  await repos.events.append({
    operatorId: action.operatorId,
    actor: 'spine',
    verb: 'failed at',
    object: action.preview.doing,
    why: message,
    ref: `action #${action.id}`,
    goalId: action.goalId,
    actionId: action.id,
  });
  return failure;
}
