import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Identity, ThreadRef } from '../core/domain.ts';
import type { JobQueue } from '../core/jobs.ts';
import { formatLocalTime } from '../core/local-time.ts';
import type { ChatSender } from '../core/message.ts';
import type { OperationsCommand } from '../core/operations-commands.ts';
import type { Repositories } from '../db/repositories/index.ts';
import type { FailureDesk } from '../ledger/failures.ts';

export interface OperationsDeps {
  repos: Repositories;
  queue: JobQueue;
  chat: ChatSender;
  clock: Clock;
  logger: Logger;
  /** Told when an operator changes their digest time (queue mode moves the job scheduler). */
  onDigestTimeChanged?: (operatorId: number) => Promise<void>;
  /** Failures and their remedies (`retry`, `dismiss` typed as operations commands). */
  failures?: FailureDesk | undefined;
}

/** The digest and failure commands for any chat adapter. */
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
        // Failures and their remedies live in the ledger (ledger/failures.ts).
        if (!this.deps.failures) {
          await this.deps.chat.post(thread, { text: 'Failure remedies are not set up in this process.' });
          return;
        }
        await this.deps.failures.remedy(
          { remedy: command.choice, failureId: command.failureId },
          { operatorId: identity.operatorId, channel: identity.channel, userId: identity.externalId, thread },
        );
        return;
    }
  }
}
