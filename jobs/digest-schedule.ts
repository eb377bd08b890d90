import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { JobQueue } from '../core/jobs.ts';
import { addDays, localDateOf, parseLocalTime, zonedInstant } from '../core/local-time.ts';
import type { DigestOperator } from '../db/repositories/digests.ts';
import type { Repositories } from '../db/repositories/index.ts';

/** A digest this long after its time is marked late (Spine was down, or came up after it). */
export const LATE_AFTER_MS = 10 * 60_000;

/** The daily digest that should exist by `now`. */
export interface DueDigest {
  localDate: string;
  dueAt: Date;
  late: boolean;
}

/**
 * The most recent digest whose time has come: today's once its local time has passed, else
 * yesterday's. Only the most recent one, so a week of downtime yields one catch-up, not seven;
 * none for a day before the operator existed.
 */
export function dueDigest(operator: DigestOperator, now: Date): DueDigest | null {
  const time = parseLocalTime(operator.digestTime) ?? { hour: 8, minute: 0 };
  const today = localDateOf(now, operator.timezone);
  let localDate = today;
  let dueAt = zonedInstant(today, time, operator.timezone);
  if (dueAt.getTime() > now.getTime()) {
    localDate = addDays(today, -1);
    dueAt = zonedInstant(localDate, time, operator.timezone);
  }
  if (dueAt.getTime() < operator.createdAt.getTime()) return null;
  return { localDate, dueAt, late: now.getTime() - dueAt.getTime() > LATE_AFTER_MS };
}

/**
 * Enqueue every due digest that has no row yet (all operators, or one). The job id
 * (`digest-<operator>-<date>`) and the unique row make this safe to run from any number of
 * processes at any time: this is both the catch-up on start and the periodic check.
 */
export async function enqueueDueDigests(input: {
  repos: Repositories;
  queue: JobQueue;
  clock: Clock;
  logger: Logger;
  operatorId?: number;
}): Promise<number> {
  const now = input.clock.now();
  const operators =
    input.operatorId === undefined
      ? await input.repos.digests.operators()
      : [await input.repos.digests.operator(input.operatorId)].filter((row) => row !== null);
  let enqueued = 0;
  for (const operator of operators) {
    const due = dueDigest(operator, now);
    if (!due) continue;
    const existing = await input.repos.digests.get(operator.id, due.localDate);
    if (existing?.status === 'sent') continue;
    await input.queue.enqueue({
      name: 'send-digest',
      data: { operatorId: operator.id, localDate: due.localDate, late: due.late },
    });
    enqueued += 1;
    input.logger.debug({ operatorId: operator.id, ...due }, 'digest due');
  }
  return enqueued;
}
