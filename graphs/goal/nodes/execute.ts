import { executeAction } from '../../agents/executor.ts';
import type { GoalGraphDeps } from '../deps.ts';
import type { ActionOutcome, GoalStateType, GoalStateUpdate } from '../state.ts';

/** Run every approved action once; rejected and refused ones are reported, not run. */
export function executeNode(deps: GoalGraphDeps) {
  return async (state: GoalStateType): Promise<GoalStateUpdate> => {
    const outcomes: ActionOutcome[] = [];
    for (const actionId of state.actionIds) {
      const action = await deps.repos.actions.get(actionId);
      if (!action) continue;
      outcomes.push(await executeAction(deps, action));
    }
    return { outcomes };
  };
}
