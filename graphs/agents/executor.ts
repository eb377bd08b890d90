import { DEFAULT_GUARDRAILS } from '../../connectors/guardrails.ts';
import type { Action } from '../../core/domain.ts';
import { hasCode } from '../../core/errors.ts';
import { recordActionFailure } from '../../ledger/failures-record.ts';
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
  if (action.status === 'cancelled') {
    return {
      actionId: action.id,
      status: 'refused',
      summary: `Not done (you cancelled it): ${action.preview.title}.`,
    };
  }
  const now = deps.clock.now();
  if (action.status === 'approved' && action.scheduledAt && action.scheduledAt > now) {
    const operator = await deps.repos.operators.get(action.operatorId);
    return {
      actionId: action.id,
      status: 'scheduled',
      summary: `Scheduled: ${action.preview.title} ${describeWhen(action.scheduledAt, now, operator?.timezone ?? 'UTC')}. Say \`cancel #${action.id}\` to stop it before then.`,
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
    const undoable = stored.reversible && !stored.undoOf;
    return {
      actionId: stored.id,
      status: 'succeeded',
      summary: capitalise(summary),
      ...(undoable ? { undoable: true } : {}),
    };
  }
  const message = stored.error?.message ?? 'unknown error';
  // Recorded on a replay too (once per action): the execution that stored the outcome may have
  // died before its failure was recorded, and an unknown outcome must always reach the operator.
  const failure = await recordActionFailure(deps.repos, stored, {
    now: deps.clock.now(),
    undoWindowMs: (deps.guardrails ?? DEFAULT_GUARDRAILS).undoWindowMs,
  });
  const failureId: number | undefined = failure.id;
  return {
    actionId: stored.id,
    status: outcome.status === 'unknown' ? 'unknown' : 'failed',
    summary:
      outcome.status === 'unknown'
        ? `Not sure it happened: ${stored.preview.doing} — ${message}. I won't repeat it unless you say so.`
        : `Failed: ${stored.preview.doing} — ${message}.`,
    ...(failureId === undefined ? {} : { failureId }),
  };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** "at 09:00 tomorrow" / "at 14:30 today" / "on 3 Dec at 09:00", in the operator's time zone. */
export function describeWhen(at: Date, now: Date, timezone: string): string {
  const day = (date: Date) => new Intl.DateTimeFormat('en-CA', { timeZone: timezone }).format(date);
  const time = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(at);
  if (day(at) === day(now)) return `at ${time} today`;
  if (day(at) === day(new Date(now.getTime() + 86_400_000))) return `at ${time} tomorrow`;
  const date = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    day: 'numeric',
    month: 'short',
  }).format(at);
  return `on ${date} at ${time}`;
}
