import { undoButtonAction } from '../../../core/cards.ts';
import type { ThreadRef } from '../../../core/domain.ts';
import { failureCard } from '../../../core/failure-card.ts';
import type { OutboundMessage } from '../../../core/message.ts';
import { relatedMemoryLine } from '../../../memory/citations.ts';
import type { GoalGraphDeps } from '../deps.ts';
import type { GoalStateType, GoalStateUpdate } from '../state.ts';

/** Compose the reply from the answer, the guard's notes and what each action did. */
export function composeReply(state: GoalStateType): string {
  const parts = [
    ...(state.planned?.answer ? [state.planned.answer] : []),
    ...state.guardNotes,
    ...state.outcomes.map((outcome) => outcome.summary),
  ];
  return parts.length > 0 ? parts.join('\n') : 'Done.';
}

/** Reply in the goal's thread with the evidence, once; then close the goal. */
export function reportNode(deps: GoalGraphDeps) {
  return async (state: GoalStateType): Promise<GoalStateUpdate> => {
    const goal = await deps.repos.goals.get(state.goalId);
    if (!goal) throw new Error(`goal ${state.goalId} is missing`);
    const operator = await deps.repos.operators.get(state.operatorId);
    const related = relatedMemoryLine(
      state.memories,
      state.text,
      composeReply(state),
      operator?.timezone ?? 'UTC',
    );
    const reply = related ? `${composeReply(state)}\n${related}` : composeReply(state);
    // Sent, then marked: a crash in between re-sends on recovery rather than losing the reply.
    if (!(await deps.repos.goals.replySent(state.goalId))) {
      await deps.chat.post(goal.thread, replyMessage(reply, state));
      await postFailureCards(deps, goal.thread, state);
      await deps.repos.goals.markReplySent(state.goalId);
    }
    // An unknown outcome waits for the operator, like a failure: the goal is not done.
    const failed = state.outcomes.some(
      (outcome) => outcome.status === 'failed' || outcome.status === 'unknown',
    );
    if (goal.status !== 'done' && goal.status !== 'failed') {
      await deps.repos.goals.setStatus(state.goalId, failed ? 'failed' : 'done');
      await deps.repos.events.append({
        operatorId: state.operatorId,
        actor: 'spine',
        verb: failed ? 'could not finish' : 'finished',
        object: `goal #${state.goalId}`,
        goalId: state.goalId,
      });
    }
    return { reply };
  };
}

/** The reply, with an Undo button per reversible action that ran (the window is checked on click). */
function replyMessage(reply: string, state: GoalStateType): OutboundMessage {
  const undoable = state.outcomes.filter((outcome) => outcome.undoable);
  if (undoable.length === 0) return { text: reply };
  return {
    text: reply,
    blocks: [
      { type: 'section', text: reply },
      {
        type: 'buttons',
        buttons: undoable.map((outcome) => ({
          action: undoButtonAction(outcome.actionId),
          label: undoable.length === 1 ? 'Undo' : `Undo #${outcome.actionId}`,
        })),
      },
    ],
  };
}

/** Each new failure as its own card with remediation buttons (Retry, Dismiss). */
async function postFailureCards(deps: GoalGraphDeps, thread: ThreadRef, state: GoalStateType): Promise<void> {
  const open = await deps.repos.failures.listOpen(state.operatorId);
  for (const outcome of state.outcomes) {
    const failure = open.find((candidate) => candidate.id === outcome.failureId);
    if (failure) await deps.chat.post(thread, failureCard(failure));
  }
}
