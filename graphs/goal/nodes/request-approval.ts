import { hashParams } from '../../../connectors/connector-runtime.ts';
import { DEFAULT_GUARDRAILS, shouldOfferAlwaysAllow } from '../../../connectors/guardrails.ts';
import { approvalCard } from '../../../core/cards.ts';
import { approvalReasonFor, CHECKPOINT_CONNECTOR } from '../../../core/policy.ts';
import type { GoalGraphDeps } from '../deps.ts';
import type { GoalStateType, GoalStateUpdate } from '../state.ts';

/**
 * Persist an approval per action that needs one and post its card. Its own node, before the
 * interrupt, and idempotent: a re-run finds the approval row and its posted card and does nothing.
 * Each approval is bound to the hash of the parameters its card shows (migration 030).
 */
export function requestApprovalNode(deps: GoalGraphDeps) {
  return async (state: GoalStateType): Promise<GoalStateUpdate> => {
    const goal = await deps.repos.goals.get(state.goalId);
    if (!goal) throw new Error(`goal ${state.goalId} is missing`);
    let pending = 0;
    for (const actionId of state.actionIds) {
      const action = await deps.repos.actions.get(actionId);
      if (action?.status !== 'awaiting_approval') continue;
      const approval = await deps.repos.approvals.insertOrGet({
        actionId,
        goalId: state.goalId,
        operatorId: state.operatorId,
        paramsHash: hashParams(action.params),
        at: deps.clock.now(),
      });
      if (approval.status === 'pending') pending += 1;
      if (approval.cards.length > 0) continue;
      await deps.repos.events.append({
        operatorId: state.operatorId,
        actor: 'spine',
        verb: 'asked for your approval before',
        object: action.preview.doing,
        ref: `approval #${approval.id}`,
        goalId: state.goalId,
        actionId,
      });
      // A checkpoint always asks: "Always allow" would promise what it cannot keep.
      const alwaysAllow =
        action.connector !== CHECKPOINT_CONNECTOR &&
        (await shouldOfferAlwaysAllow(
          deps.repos.connectorState,
          deps.guardrails ?? DEFAULT_GUARDRAILS,
          action,
        ));
      const card = await deps.chat.post(
        goal.thread,
        approvalCard(action, approval, approvalReasonFor(action), { alwaysAllow }),
      );
      await deps.repos.approvals.addCard(approval.id, card);
    }
    if (pending > 0) await deps.repos.goals.setStatus(state.goalId, 'awaiting_approval');
    return { pendingApprovals: pending };
  };
}
