import type { Action } from '../core/domain.ts';
import { DEFAULT_TRUST_AFTER, isTrustable, offersAlwaysAllow } from '../core/policy.ts';
import { localTimeOn } from '../core/schedule-time.ts';
import type { ConnectorStateRepository } from '../db/repositories/connector-state.ts';
import type { PreparedAction } from './connector-runtime.ts';

/** Daily limits of one connector: how many actions, and how much money for `money` operations. */
export interface ConnectorLimits {
  dailyCount?: number | undefined;
  dailyAmount?: number | undefined;
}

/** The operator's guardrail settings (spine.config.yaml `guardrails:`). */
export interface GuardrailSettings {
  /** Clean approvals of one operation and target before "Always allow" is offered. */
  trustAfter: number;
  /** How long the Undo button works after a reversible action ran. */
  undoWindowMs: number;
  limits: Record<string, ConnectorLimits>;
}

export const DEFAULT_GUARDRAILS: GuardrailSettings = {
  trustAfter: DEFAULT_TRUST_AFTER,
  undoWindowMs: 3_600_000,
  limits: {},
};

/** What the guard needs besides risk and probation: trust and daily limits. */
export async function checkGuardrails(
  state: ConnectorStateRepository,
  settings: GuardrailSettings,
  input: {
    operatorId: number;
    prepared: PreparedAction;
    now: Date;
    timezone: string;
    idempotencyKey: string;
  },
): Promise<{ trusted: boolean; limitExceeded: string | null }> {
  const { prepared } = input;
  const trusted =
    isTrustable(prepared.risk) &&
    (await state.findTrust(input.operatorId, prepared.connector, prepared.operation, prepared.target)) !==
      null;
  const limits = settings.limits[prepared.connector];
  let limitExceeded: string | null = null;
  if (limits && prepared.external && prepared.risk !== 'read') {
    const since = localTimeOn(input.now, input.timezone, 0, 0, 0);
    const used = await state.usageSince(input.operatorId, prepared.connector, since, input.idempotencyKey);
    if (limits.dailyCount !== undefined && used.count + 1 > limits.dailyCount) {
      limitExceeded = `${prepared.connector} is limited to ${limits.dailyCount} action${limits.dailyCount === 1 ? '' : 's'} a day and today's are used up (raise guardrails.limits.${prepared.connector}.dailyCount in spine.config.yaml, or try tomorrow)`;
    } else if (
      limits.dailyAmount !== undefined &&
      prepared.amount !== null &&
      used.amount + prepared.amount > limits.dailyAmount
    ) {
      limitExceeded = `${prepared.connector} may move at most ${limits.dailyAmount} a day; ${used.amount} is already used and this is ${prepared.amount} (raise guardrails.limits.${prepared.connector}.dailyAmount in spine.config.yaml)`;
    }
  }
  return { trusted, limitExceeded };
}

/** Whether this action's approval card should offer "Always allow". */
export async function shouldOfferAlwaysAllow(
  state: ConnectorStateRepository,
  settings: GuardrailSettings,
  action: Action,
): Promise<boolean> {
  if (!action.target) return false;
  const trusted =
    (await state.findTrust(action.operatorId, action.connector, action.operation, action.target)) !== null;
  const cleanApprovals = await state.cleanApprovals(
    action.operatorId,
    action.connector,
    action.operation,
    action.target,
  );
  return offersAlwaysAllow({ risk: action.risk, trusted, cleanApprovals, trustAfter: settings.trustAfter });
}
