import { threadKey } from '../../../core/domain.ts';
import type { GoalGraphDeps } from '../deps.ts';
import type { GoalStateType, GoalStateUpdate } from '../state.ts';

/** Write an episode: what was asked and what happened, so later goals can find it. Idempotent per goal. */
export function rememberNode(deps: GoalGraphDeps) {
  return async (state: GoalStateType): Promise<GoalStateUpdate> => {
    const happened = state.outcomes.map((outcome) => outcome.summary).join(' ');
    const goal = await deps.repos.goals.get(state.goalId);
    await deps.memory.remember({
      operatorId: state.operatorId,
      kind: 'episode',
      content: `Goal #${state.goalId}: “${state.text}”. ${happened || (state.reply ?? '')}`.trim(),
      goalId: state.goalId,
      ...(goal ? { threadRef: threadKey(goal.thread) } : {}),
      dedupeKey: `episode-goal-${state.goalId}`,
      provenance: { source: 'system', sourceRef: `goal #${state.goalId}`, assertedBy: 'spine' },
    });
    return {};
  };
}
