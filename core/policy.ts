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
  if (input.risk === 'read') return { decision: 'auto', reason: 'reading changes nothing' };
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
