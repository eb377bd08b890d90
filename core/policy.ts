import type { RiskClass } from './domain.ts';

/** What the guard does with a proposed action. */
export type PolicyVerdict =
  | { decision: 'auto'; reason: string }
  | { decision: 'approval'; reason: string }
  | { decision: 'refuse'; reason: string };

export interface PolicyInput {
  risk: RiskClass;
  /** False for Spine's own bookkeeping (e.g. writing a memory); true for anything that leaves Spine. */
  external: boolean;
  now: Date;
  probationUntil: Date | null;
  /** The operator said "always allow" for this operation and target. */
  trusted?: boolean;
  /** Set when this action would go over a daily limit of its connector: the reason, in words. */
  limitExceeded?: string | null;
  /**
   * Proposed after outside content (an e-mail, a document, a tool's answer) entered the goal: it
   * could be steering the request, so even a read of a service outside Spine waits for approval.
   */
  afterOutsideContent?: boolean;
}

/** Risks that always need a human, whatever the trust or probation state. */
const ALWAYS_APPROVE: ReadonlySet<RiskClass> = new Set(['money', 'legal', 'destructive']);

/**
 * Decide, in code and never from model output, whether an action runs on its own, waits for the
 * operator's approval, or is refused.
 */
export function decidePolicy(input: PolicyInput): PolicyVerdict {
  if (!input.external) return { decision: 'auto', reason: "Spine's own bookkeeping" };
  if (input.limitExceeded) return { decision: 'refuse', reason: input.limitExceeded };
  if (input.risk === 'read') {
    return input.afterOutsideContent
      ? {
          decision: 'approval',
          reason:
            'outside content entered this request, so reading from a service outside Spine needs your approval',
        }
      : { decision: 'auto', reason: 'reading changes nothing' };
  }
  if (ALWAYS_APPROVE.has(input.risk)) {
    return { decision: 'approval', reason: `${input.risk} actions always need your approval` };
  }
  const inProbation = input.probationUntil === null || input.now < input.probationUntil;
  if (inProbation)
    return { decision: 'approval', reason: 'external writes need your approval during probation' };
  if (input.trusted) return { decision: 'auto', reason: 'you chose "always allow" for this' };
  return { decision: 'approval', reason: 'external writes need your approval' };
}

/** Default number of clean approvals of one operation and target before "Always allow" is offered. */
export const DEFAULT_TRUST_AFTER = 5;

/**
 * Whether the approval card offers "Always allow": only for plain writes (money, legal and
 * destructive always need a human), not already trusted, after enough clean approvals.
 */
export function offersAlwaysAllow(input: {
  risk: RiskClass;
  trusted: boolean;
  cleanApprovals: number;
  trustAfter: number;
}): boolean {
  if (input.risk !== 'write' || input.trusted) return false;
  return input.cleanApprovals >= input.trustAfter;
}

/** Whether a risk class may ever be trusted ("always allow"). */
export function isTrustable(risk: RiskClass): boolean {
  return risk === 'write' || risk === 'read';
}

/** Why a card is shown, in words, from the action's risk. */
export function approvalReason(risk: RiskClass): string {
  // A read asks only when outside content entered the request (decidePolicy).
  if (risk === 'read') return 'outside content entered this request, so this read needs your approval';
  return ALWAYS_APPROVE.has(risk)
    ? `${risk} actions always need your approval`
    : 'external writes need your approval';
}

/** The connector name of playbook checkpoints: actions of Spine's own that always ask the operator. */
export const CHECKPOINT_CONNECTOR = 'playbook';

/** Why a card is shown, for a stored action: a playbook checkpoint asks by design, anything else by its risk. */
export function approvalReasonFor(action: { connector: string; risk: RiskClass }): string {
  return action.connector === CHECKPOINT_CONNECTOR
    ? 'a checkpoint of the playbook: it always asks you'
    : approvalReason(action.risk);
}

/**
 * Risks a bare word (`yes`, `ok`, `approve`, `1`) never approves: the operator presses the card's
 * Approve button or types `approve #id`, so a card that arrives while they type cannot ride on it.
 */
const EXPLICIT_APPROVAL: ReadonlySet<RiskClass> = new Set(['money', 'legal', 'destructive']);

/** Whether approving this risk needs the card's button or `approve #id` (never a bare word). */
export function needsExplicitApproval(risk: RiskClass): boolean {
  return EXPLICIT_APPROVAL.has(risk);
}

/** How long a pending approval lasts, per risk class, in milliseconds (`guardrails.approvalExpiry`). */
export type ApprovalExpiry = Readonly<Record<RiskClass, number>>;

const HOUR_MS = 3_600_000;

/** A day for every risk, an hour for money: a payment approved tomorrow may no longer be due. */
export const DEFAULT_APPROVAL_EXPIRY: ApprovalExpiry = {
  read: 24 * HOUR_MS,
  write: 24 * HOUR_MS,
  money: HOUR_MS,
  legal: 24 * HOUR_MS,
  destructive: 24 * HOUR_MS,
};

/** When an approval asked at `askedAt` for an action of this risk expires. */
export function approvalExpiresAt(askedAt: Date, risk: RiskClass, expiry: ApprovalExpiry): Date {
  return new Date(askedAt.getTime() + expiry[risk]);
}

/** "1 h", "24 h", "90 min", "2 days": an expiry as the card and the story say it. */
export function describeDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60 || minutes % 60 !== 0) return `${minutes} min`;
  const hours = minutes / 60;
  if (hours <= 48 || hours % 24 !== 0) return `${hours} h`;
  return `${hours / 24} days`;
}
