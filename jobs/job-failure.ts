import type { Logger } from 'pino';
import { DEFAULT_GUARDRAILS } from '../connectors/guardrails.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import { describeError } from '../core/errors.ts';
import { failureCard } from '../core/failure-card.ts';
import type { SpineJob } from '../core/jobs.ts';
import type { ChatSender } from '../core/message.ts';
import type { Repositories } from '../db/repositories/index.ts';
import { offeredRemedies } from '../ledger/failure-remedies.ts';

function plainReason(error: unknown): string {
  const reason = describeError(error).replace(/\s+/g, ' ').trim();
  return reason.length > 300 ? `${reason.slice(0, 299)}…` : reason;
}

/**
 * A job that failed for good becomes a failure object, and the operator sees it in the thread with
 * Retry / Dismiss. The job is kept in the failure's evidence so Retry can run it again.
 */
export async function recordJobFailure(
  deps: { repos: Repositories; chat: ChatSender; logger: Logger; clock?: Clock; undoWindowMs?: number },
  job: SpineJob,
  error: unknown,
): Promise<void> {
  const { repos, chat } = deps;
  const reason = plainReason(error);
  // A playbook run is a goal: its failure is the goal's, and Retry re-runs it as `run-goal` (which
  // the job handler hands back to the playbook graph, on the run's version).
  if (job.name === 'run-playbook') job = { name: 'run-goal', data: { goalId: job.data.goalId } };
  if (job.name === 'run-goal' || job.name === 'resume-goal') {
    const goal = await repos.goals.get(job.data.goalId);
    if (!goal) return;
    await repos.goals.setStatus(goal.id, 'failed');
    const text = goal.text.replace(/\s+/g, ' ');
    const failure = await repos.failures.insert({
      goalId: goal.id,
      actionId: null,
      operatorId: goal.operatorId,
      kind: 'job_failed',
      message: `I could not finish goal #${goal.id} (“${text.length > 60 ? `${text.slice(0, 59)}…` : text}”) because of an error: ${reason}`,
      evidence: { job, error: reason },
      remediation: await offeredRemedies(
        repos,
        { kind: 'job_failed', goalId: goal.id, actionId: null, retryable: true },
        (deps.clock ?? systemClock).now(),
        deps.undoWindowMs ?? DEFAULT_GUARDRAILS.undoWindowMs,
      ),
    });
    await repos.events.append({
      operatorId: goal.operatorId,
      actor: 'spine',
      verb: 'could not finish',
      object: `goal #${goal.id}`,
      why: reason,
      ref: `failure #${failure.id}`,
      goalId: goal.id,
    });
    const ref = await chat.post(goal.thread, failureCard(failure));
    await repos.failures.addCard(failure.id, ref);
    return;
  }
  if (job.name === 'send-digest') {
    const failure = await repos.failures.insert({
      goalId: null,
      actionId: null,
      operatorId: job.data.operatorId,
      kind: 'digest_failed',
      message: `I could not send ${job.data.localDate ? `the digest for ${job.data.localDate}` : 'your digest'} because of an error: ${reason}`,
      evidence: { job, error: reason },
      remediation: ['retry', 'dismiss'],
    });
    await repos.events.append({
      operatorId: job.data.operatorId,
      actor: 'spine',
      verb: 'could not send',
      object: 'the digest',
      why: reason,
      ref: `failure #${failure.id}`,
    });
    const [latest] = await repos.goals.recent(job.data.operatorId, 1);
    const thread = job.data.thread ??
      latest?.thread ?? { channel: 'console' as const, conversation: 'local' };
    const ref = await chat.post(thread, failureCard(failure));
    await repos.failures.addCard(failure.id, ref);
    return;
  }
  // Maintenance runs again on its schedule: a log line is enough.
  deps.logger.error({ job: job.name, err: reason }, 'maintenance job failed');
}
