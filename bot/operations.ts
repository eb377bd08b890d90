import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Channel, Identity, MessageRef, ThreadRef } from '../core/domain.ts';
import { closedFailureCard } from '../core/failure-card.ts';
import type { JobQueue, SpineJob } from '../core/jobs.ts';
import { formatLocalTime } from '../core/local-time.ts';
import type { ChatSender } from '../core/message.ts';
import type { OperationsCommand } from '../core/operations-commands.ts';
import type { Repositories } from '../db/repositories/index.ts';

export interface OperationsDeps {
  repos: Repositories;
  queue: JobQueue;
  chat: ChatSender;
  clock: Clock;
  logger: Logger;
  /** Told when an operator changes their digest time (queue mode moves the job scheduler). */
  onDigestTimeChanged?: (operatorId: number) => Promise<void>;
}

export type FailureOutcome = 'retried' | 'dismissed' | 'already_closed' | 'not_found';

/** The digest and failure commands, and the Retry / Dismiss buttons, for any chat adapter. */
export class Operations {
  constructor(private readonly deps: OperationsDeps) {}

  async handle(command: OperationsCommand, identity: Identity, thread: ThreadRef): Promise<void> {
    switch (command.kind) {
      case 'digest-now':
        await this.deps.queue.enqueue({
          name: 'send-digest',
          data: { operatorId: identity.operatorId, requestId: `${this.deps.clock.now().getTime()}`, thread },
        });
        return;
      case 'digest-at': {
        const time = formatLocalTime(command.time);
        await this.deps.repos.digests.setDigestTime(identity.operatorId, time, true);
        await this.deps.onDigestTimeChanged?.(identity.operatorId);
        const operator = await this.deps.repos.operators.get(identity.operatorId);
        await this.deps.repos.events.append({
          operatorId: identity.operatorId,
          actor: 'operator',
          verb: 'moved',
          object: `the daily digest to ${time}`,
          channel: identity.channel,
        });
        await this.deps.chat.post(thread, {
          text: `Done: your daily digest now comes at ${time} (${operator?.timezone ?? 'UTC'}).`,
        });
        return;
      }
      case 'failure':
        await this.decideFailure({
          failureId: command.failureId,
          choice: command.choice,
          operatorId: identity.operatorId,
          channel: identity.channel,
          thread,
        });
        return;
    }
  }

  /**
   * Retry or dismiss a failure (a button or a command). A compare-and-set from `open` makes one of
   * any number of clicks win. Retry enqueues the failed job again under a new job id.
   */
  async decideFailure(input: {
    failureId: number | null;
    choice: 'retry' | 'dismiss';
    operatorId: number;
    channel: Channel;
    thread?: ThreadRef;
  }): Promise<FailureOutcome> {
    const { repos } = this.deps;
    const found =
      input.failureId === null
        ? await repos.failures.latestOpen(input.operatorId)
        : await repos.failures.get(input.failureId);
    if (!found || found.operatorId !== input.operatorId) {
      if (input.thread) {
        await this.deps.chat.post(input.thread, {
          text:
            input.failureId === null
              ? 'There is no open failure.'
              : `There is no failure #${input.failureId}.`,
        });
      }
      return 'not_found';
    }
    const closed = await repos.failures.close(
      found.id,
      input.choice === 'retry' ? 'resolved' : 'dismissed',
      input.choice === 'retry' ? 'retried by the operator' : 'dismissed by the operator',
    );
    if (!closed) {
      if (input.thread)
        await this.deps.chat.post(input.thread, { text: `Failure #${found.id} was already handled.` });
      return 'already_closed';
    }
    for (const ref of (found.evidence.cards as MessageRef[] | undefined) ?? []) {
      await this.deps.chat.update(ref, closedFailureCard(found, input.choice)).catch((error: unknown) => {
        this.deps.logger.warn({ err: String(error), failureId: found.id }, 'could not update a failure card');
      });
    }
    await repos.events.append({
      operatorId: input.operatorId,
      actor: 'operator',
      verb: input.choice === 'retry' ? 'asked to retry' : 'dismissed',
      object: `failure #${found.id}`,
      goalId: found.goalId,
      channel: input.channel,
    });
    if (input.choice === 'dismiss') {
      if (input.thread) await this.deps.chat.post(input.thread, { text: `Dismissed failure #${found.id}.` });
      return 'dismissed';
    }
    const job = found.evidence.job as SpineJob | undefined;
    if (job && (job.name === 'run-goal' || job.name === 'resume-goal')) {
      // Back to running, so recovery re-enqueues it too if Redis loses the retry.
      await repos.goals.setStatus(job.data.goalId, 'running');
      await this.deps.queue.enqueue({ ...job, data: { ...job.data, retryOf: found.id } } as SpineJob);
    } else if (job && job.name === 'send-digest') {
      await this.deps.queue.enqueue({
        name: 'send-digest',
        data: { ...job.data, localDate: undefined, requestId: `retry-${found.id}` },
      } as SpineJob);
    }
    if (input.thread) await this.deps.chat.post(input.thread, { text: `Retrying (failure #${found.id}).` });
    return 'retried';
  }
}
