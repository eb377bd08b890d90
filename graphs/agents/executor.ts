import type { Action } from '../../core/domain.ts';
import { hasCode } from '../../core/errors.ts';
import type { GoalGraphDeps } from '../goal/deps.ts';
import type { ActionOutcome } from '../goal/state.ts';

/**
 * Executor: runs approved actions through the connector runtime (which executes each idempotency
 * key once), and writes the story and any failure.
 */
export async function executeAction(deps: GoalGraphDeps, action: Action): Promise<ActionOutcome> {
  if (action.status === 'rejected') {
    return {
      actionId: action.id,
      status: 'rejected',
      summary: `Not done (you rejected it): ${action.preview.title}.`,
    };
  }
  if (action.status === 'refused') {
    return {
      actionId: action.id,
      status: 'refused',
      summary: `Not done (refused by policy): ${action.preview.title}.`,
    };
  }
  let outcome: Awaited<ReturnType<typeof deps.connectors.execute>>;
  try {
    outcome = await deps.connectors.execute(action.id);
  } catch (error) {
    if (hasCode(error, 'action.not_executable')) {
      return { actionId: action.id, status: 'refused', summary: `Not done: ${error.message}` };
    }
    throw error;
  }
  const stored = outcome.action;
  const external = stored.connector !== 'memory';
  if (outcome.status === 'succeeded') {
    if (!outcome.replayed) {
      await deps.repos.events.append({
        operatorId: stored.operatorId,
        actor: 'spine',
        verb: stored.preview.done.split(' ')[0] ?? 'did',
        object: stored.preview.done.split(' ').slice(1).join(' '),
        ref: `action #${stored.id}`,
        goalId: stored.goalId,
        actionId: stored.id,
        payload: { result: stored.result as Record<string, unknown> },
      });
    }
    const summary = external ? `Done: ${stored.preview.done}.` : `Got it — I ${stored.preview.done}.`;
    return { actionId: stored.id, status: 'succeeded', summary: capitalise(summary) };
  }
  const message = stored.error?.message ?? 'unknown error';
  if (!outcome.replayed) {
    await deps.repos.failures.insert({
      goalId: stored.goalId,
      actionId: stored.id,
      operatorId: stored.operatorId,
      kind: 'action_failed',
      message: `I could not finish ${stored.preview.doing}: ${message}`,
      evidence: { connector: stored.connector, operation: stored.operation, error: stored.error },
      remediation: ['retry', 'dismiss'],
    });
    await deps.repos.events.append({
      operatorId: stored.operatorId,
      actor: 'spine',
      verb: 'failed at',
      object: stored.preview.doing,
      why: message,
      ref: `action #${stored.id}`,
      goalId: stored.goalId,
      actionId: stored.id,
    });
  }
  return { actionId: stored.id, status: 'failed', summary: `Failed: ${stored.preview.doing} — ${message}.` };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
