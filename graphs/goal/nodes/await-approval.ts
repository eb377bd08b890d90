import { interrupt } from '@langchain/langgraph';
import { hashParams } from '../../../connectors/connector-runtime.ts';
import type { Action } from '../../../core/domain.ts';
import { type BoundApproval, isExpired } from '../../../db/repositories/approvals.ts';
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
    // The playbook graph runs this node on a goal-shaped view without notes.
    const earlier = state.guardNotes ?? [];
    const notes: string[] = [];
    for (const approval of approvals) {
      if (approval.status === 'pending') continue;
      const action = await deps.repos.actions.get(approval.actionId);
      if (!action) continue;
      const note = await carryDecision(deps, approval, action);
      if (note && !earlier.includes(note)) notes.push(note);
    }
    const pending = approvals.filter((approval) => approval.status === 'pending').length;
    if (pending === 0) await deps.repos.goals.setStatus(state.goalId, 'running');
    return {
      pendingApprovals: pending,
      ...(notes.length > 0 ? { guardNotes: [...earlier, ...notes] } : {}),
    };
  };
}

/**
 * Carry one decision onto its action; the line the goal's reply gets when nothing will run. An
 * expired approval's action was carried to `refused` by its expiry (a repeat here is harmless). An
 * approval counts only for the parameters its card showed: an action whose parameters changed since
 * is refused, never approved (the runtime runs whatever the row says, so this is the last gate).
 */
async function carryDecision(
  deps: GoalGraphDeps,
  approval: BoundApproval,
  action: Action,
): Promise<string | null> {
  if (isExpired(approval)) {
    await deps.repos.actions.transition(action.id, ['awaiting_approval'], 'refused');
    return approval.expiryReason === 'timeout'
      ? `Approval #${approval.id} expired before anyone decided: nothing was done.`
      : `Approval #${approval.id} expired: the action changed after its card was shown, so nothing was done.`;
  }
  if (approval.status === 'rejected') {
    await deps.repos.actions.transition(action.id, ['awaiting_approval'], 'rejected');
    return null;
  }
  if (approval.status !== 'approved') return null;
  const unchanged = hashParams(action.params) === approval.paramsHash;
  if (unchanged) {
    await deps.repos.actions.transition(action.id, ['awaiting_approval'], 'approved');
    return null;
  }
  if (await deps.repos.actions.transition(action.id, ['awaiting_approval'], 'refused')) {
    await deps.repos.events.append({
      operatorId: approval.operatorId,
      actor: 'spine',
      verb: 'refused',
      object: action.preview.doing,
      why: `its parameters changed after you approved the card of approval #${approval.id}; nothing was done`,
      ref: `approval #${approval.id}`,
      goalId: approval.goalId,
      actionId: action.id,
      payload: { approvedHash: approval.paramsHash, currentHash: hashParams(action.params) },
    });
  }
  return action.status === 'awaiting_approval' || action.status === 'refused'
    ? `Approval #${approval.id} was for other parameters than the action now has: nothing was done.`
    : null;
}
