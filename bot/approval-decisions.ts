import type { Logger } from 'pino';
import { hashParams } from '../connectors/connector-runtime.ts';
import { typedInCardThread } from '../core/approval-scope.ts';
import { decidedCard } from '../core/cards.ts';
import type { Clock } from '../core/clock.ts';
import type { ApprovalDecision, Channel, Identity, ThreadRef } from '../core/domain.ts';
import type { JobQueue } from '../core/jobs.ts';
import type { ChatSender } from '../core/message.ts';
import { channelLabel } from '../core/narrative.ts';
import {
  type ApprovalExpiry,
  approvalExpiresAt,
  describeDuration,
  needsExplicitApproval,
} from '../core/policy.ts';
import { type BoundApproval, type ExpiryReason, isExpired } from '../db/repositories/approvals.ts';
import type { Repositories } from '../db/repositories/index.ts';
import type { FailureDesk } from '../ledger/failures.ts';

export type DecisionOutcome =
  | { kind: 'decided'; approvalId: number; decision: ApprovalDecision }
  | { kind: 'already_decided'; approvalId: number }
  | { kind: 'not_found' }
  | { kind: 'forbidden' }
  /** A bare word that cannot say which card: none or several wait in its thread (all listed). */
  | { kind: 'unclear'; approvalIds: number[] }
  /** A bare word for a money, legal or destructive card: its button or `approve #id` is needed. */
  | { kind: 'needs_explicit'; approvalId: number }
  /** Nothing approved: the card ran out of time, or its action changed after it was shown. */
  | { kind: 'expired'; approvalId: number; reason: 'timeout' | 'params_changed' };

/** A decision as it arrives: a button, `approve #id`, or a bare word (`approvalId` null). */
export interface DecisionInput {
  approvalId: number | null;
  decision: ApprovalDecision;
  channel: Channel;
  userId: string;
  thread?: ThreadRef;
}

export interface ApprovalDecisionsDeps {
  repos: Repositories;
  queue: JobQueue;
  chat: ChatSender;
  clock: Clock;
  logger: Logger;
  /** How long a pending approval lasts per risk class (`guardrails.approvalExpiry`). */
  expiry: ApprovalExpiry;
  /** Runs an edited retry once its approval is decided (its goal's graph has finished). */
  failures?: FailureDesk | undefined;
  /**
   * Expire an approval now, as the sweep does (jobs/approval-expiry.ts: card, story, goal). Without
   * it a late or changed approval is still refused, and the sweep expires it on its next pass.
   */
  expire?: ((approvalId: number, reason: ExpiryReason) => Promise<boolean>) | undefined;
}

/**
 * Approval decisions, bound and bounded (issue #22): a bare word decides only the one card of the
 * thread it is typed in, and never a money, legal or destructive one; a decision holds only for
 * the parameters its card showed, and only until the card expires. The intake authenticates the
 * sender and checks ownership before anything here runs.
 */
export class ApprovalDecisions {
  readonly #deps: ApprovalDecisionsDeps;

  constructor(deps: ApprovalDecisionsDeps) {
    this.#deps = deps;
  }

  /**
   * The card a bare word (`yes`, `ok`, `approve`, `1`, `no` …) decides: the only pending card of the
   * thread it was typed in. Anything else is answered in the thread (which cards wait, and how to
   * pick one) and decides nothing; a word typed while a second card arrives elsewhere cannot reach it.
   */
  async cardForBareWord(
    operatorId: number,
    decision: ApprovalDecision,
    thread: ThreadRef | undefined,
  ): Promise<{ kind: 'chosen'; approvalId: number } | DecisionOutcome> {
    const pending = await this.#deps.repos.approvals.listPendingWithThreads(operatorId);
    if (!thread) return { kind: 'unclear', approvalIds: pending.map((entry) => entry.approval.id) };
    const here = pending.filter((entry) => typedInCardThread(thread, entry.goalThread, entry.approval.cards));
    const only = here.length === 1 ? here[0] : undefined;
    if (!only) {
      const verb = decision === 'approved' ? 'approve' : 'reject';
      const list = (entries: typeof pending) =>
        entries.map(
          (entry) => `• approval #${entry.approval.id}: ${entry.title} — \`${verb} #${entry.approval.id}\``,
        );
      const lines =
        here.length > 1
          ? [
              `${here.length} approvals wait in this thread, so I decided nothing. Say which one:`,
              ...list(here),
            ]
          : pending.length === 0
            ? ['Nothing is waiting for your approval.']
            : [
                `Nothing waits for your approval in this thread, so I decided nothing. Waiting elsewhere (${pending.length}):`,
                ...list(pending),
              ];
      await this.#reply(thread, lines.join('\n'));
      return pending.length === 0
        ? { kind: 'not_found' }
        : { kind: 'unclear', approvalIds: here.map((e) => e.approval.id) };
    }
    if (decision === 'approved' && needsExplicitApproval(only.risk)) {
      await this.#reply(
        thread,
        `Approval #${only.approval.id} is a ${only.risk} action (${only.title}): a bare word does not approve it. ` +
          `Press its Approve button or type \`approve #${only.approval.id}\`.`,
      );
      return { kind: 'needs_explicit', approvalId: only.approval.id };
    }
    return { kind: 'chosen', approvalId: only.approval.id };
  }

  /**
   * Decide an approval the operator owns. A compare-and-set makes exactly one of any number of
   * clicks win; an approval wins only while the card has not expired and the action still has the
   * parameters the card showed (otherwise it expires at once, and nothing runs).
   */
  async decide(existing: BoundApproval, input: DecisionInput, identity: Identity): Promise<DecisionOutcome> {
    const { repos } = this.#deps;
    const approvalId = existing.id;
    const current = await repos.actions.get(existing.actionId);
    const expiresAt = current && approvalExpiresAt(existing.createdAt, current.risk, this.#deps.expiry);
    if (existing.status === 'pending' && current && expiresAt && expiresAt <= this.#deps.clock.now()) {
      // The sweep runs once a minute: the time is checked here too, so a late click approves nothing.
      await this.#deps.expire?.(approvalId, 'timeout');
      return this.#expired(existing, input, 'timeout', describeDuration(this.#deps.expiry[current.risk]));
    }
    const result = await repos.approvals.decide(
      approvalId,
      input.decision,
      `${input.channel}:${input.userId}`,
      input.channel,
      this.#deps.clock.now(),
      current ? hashParams(current.params) : undefined,
    );
    if (result.kind === 'not_found') return { kind: 'not_found' };
    if (result.kind === 'params_changed') {
      await this.#deps.expire?.(approvalId, 'params_changed');
      return this.#expired(existing, input, 'params_changed');
    }
    const action = await repos.actions.get(result.approval.actionId);
    if (result.kind === 'already_decided') {
      if (input.thread) {
        const who = result.approval.decidedVia ? ` via ${channelLabel(result.approval.decidedVia)}` : '';
        await this.#reply(
          input.thread,
          isExpired(result.approval)
            ? `Approval #${approvalId} has expired; nothing was done.`
            : `Approval #${approvalId} was already ${result.approval.status}${who}.`,
        );
      }
      // Decided but never carried onto its action: the try that won the compare-and-set failed
      // before its resume was enqueued, and this is the platform's retry. The job id makes a
      // repeat of a resume already enqueued a no-op.
      if (action?.status === 'awaiting_approval')
        await this.#deps.queue.enqueue({
          name: 'resume-goal',
          data: { goalId: result.approval.goalId, approvalId: result.approval.id },
        });
      return { kind: 'already_decided', approvalId };
    }
    const approval = result.approval;
    await repos.events.append({
      operatorId: identity.operatorId,
      actor: 'operator',
      verb: input.decision === 'approved' ? 'approved' : 'rejected',
      object: action?.preview.doing ?? `action #${approval.actionId}`,
      ref: `approval #${approval.id}`,
      goalId: approval.goalId,
      actionId: approval.actionId,
      channel: input.channel,
    });
    if (action) {
      const operator = await repos.operators.get(identity.operatorId);
      const card = decidedCard(
        action,
        approval,
        identity.displayName ?? operator?.name ?? 'you',
        operator?.timezone ?? 'UTC',
      );
      for (const ref of approval.cards) {
        await this.#deps.chat.update(ref, card).catch((error: unknown) => {
          this.#deps.logger.warn({ err: String(error), approvalId }, 'could not update an approval card');
        });
      }
    }
    // After the compare-and-set: a crash before this line is recovered on start (decided, not resumed).
    await this.#deps.queue.enqueue({
      name: 'resume-goal',
      data: { goalId: approval.goalId, approvalId: approval.id },
    });
    // An edited retry of a failure is approved after its goal's graph finished: the desk runs it.
    await this.#deps.failures?.afterDecision(approval.id, input.thread);
    return { kind: 'decided', approvalId, decision: input.decision };
  }

  async #expired(
    approval: BoundApproval,
    input: DecisionInput,
    reason: 'timeout' | 'params_changed',
    after?: string,
  ): Promise<DecisionOutcome> {
    if (input.thread)
      await this.#reply(
        input.thread,
        reason === 'timeout'
          ? `Approval #${approval.id} expired (nobody decided within ${after}); nothing was done. Ask again if it is still needed.`
          : `I did not approve #${approval.id}: the action changed after its card was shown, so the card has expired and nothing was done. Ask again to see a new card.`,
      );
    return { kind: 'expired', approvalId: approval.id, reason };
  }

  async #reply(thread: ThreadRef, text: string): Promise<void> {
    await this.#deps.chat.post(thread, { text });
  }
}
