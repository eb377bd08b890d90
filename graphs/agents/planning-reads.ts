import type { ConnectorRuntime } from '../../connectors/connector-runtime.ts';
import { checkGuardrails, DEFAULT_GUARDRAILS, type GuardrailSettings } from '../../connectors/guardrails.ts';
import type { ProposedAction } from '../../core/domain.ts';
import { SpineError } from '../../core/errors.ts';
import type { Repositories } from '../../db/repositories/index.ts';
import type { PlanContext } from '../models/offline-planner.ts';
import type { PlanningReader } from '../models/planner-tools.ts';

/**
 * External reads the model asks for while planning (a calendar list, an MCP read tool) run like
 * any action (issue #22): validated, stored as an action of the goal with its event, under the
 * connector's circuit and daily limits, executed once by the connector runtime. Nothing outside
 * Spine is touched without a row in the ledger.
 */
export function runtimeReader(deps: {
  connectors: ConnectorRuntime;
  repos: Repositories;
  guardrails?: GuardrailSettings;
}): PlanningReader {
  return async (proposal: ProposedAction, context: PlanContext) => {
    const prepared = await deps.connectors.prepare(proposal);
    if (prepared.risk !== 'read') {
      throw new SpineError(
        'planner.not_a_read',
        `${proposal.connector}.${proposal.operation} is not a read, so it cannot run while planning.`,
      );
    }
    // The same read in the same goal is one action: a re-plan gets the stored answer.
    const key = `goal-${context.goalId}-read-${proposal.connector}.${proposal.operation}-${prepared.paramsHash.slice(0, 16)}`;
    const operator = await deps.repos.operators.get(context.operatorId);
    const limits = await checkGuardrails(deps.repos.connectorState, deps.guardrails ?? DEFAULT_GUARDRAILS, {
      operatorId: context.operatorId,
      prepared,
      now: context.now ?? new Date(),
      timezone: operator?.timezone ?? 'UTC',
      idempotencyKey: key,
    });
    if (limits.limitExceeded) {
      throw new SpineError('planner.read_refused', `I did not read it: ${limits.limitExceeded}.`, {
        category: 'user',
      });
    }
    const { action, created } = await deps.connectors.record(prepared, {
      goalId: context.goalId,
      operatorId: context.operatorId,
      idempotencyKey: key,
      status: 'approved',
    });
    if (created) {
      await deps.repos.connectorState.annotate(action.id, {
        target: prepared.target,
        amount: prepared.amount,
        scheduledAt: null,
      });
      await deps.repos.events.append({
        operatorId: context.operatorId,
        actor: 'spine',
        verb: 'read while planning:',
        object: prepared.preview.title,
        why: proposal.why,
        ref: `action #${action.id}`,
        goalId: context.goalId,
        actionId: action.id,
        payload: { connector: proposal.connector, operation: proposal.operation },
      });
    }
    const outcome = await deps.connectors.execute(action.id);
    if (outcome.status !== 'succeeded') {
      throw new SpineError(
        'planner.read_failed',
        outcome.action.error?.message ?? `${proposal.connector}.${proposal.operation} failed`,
        { category: 'third_party' },
      );
    }
    return outcome.action.result;
  };
}
