import { checkGuardrails, DEFAULT_GUARDRAILS } from '../../../connectors/guardrails.ts';
import type { ProposedAction } from '../../../core/domain.ts';
import { describeError, SpineError } from '../../../core/errors.ts';
import { decidePolicy } from '../../../core/policy.ts';
import type { GoalGraphDeps } from '../deps.ts';
import type { GoalStateType, GoalStateUpdate } from '../state.ts';

/**
 * Policy guard: validate each proposal, decide in code whether it runs, waits for approval or is
 * refused, and store it as an action under a key derived from the goal, so a re-run stores nothing new.
 */
export function guardNode(deps: GoalGraphDeps) {
  return async (state: GoalStateType): Promise<GoalStateUpdate> =>
    guardProposals(deps, {
      goalId: state.goalId,
      operatorId: state.operatorId,
      proposals: state.planned?.actions ?? [],
      keyOf: (index) => `goal-${state.goalId}-action-${index + 1}`,
    });
}

/**
 * The guard for any list of proposals (the goal's plan, a playbook step): `keyOf` names each
 * proposal's idempotency key, so a re-run stores nothing new.
 */
export async function guardProposals(
  deps: GoalGraphDeps,
  state: {
    goalId: number;
    operatorId: number;
    proposals: ProposedAction[];
    keyOf: (index: number) => string;
  },
): Promise<{ actionIds: number[]; guardNotes: string[] }> {
  const proposals = state.proposals;
  const operator = await deps.repos.operators.get(state.operatorId);
  const actionIds: number[] = [];
  const guardNotes: string[] = [];
  for (const [index, proposal] of proposals.entries()) {
    let prepared: Awaited<ReturnType<typeof deps.connectors.prepare>>;
    try {
      prepared = await deps.connectors.prepare(proposal);
    } catch (error) {
      guardNotes.push(
        error instanceof SpineError ? error.message : `I could not prepare that: ${describeError(error)}`,
      );
      continue;
    }
    const guardrails = await checkGuardrails(
      deps.repos.connectorState,
      deps.guardrails ?? DEFAULT_GUARDRAILS,
      {
        operatorId: state.operatorId,
        prepared,
        now: deps.clock.now(),
        timezone: operator?.timezone ?? 'UTC',
        idempotencyKey: state.keyOf(index),
      },
    );
    const verdict = decidePolicy({
      risk: prepared.risk,
      external: prepared.external,
      now: deps.clock.now(),
      probationUntil: operator?.probationUntil ?? null,
      trusted: guardrails.trusted,
      limitExceeded: guardrails.limitExceeded,
      ...(proposal.afterOutsideContent ? { afterOutsideContent: true } : {}),
    });
    const status =
      verdict.decision === 'auto'
        ? 'approved'
        : verdict.decision === 'approval'
          ? 'awaiting_approval'
          : 'refused';
    // Stored once under a key derived from the goal; a re-run of this node finds it (same params).
    const stored = await deps.connectors.record(prepared, {
      goalId: state.goalId,
      operatorId: state.operatorId,
      idempotencyKey: state.keyOf(index),
      status,
    });
    // Target (for trust), amount (for limits) and the delayed-execution time, set once.
    await deps.repos.connectorState.annotate(stored.action.id, {
      target: prepared.target,
      amount: prepared.amount,
      scheduledAt: proposal.notBefore ? new Date(proposal.notBefore) : null,
    });
    actionIds.push(stored.action.id);
    if (status === 'refused') guardNotes.push(`I won't do that: ${verdict.reason}.`);
    if (stored.created && prepared.external) {
      await deps.repos.events.append({
        operatorId: state.operatorId,
        actor: 'spine',
        verb: 'proposed',
        object: prepared.preview.doing,
        why: prepared.why,
        ref: `action #${stored.action.id}`,
        goalId: state.goalId,
        actionId: stored.action.id,
        payload: { policy: verdict.decision, reason: verdict.reason },
      });
    }
  }
  return { actionIds, guardNotes };
}
