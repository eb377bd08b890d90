import type { Logger } from 'pino';
import { expiredCard } from '../core/cards.ts';
import type { Clock } from '../core/clock.ts';
import { describeError } from '../core/errors.ts';
import type { JobQueue } from '../core/jobs.ts';
import type { ChatSender } from '../core/message.ts';
import { type ApprovalExpiry, describeDuration } from '../core/policy.ts';
import type { BoundApproval, ExpiryReason } from '../db/repositories/approvals.ts';
import type { Repositories } from '../db/repositories/index.ts';

export interface ApprovalExpiryDeps {
  repos: Repositories;
  /** Where the goal's resume is enqueued (its graph then ends: nothing left to approve). */
  queue: JobQueue;
  /** Updates the approval's cards to "expired". */
  chat: ChatSender;
  clock: Clock;
  logger: Logger;
  /** How long a pending approval lasts per risk class (`guardrails.approvalExpiry`). */
  expiry: ApprovalExpiry;
}

/**
 * Expire one pending approval: a compare-and-set from `pending` (a click racing it either wins or
 * sees "already expired"), then {@link finishExpiry}. False when it was decided meanwhile.
 */
export async function expireApproval(
  deps: ApprovalExpiryDeps,
  approvalId: number,
  reason: ExpiryReason,
): Promise<boolean> {
  const expired = await deps.repos.approvals.expire(approvalId, reason, deps.clock.now());
  if (!expired) return false;
  await finishExpiry(deps, expired);
  return true;
}

/**
 * Carry an expiry onto its action (`awaiting_approval` → `refused`: nothing runs), then tell the
 * story once, update every card and wake the goal, whose graph ends with nothing approved. The
 * carry is a compare-and-set: the first to make it does the rest, so a re-run (the sweep finding an
 * expiry a crash interrupted) never tells it twice.
 */
export async function finishExpiry(deps: ApprovalExpiryDeps, approval: BoundApproval): Promise<void> {
  const { repos } = deps;
  const action = await repos.actions.get(approval.actionId);
  if (!action || !(await repos.actions.transition(action.id, ['awaiting_approval'], 'refused'))) return;
  const timeout = approval.expiryReason !== 'params_changed';
  const after = describeDuration(deps.expiry[action.risk]);
  await repos.events.append({
    operatorId: approval.operatorId,
    actor: 'spine',
    verb: timeout ? 'gave up on' : 'refused',
    object: action.preview.doing,
    why: timeout
      ? `nobody decided approval #${approval.id} within ${after}; nothing was done`
      : `its parameters changed after the card of approval #${approval.id} was shown; nothing was done`,
    ref: `approval #${approval.id}`,
    goalId: approval.goalId,
    actionId: action.id,
    payload: { expired: approval.expiryReason, approvalId: approval.id },
  });
  const card = expiredCard(
    action,
    approval,
    timeout ? { kind: 'timeout', after } : { kind: 'params_changed' },
  );
  for (const ref of approval.cards) {
    await deps.chat.update(ref, card).catch((error: unknown) => {
      deps.logger.warn(
        { err: describeError(error), approvalId: approval.id },
        'could not update an expired card',
      );
    });
  }
  // The job id (the approval's) makes a repeat a no-op; a goal whose graph already finished (an
  // edited retry's approval) has nothing to resume.
  await deps.queue.enqueue({
    name: 'resume-goal',
    data: { goalId: approval.goalId, approvalId: approval.id },
  });
}

/**
 * The sweep: expire every pending approval whose time has run out, and finish any expiry a crash
 * interrupted. Safe in several processes at once (each expiry is a compare-and-set). Returns the
 * number of approvals it expired.
 */
export async function expireDueApprovals(deps: ApprovalExpiryDeps): Promise<number> {
  let expired = 0;
  for (const approval of await deps.repos.approvals.listToExpire(deps.clock.now(), deps.expiry)) {
    try {
      if (approval.expiryReason) await finishExpiry(deps, approval);
      else if (await expireApproval(deps, approval.id, 'timeout')) expired += 1;
    } catch (error) {
      deps.logger.error(
        { err: describeError(error), approvalId: approval.id },
        'could not expire an approval',
      );
    }
  }
  if (expired > 0) deps.logger.info({ expired }, 'expired pending approvals');
  return expired;
}

/**
 * The expiry sweep's timer, in every main process. A minute apart: the shortest default (money) is
 * an hour, and a decision made between two sweeps checks the time itself (bot/intake.ts), so
 * nothing is approved late while the card still shows its buttons.
 */
export class ApprovalExpirySweep {
  readonly #deps: ApprovalExpiryDeps;
  readonly #everyMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;

  constructor(deps: ApprovalExpiryDeps, everyMs = 60_000) {
    this.#deps = deps;
    this.#everyMs = everyMs;
  }

  /** Sweep now and then every `everyMs`. */
  start(): void {
    if (this.#timer) return;
    void this.runOnce();
    this.#timer = setInterval(() => void this.runOnce(), this.#everyMs);
    this.#timer.unref();
  }

  /** Expire one approval now (a decision found it late or changed): see {@link expireApproval}. */
  expire(approvalId: number, reason: ExpiryReason): Promise<boolean> {
    return expireApproval(this.#deps, approvalId, reason);
  }

  /** One sweep (a sweep already running is joined, not doubled). */
  async runOnce(): Promise<number> {
    this.#running ??= expireDueApprovals(this.#deps)
      .catch((error: unknown) => {
        this.#deps.logger.error({ err: describeError(error) }, 'the approval expiry sweep failed');
        return 0;
      })
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
