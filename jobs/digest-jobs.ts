import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { SendDigestData } from '../core/jobs.ts';
import { localDateOf } from '../core/local-time.ts';
import type { Repositories } from '../db/repositories/index.ts';
import type { DigestGraph } from '../graphs/digest/graph.ts';
import { dueDigest } from './digest-schedule.ts';

export interface DigestJobDeps {
  graph: DigestGraph;
  repos: Repositories;
  clock: Clock;
  logger: Logger;
}

export type DigestOutcome = 'sent' | 'already_sent' | 'not_due' | 'no_operator';

/**
 * Send a digest. A daily one first claims its (operator, local date) row: a second run of the job,
 * a second worker or a second scheduler finds it sent and does nothing. Jobs of one operator's
 * digests never run at the same time (group lock), so an unfinished row is a crashed run to finish.
 */
export async function sendDigest(deps: DigestJobDeps, data: SendDigestData): Promise<DigestOutcome> {
  const operator = await deps.repos.digests.operator(data.operatorId);
  if (!operator) {
    deps.logger.warn({ operatorId: data.operatorId }, 'send-digest for an operator that does not exist');
    return 'no_operator';
  }
  const now = deps.clock.now();
  if (!data.localDate) {
    await deps.graph.invoke({
      operatorId: operator.id,
      localDate: localDateOf(now, operator.timezone),
      digestId: null,
      late: false,
      thread: data.thread ?? null,
    });
    return 'sent';
  }
  const due = dueDigest(operator, now);
  // A job for a date whose digest time has not come yet (a clock set back) waits for the next check.
  if (!due || due.localDate < data.localDate) return 'not_due';
  const claim = await deps.repos.digests.claim({
    operatorId: operator.id,
    localDate: data.localDate,
    dueAt: due.localDate === data.localDate ? due.dueAt : now,
    late: data.late ?? false,
  });
  if (claim.kind === 'already_sent') return 'already_sent';
  await deps.graph.invoke({
    operatorId: operator.id,
    localDate: data.localDate,
    digestId: claim.digest.id,
    late: claim.digest.late,
    thread: null,
  });
  return 'sent';
}
