import type { Action, Approval } from './domain.ts';
import { type FailureRemedy, parseFailureButton } from './failure-card.ts';
import type { OutboundMessage } from './message.ts';
import { channelLabel } from './narrative.ts';
import { needsExplicitApproval } from './policy.ts';

/** Button actions carry only the approval id; adapters map them to opaque platform ids. */
export function approvalButtonAction(decision: 'approve' | 'reject', approvalId: number): string {
  return `approval:${decision}:${approvalId}`;
}

/** Parse `approval:<approve|reject>:<id>`; null for anything else (tampered or foreign data). */
export function parseApprovalButton(
  action: string,
): { decision: 'approved' | 'rejected'; approvalId: number } | null {
  const match = /^approval:(approve|reject):(\d{1,15})$/.exec(action);
  if (!match) return null;
  return { decision: match[1] === 'approve' ? 'approved' : 'rejected', approvalId: Number(match[2]) };
}

/**
 * The approval card: exactly what will happen, from the structured action (never from free model
 * text), with Approve / Reject. A money, legal or destructive card says that a bare `yes` will not
 * do: its button or `approve #id` is needed.
 */
export function approvalCard(
  action: Action,
  approval: Approval,
  reason: string,
  options: { alwaysAllow?: boolean } = {},
): OutboundMessage {
  return {
    text: `Approval #${approval.id} needed: ${action.preview.title}`,
    blocks: [
      { type: 'section', text: `Approval #${approval.id} — ${action.preview.title}` },
      { type: 'fields', fields: action.preview.fields },
      ...(action.preview.body ? [{ type: 'preformatted' as const, text: action.preview.body }] : []),
      { type: 'context', text: `Goal #${action.goalId} · risk: ${action.risk} · ${reason}` },
      ...(needsExplicitApproval(action.risk)
        ? [
            {
              type: 'context' as const,
              text: `Press Approve or type \`approve #${approval.id}\`: a bare “yes” does not approve ${action.risk} actions.`,
            },
          ]
        : []),
      {
        type: 'buttons',
        buttons: [
          { action: approvalButtonAction('approve', approval.id), label: 'Approve', style: 'primary' },
          { action: approvalButtonAction('reject', approval.id), label: 'Reject', style: 'danger' },
          ...(options.alwaysAllow
            ? [{ action: alwaysAllowButtonAction(approval.id), label: 'Always allow' }]
            : []),
        ],
      },
      ...(action.scheduledAt
        ? [
            {
              type: 'context' as const,
              text: `Scheduled: runs at ${action.scheduledAt.toISOString()} once approved.`,
            },
          ]
        : []),
    ],
  };
}

/** "Always allow": approve this card and trust the operation on this target from now on. */
export function alwaysAllowButtonAction(approvalId: number): string {
  return `trust:allow:${approvalId}`;
}

/** Undo a reversible action that ran. */
export function undoButtonAction(actionId: number): string {
  return `undo:${actionId}`;
}

/** Cancel a scheduled action before it runs. */
export function cancelButtonAction(actionId: number): string {
  return `cancel:${actionId}`;
}

/** The connector-side buttons; null for anything else (tampered or foreign data). */
export type ConnectorButton =
  | { kind: 'always_allow'; approvalId: number }
  | { kind: 'undo'; actionId: number }
  | { kind: 'cancel'; actionId: number }
  | { kind: 'failure'; remedy: FailureRemedy; failureId: number };

export function parseConnectorButton(action: string): ConnectorButton | null {
  let match = /^trust:allow:(\d{1,15})$/.exec(action);
  if (match) return { kind: 'always_allow', approvalId: Number(match[1]) };
  match = /^undo:(\d{1,15})$/.exec(action);
  if (match) return { kind: 'undo', actionId: Number(match[1]) };
  match = /^cancel:(\d{1,15})$/.exec(action);
  if (match) return { kind: 'cancel', actionId: Number(match[1]) };
  const failure = parseFailureButton(action);
  if (failure) return { kind: 'failure', remedy: failure.choice, failureId: failure.failureId };
  return null;
}

/** The card after the decision: who decided and when, with no live buttons left. */
export function decidedCard(
  action: Action,
  approval: Approval,
  deciderName: string,
  timezone: string,
): OutboundMessage {
  const verb = approval.status === 'approved' ? 'Approved' : 'Rejected';
  const when = approval.decidedAt
    ? new Intl.DateTimeFormat('en-GB', {
        timeZone: timezone,
        dateStyle: 'medium',
        timeStyle: 'short',
      }).format(approval.decidedAt)
    : '';
  const via = approval.decidedVia ? ` via ${channelLabel(approval.decidedVia)}` : '';
  return {
    text: `${verb}: ${action.preview.title}`,
    blocks: [
      { type: 'section', text: `Approval #${approval.id} — ${action.preview.title}` },
      { type: 'fields', fields: action.preview.fields },
      { type: 'context', text: `${verb} by ${deciderName}${when ? ` on ${when}` : ''}${via}.` },
    ],
  };
}

/**
 * The card once its approval expired: nobody decided in time, or the action changed after the
 * card was shown. No live buttons are left, and it says that nothing ran.
 */
export function expiredCard(
  action: Action,
  approval: Approval,
  reason: { kind: 'timeout'; after: string } | { kind: 'params_changed' },
): OutboundMessage {
  const why =
    reason.kind === 'timeout'
      ? `Expired: nobody decided within ${reason.after}. Nothing was done; ask again if it is still needed.`
      : 'Expired: the action changed after this card was shown. Nothing was done; ask again to see a new card.';
  return {
    text: `Expired: ${action.preview.title}`,
    blocks: [
      { type: 'section', text: `Approval #${approval.id} — ${action.preview.title}` },
      // Changed parameters are not what the card showed: they are not shown as if they were.
      ...(reason.kind === 'timeout' ? [{ type: 'fields' as const, fields: action.preview.fields }] : []),
      { type: 'context', text: why },
    ],
  };
}
