import { interrupt } from '@langchain/langgraph';
import type { GoalGraphDeps } from '../deps.ts';
import type { GoalStateType, GoalStateUpdate } from '../state.ts';

/**
 * Wait for the operator's decisions. The approval rows are the truth (decided by compare-and-set
 * in the intake); the resume value only wakes the graph. This node re-runs from its top on resume,
 * so everything before `interrupt()` only reads.
 */
export function awaitApprovalNode(deps: GoalGraphDeps) {
  return async (state: GoalStateType): Promise<GoalStateUpdate> => {
    const pendingBefore = (await deps.repos.approvals.listForGoal(state.goalId)).filter(
      (a) => a.status === 'pending',
    );
    if (pendingBefore.length > 0) {
      interrupt({ goalId: state.goalId, approvalIds: pendingBefore.map((approval) => approval.id) });
    }
    // Resumed (or nothing was pending): carry each decision onto its action (compare-and-set, so a re-run is a no-op).
    const approvals = await deps.repos.approvals.listForGoal(state.goalId);
    for (const approval of approvals) {
      if (approval.status === 'pending') continue;
      await deps.repos.actions.transition(approval.actionId, ['awaiting_approval'], approval.status);
    }
    const pending = approvals.filter((approval) => approval.status === 'pending').length;
    if (pending === 0) await deps.repos.goals.setStatus(state.goalId, 'running');
    return { pendingApprovals: pending };
  };
}
