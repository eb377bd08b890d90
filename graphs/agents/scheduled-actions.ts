import { undoButtonAction } from '../../core/cards.ts';
import { describeError } from '../../core/errors.ts';
import { failureCard } from '../../core/failure-card.ts';
import type { GoalGraphDeps } from '../goal/deps.ts';
import { executeAction } from './executor.ts';

/**
 * The due-check of delayed execution: run every approved action whose `scheduled_at` has come,
 * once (the runtime's claim makes two callers safe), and tell the goal's thread what happened.
 * The in-process timer calls it under a deployment-wide lease; once `signal` aborts (the lease
 * was lost: another process may be checking now) no further action is taken.
 */
export async function runDueActions(deps: GoalGraphDeps, signal?: AbortSignal): Promise<number> {
  const due = await deps.repos.connectorState.listDue(deps.clock.now());
  let ran = 0;
  for (const [index, action] of due.entries()) {
    if (signal?.aborted) {
      deps.logger.warn(
        { left: due.length - index, err: describeError(signal.reason) },
        'the due-check stopped before its remaining actions: its lease was lost',
      );
      break;
    }
    try {
      const outcome = await executeAction(deps, action);
      if (outcome.status === 'scheduled') continue;
      ran += 1;
      const goal = await deps.repos.goals.get(action.goalId);
      if (!goal) continue;
      await deps.chat.post(goal.thread, {
        text: outcome.summary,
        ...(outcome.undoable
          ? {
              blocks: [
                { type: 'section' as const, text: outcome.summary },
                {
                  type: 'buttons' as const,
                  buttons: [{ action: undoButtonAction(action.id), label: 'Undo' }],
                },
              ],
            }
          : {}),
      });
      if (outcome.failureId !== undefined) {
        const failure = (await deps.repos.failures.listOpen(action.operatorId)).find(
          (candidate) => candidate.id === outcome.failureId,
        );
        if (failure) await deps.chat.post(goal.thread, failureCard(failure));
      }
    } catch (error) {
      deps.logger.error(
        { err: describeError(error), actionId: action.id },
        'a scheduled action could not run',
      );
    }
  }
  return ran;
}
