import type { EditableField } from '../../bot/approval-edit.ts';
import type { Action, Approval } from '../../core/domain.ts';
import { html } from '../html.ts';
import { consolePage, csrfField } from './layout.ts';

/** A pending approval with the action it would let run. */
export interface PendingApproval {
  approval: Approval;
  action: Action;
}

interface Common {
  csrf: string;
  notice?: string | null;
  badges?: { approvals?: number; failures?: number };
}

function decisionForm(approvalId: number, decision: 'approve' | 'reject', csrf: string): unknown {
  return html`<form class="inline" method="post" action="/console/approvals/${approvalId}/decide">${csrfField(csrf)}<input type="hidden" name="decision" value="${decision}"><button type="submit" class="${decision === 'approve' ? 'primary' : 'danger'}">${decision === 'approve' ? 'Approve' : 'Reject'}</button></form>`;
}

/** The inbox: every pending approval as its card (the structured fields), with Approve / Reject / Edit. */
export function approvalsPage(pending: PendingApproval[], common: Common): string {
  const body =
    pending.length === 0
      ? html`<p class="card">Nothing is waiting for your approval.</p>`
      : pending.map(
          ({ approval, action }) => html`<section class="card" id="approval-${approval.id}">
  <strong>Approval #${approval.id} — ${action.preview.title}</strong>
  <dl>${action.preview.fields.map((field) => html`<dt>${field.label}</dt><dd>${field.value}</dd>`)}</dl>
  ${action.preview.body ? html`<details><summary>Exactly what will be sent</summary><pre>${action.preview.body}</pre></details>` : ''}
  <p class="muted"><a href="/console/goals/${action.goalId}">Goal #${action.goalId}</a> · risk: ${action.risk} · ${action.why}</p>
  <div class="row">${decisionForm(approval.id, 'approve', common.csrf)} ${decisionForm(approval.id, 'reject', common.csrf)}
  <a class="button" href="/console/approvals/${approval.id}/edit">Edit</a></div>
</section>`,
        );
  return consolePage({ title: 'Approvals', section: 'approvals', ...common, body });
}

/** Edit an action's text parameters before approving (the same fields as Slack's Edit dialog). */
export function editApprovalPage(
  target: { approvalId: number; action: Action; fields: EditableField[] },
  common: Common & { problem?: string | null },
): string {
  const { approvalId, action, fields } = target;
  const body = html`${common.problem ? html`<p class="card problem" role="alert">${common.problem}</p>` : ''}
<form class="card" method="post" action="/console/approvals/${approvalId}/edit">${csrfField(common.csrf)}
  <p><strong>${action.preview.title}</strong></p>
  ${
    fields.length === 0
      ? html`<p class="muted">This action has no text fields to edit.</p>`
      : fields.map((field) =>
          field.multiline
            ? html`<p><label for="field-${field.key}">${field.key}</label><textarea id="field-${field.key}" name="field.${field.key}">${field.value}</textarea></p>`
            : html`<p><label for="field-${field.key}">${field.key}</label><input id="field-${field.key}" name="field.${field.key}" value="${field.value}" size="40"></p>`,
        )
  }
  <div class="row"><button type="submit" class="primary">Save changes</button> <a href="/console/approvals">Cancel</a></div>
  <p class="muted">Saving checks the new values and updates the card in chat; approve afterwards to run it.</p>
</form>`;
  return consolePage({ title: `Edit approval #${approvalId}`, section: 'approvals', ...common, body });
}
