import type { PlaybookGraphDeps } from '../deps.ts';
import type { PlaybookStateType, PlaybookStateUpdate } from '../state.ts';

/** The run's reply: what each action did, what was skipped, why it stopped. */
export function composeRunReply(state: PlaybookStateType): string {
  const head = state.stopped
    ? `Playbook ${state.playbookName} stopped: ${state.stopped}.`
    : `Playbook ${state.playbookName} finished.`;
  const skipped = state.skipped.length > 0 ? [`Skipped: ${state.skipped.join(', ')}.`] : [];
  return [head, ...state.notes, ...state.outcomes.map((outcome) => outcome.summary), ...skipped].join('\n');
}

/** Reply in the run's thread once, then close the goal and the run (idempotent on re-run). */
export function finishNode(deps: PlaybookGraphDeps) {
  return async (state: PlaybookStateType): Promise<PlaybookStateUpdate> => {
    const goal = await deps.repos.goals.get(state.goalId);
    if (!goal) throw new Error(`goal ${state.goalId} is missing`);
    // Sent, then marked: a crash in between re-sends on recovery rather than losing the reply.
    if (!(await deps.repos.goals.replySent(state.goalId))) {
      await deps.chat.post(goal.thread, { text: composeRunReply(state) });
      await deps.repos.goals.markReplySent(state.goalId);
    }
    const failed = state.outcomes.some(
      (outcome) => outcome.status === 'failed' || outcome.status === 'unknown',
    );
    await deps.store.setRunStatus(state.runId, failed ? 'failed' : state.stopped ? 'stopped' : 'done');
    if (goal.status !== 'done' && goal.status !== 'failed') {
      await deps.repos.goals.setStatus(state.goalId, failed ? 'failed' : 'done');
      await deps.repos.events.append({
        operatorId: state.operatorId,
        actor: 'spine',
        verb: failed ? 'could not finish' : state.stopped ? 'stopped' : 'finished',
        object: `the playbook ${state.playbookName}`,
        ...(state.stopped ? { why: state.stopped } : {}),
        ref: `goal #${state.goalId}`,
        goalId: state.goalId,
      });
    }
    return {};
  };
}
