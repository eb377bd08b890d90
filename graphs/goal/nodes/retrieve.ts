import { threadKey } from '../../../core/domain.ts';
import { retrieveMemories } from '../../agents/retriever.ts';
import type { GoalGraphDeps } from '../deps.ts';
import type { GoalStateType, GoalStateUpdate } from '../state.ts';

/** Retriever: memory pointers for the goal. Reads only, so it is safe to re-run. */
export function retrieveNode(deps: GoalGraphDeps) {
  return async (state: GoalStateType): Promise<GoalStateUpdate> => {
    await deps.repos.goals.markRunning(state.goalId);
    const goal = await deps.repos.goals.get(state.goalId);
    const memories = await retrieveMemories(deps.memory, state.operatorId, state.text, {
      goalId: state.goalId,
      ...(goal ? { threadRef: threadKey(goal.thread) } : {}),
    });
    return { memories };
  };
}
