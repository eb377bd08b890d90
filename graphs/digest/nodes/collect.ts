import { addDays } from '../../../core/local-time.ts';
import type { DigestGraphDeps } from '../deps.ts';
import type { DigestStateType, DigestStateUpdate } from '../state.ts';

const EXPIRING_WITHIN_MS = 7 * 86_400_000;

/** Gather what got done since the last digest, what waits, and what is coming. Reads only. */
export function collectNode(deps: DigestGraphDeps) {
  return async (state: DigestStateType): Promise<DigestStateUpdate> => {
    const { repos } = deps;
    const operator = await repos.digests.operator(state.operatorId);
    if (!operator) throw new Error(`operator ${state.operatorId} is missing`);
    const now = deps.clock.now();
    const since = (await repos.digests.lastSentAt(operator.id)) ?? operator.createdAt;
    const finished = await repos.digestFacts.goalsFinished(operator.id, since);
    const actions = await repos.digestFacts.actionsSucceeded(operator.id, since);
    const counts = await repos.digestFacts.counts(operator.id, since);
    const pending = [];
    for (const approval of await repos.approvals.listPending(operator.id)) {
      const action = await repos.actions.get(approval.actionId);
      pending.push({
        approvalId: approval.id,
        goalId: approval.goalId,
        title: action?.preview.title ?? `action #${approval.actionId}`,
      });
    }
    const failures = (await repos.failures.listOpen(operator.id)).map((failure) => ({
      failureId: failure.id,
      message: failure.message,
    }));
    const schedule = deps.schedule
      ? await deps.schedule.itemsFor({
          operatorId: operator.id,
          localDate: state.localDate,
          timezone: operator.timezone,
        })
      : null;
    const expiring = await repos.digestFacts.memoriesExpiring(
      operator.id,
      now,
      new Date(now.getTime() + EXPIRING_WITHIN_MS),
    );
    const minutes = await deps.minutesSaved(operator.id, since);
    return {
      facts: {
        operatorName: operator.name,
        timezone: operator.timezone,
        since: since.toISOString(),
        until: now.toISOString(),
        finished,
        actions,
        pending,
        failures,
        schedule,
        expiring,
        counts,
        minutesSaved: Math.round(minutes),
        modelUsage: deps.modelUsage ? await deps.modelUsage(operator.id) : null,
        businessDay: deps.businessDay
          ? await deps.businessDay(operator.id, addDays(state.localDate, -1))
          : null,
      },
    };
  };
}
