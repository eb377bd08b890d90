import type { Action, Goal } from '../../core/domain.ts';
import { channelLabel, formatEventTime } from '../../core/narrative.ts';
import type {
  ForensicAction,
  ForensicApproval,
  ForensicStep,
  GoalForensics,
  ModelCall,
} from '../../ledger/goal-forensics.ts';
import { html } from '../html.ts';
import { consolePage, jsonBlock, statusPill } from './layout.ts';
import type { TimelineEntry } from './timeline-page.ts';

/** Everything the goal page shows: the ledger's forensics, plus each action's parameters and the events. */
export interface GoalPageView {
  forensics: GoalForensics;
  /** The goal's actions in full (parameters and result as stored), which forensics summarises. */
  actions: Action[];
  events: TimelineEntry[];
}

interface Common {
  csrf: string;
  notice?: string | null;
  /** The operator's time zone (default UTC). */
  timezone?: string;
}

function when(at: Date | null, timezone: string): string {
  return at ? formatEventTime(at, timezone, true) : '';
}

/** Recent goals, newest first. */
export function goalsPage(goals: Goal[], common: Common): string {
  const tz = common.timezone ?? 'UTC';
  const body =
    goals.length === 0
      ? html`<p class="card">No goals yet. Ask Spine something in chat.</p>`
      : html`<div class="card"><table><thead><tr><th>#</th><th>Goal</th><th>Status</th><th>Created</th></tr></thead><tbody>${goals.map(
          (goal) =>
            html`<tr><td><a href="/console/goals/${goal.id}">#${goal.id}</a></td><td>${goal.text}</td><td>${statusPill(goal.status)}</td><td class="muted">${when(goal.createdAt, tz)}</td></tr>`,
        )}</tbody></table></div>`;
  return consolePage({ title: 'Goals', section: 'goals', ...common, body });
}

function approvalLine(approval: ForensicApproval | undefined, tz: string): unknown {
  if (!approval) return html`<dt>Approval</dt><dd>not needed</dd>`;
  if (approval.status === 'pending')
    return html`<dt>Approval</dt><dd>${statusPill('pending')} <a href="/console/approvals#approval-${approval.id}">decide approval #${approval.id}</a></dd>`;
  return html`<dt>Approval</dt><dd>${statusPill(approval.status)} #${approval.id} by ${approval.decidedBy ?? '?'}${
    approval.decidedVia ? ` via ${approval.decidedVia}` : ''
  } at ${when(approval.decidedAt, tz)}</dd>`;
}

function describeCall(call: ModelCall): string {
  return `${call.purpose} on ${call.model}, ${call.inputTokens}+${call.outputTokens} tokens, $${call.costUsd.toFixed(4)}${call.cached ? ' (cached)' : ''}`;
}

/** One node run of the goal graph: inputs (memory pointers), outputs, pause and resume, model calls. */
function stepItem(step: ForensicStep, tz: string): unknown {
  return html`<li class="card" id="step-${step.step}"><strong>${step.node}</strong> <span class="muted">step ${step.step}, ${when(step.at, tz)}</span>
  <ul>${step.inputs.map((input) => html`<li>in: ${input}</li>`)}${step.memories.map(
    (memory) =>
      html`<li>memory #${memory.id} (${memory.kind}${memory.source ? `, from ${memory.source}` : ''}): “${memory.snippet}”</li>`,
  )}${step.outputs.map((output) => html`<li>out: ${output.field} = ${output.summary}</li>`)}${
    step.interrupted
      ? html`<li>paused for ${step.interrupted.waitingFor}${step.interrupted.resumedWith ? `; resumed with ${step.interrupted.resumedWith}` : ''}</li>`
      : ''
  }${step.error ? html`<li class="problem">error: ${step.error}</li>` : ''}${step.modelCalls.map(
    (call) => html`<li>model: ${describeCall(call)}</li>`,
  )}</ul></li>`;
}

function connectorCall(call: ForensicAction | undefined, tz: string): unknown {
  if (!call) return '';
  return html`<dt>Connector call</dt><dd>${call.status}, ${call.attempts} attempt${call.attempts === 1 ? '' : 's'}${
    call.executedAt ? ` at ${when(call.executedAt, tz)}` : ''
  }${call.undoOf ? html`, undoing <a href="#action-${call.undoOf}">action #${call.undoOf}</a>` : ''}</dd>`;
}

/**
 * A goal step by step from the ledger's forensics: each node in order, then the approvals and
 * connector calls (each action with its parameters and result), its events and model calls.
 */
export function goalPage(view: GoalPageView, common: Common): string {
  const tz = common.timezone ?? 'UTC';
  const { forensics } = view;
  const { goal } = forensics;
  const steps =
    forensics.steps.length === 0
      ? html`<p class="card muted">No graph steps were recorded for this goal.</p>`
      : html`<ol class="steps">${forensics.steps.map((step) => stepItem(step, tz))}</ol>`;
  const actions =
    view.actions.length === 0
      ? html`<p class="card muted">No actions.</p>`
      : view.actions.map(
          (action) => html`<section class="card" id="action-${action.id}">
  <strong>Action #${action.id}: ${action.preview.title}</strong> ${statusPill(action.status)}
  <dl><dt>Operation</dt><dd>${action.connector}.${action.operation} (risk: ${action.risk})</dd>
  <dt>Why</dt><dd>${action.why}</dd>${approvalLine(
    forensics.approvals.find((approval) => approval.actionId === action.id),
    tz,
  )}${connectorCall(
    forensics.actions.find((call) => call.id === action.id),
    tz,
  )}</dl>
  <details open><summary>Parameters</summary>${jsonBlock(action.params)}</details>
  ${action.result !== null ? html`<details><summary>Result</summary>${jsonBlock(action.result)}</details>` : ''}
  ${action.error ? html`<p class="problem">Error ${action.error.code}: ${action.error.message}</p>` : ''}
</section>`,
        );
  const calls =
    forensics.modelCalls.length === 0
      ? html`<p class="muted">No model calls (offline rules).</p>`
      : html`<table><thead><tr><th>At</th><th>Model</th><th>Purpose</th><th>Tokens in/out</th><th>Cost</th></tr></thead><tbody>${forensics.modelCalls.map(
          (call) =>
            html`<tr><td>${when(call.at, tz)}</td><td>${call.model}</td><td>${call.purpose}${call.cached ? ' (cached)' : ''}</td><td>${call.inputTokens} / ${call.outputTokens}</td><td>$${call.costUsd.toFixed(4)}</td></tr>`,
        )}</tbody></table><p class="muted">Total: $${forensics.totalCostUsd.toFixed(4)} over ${forensics.modelCalls.length} call${forensics.modelCalls.length === 1 ? '' : 's'}.</p>`;
  const body = html`<div class="card"><p>${goal.text}</p>
<dl><dt>Status</dt><dd>${statusPill(goal.status)}</dd><dt>Asked by</dt><dd>${goal.requestedBy} via ${channelLabel(goal.channel)}</dd>
<dt>Created</dt><dd>${when(goal.createdAt, tz)}</dd><dt>Updated</dt><dd>${when(goal.updatedAt, tz)}</dd></dl></div>
<h2>Steps</h2>${steps}
<h2>Approvals and connector calls</h2>${actions}
<h2>Events</h2><ol class="timeline card">${view.events.map((entry) => html`<li>${entry.sentence}</li>`)}</ol>
<h2>Model calls</h2><div class="card">${calls}</div>`;
  return consolePage({ title: `Goal #${goal.id}`, section: 'goals', ...common, body });
}
