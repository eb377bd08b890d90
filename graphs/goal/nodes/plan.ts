import { citeMemory } from '../../../memory/citations.ts';
import type { GoalGraphDeps } from '../deps.ts';
import type { GoalStateType, GoalStateUpdate } from '../state.ts';

/** Synthesizer: an answer and/or proposed actions. No side-effects. */
export function planNode(deps: GoalGraphDeps) {
  return async (state: GoalStateType): Promise<GoalStateUpdate> => {
    const operator = await deps.repos.operators.get(state.operatorId);
    const timezone = operator?.timezone ?? 'UTC';
    const identities = new Set([state.requestedBy]);
    const plan = await deps.planner.plan(state.text, {
      operatorId: state.operatorId,
      goalId: state.goalId,
      channel: state.channel,
      requestedBy: state.requestedBy,
      // Cited answers list what the query found; the thread's earlier episodes are context only.
      citedMemories: state.memories
        .filter((pointer) => pointer.layer !== 'episode')
        .map((pointer) => citeMemory(pointer, timezone, identities)),
      now: deps.clock.now(),
      timezone,
      memories: state.memories,
    });
    return { planned: plan };
  };
}
