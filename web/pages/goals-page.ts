import type { Action, Approval, Goal } from '../../core/domain.ts';
import { formatEventTime } from '../../core/narrative.ts';
import type { NewLlmUsage } from '../../db/repositories/llm-usage.ts';
import { html } from '../html.ts';
import { consolePage, jsonBlock, statusPill } from './layout.ts';
import type { TimelineEntry } from './timeline-page.ts';

/** One model call made for a goal. */
export type ModelCall = Pick<
  NewLlmUsage,
  'at' | 'role' | 'purpose' | 'model' | 'inputTokens' | 'outputTokens' | 'costUsd' | 'cached'
>;

/** Everything the goal page shows; the ledger's forensics can fill it with richer steps later. */
export interface GoalPageView {
  goal: Goal;
  steps: Array<{ action: Action; approval: Approval | null }>;
  events: TimelineEntry[];
  modelCalls: ModelCall[];
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

function approvalLine(approval: Approval | null, tz: string): unknown {
  if (!approval) return html`<dt>Approval</dt><dd>not needed</dd>`;
  if (approval.status === 'pending')
    return html`<dt>Approval</dt><dd>${statusPill('pending')} <a href="/console/approvals#approval-${approval.id}">decide approval #${approval.id}</a></dd>`;
  return html`<dt>Approval</dt><dd>${statusPill(approval.status)} #${approval.id} by ${approval.decidedBy ?? '?'}${
    approval.decidedVia ? ` via ${approval.decidedVia}` : ''
  } at ${when(approval.decidedAt, tz)}</dd>`;
}

/** A goal step by step: its actions (parameters, approval, result), events and model calls. */
export function goalPage(view: GoalPageView, common: Common): string {
  const tz = common.timezone ?? 'UTC';
  const { goal } = view;
  const total = view.modelCalls.reduce((sum, call) => sum + call.costUsd, 0);
  const actions =
    view.steps.length === 0
      ? html`<p class="card muted">No actions.</p>`
      : view.steps.map(
          ({ action, approval }) => html`<section class="card" id="action-${action.id}">
  <strong>Action #${action.id}: ${action.preview.title}</strong> ${statusPill(action.status)}
  <dl><dt>Operation</dt><dd>${action.connector}.${action.operation} (risk: ${action.risk})</dd>
  <dt>Why</dt><dd>${action.why}</dd>${approvalLine(approval, tz)}
  ${action.executedAt ? html`<dt>Executed</dt><dd>${when(action.executedAt, tz)}</dd>` : ''}</dl>
  <details open><summary>Parameters</summary>${jsonBlock(action.params)}</details>
  ${action.result !== null ? html`<details><summary>Result</summary>${jsonBlock(action.result)}</details>` : ''}
  ${action.error ? html`<p class="problem">Error ${action.error.code}: ${action.error.message}</p>` : ''}
</section>`,
        );
  const calls =
    view.modelCalls.length === 0
      ? html`<p class="muted">No model calls.</p>`
      : html`<table><thead><tr><th>At</th><th>Model</th><th>Purpose</th><th>Tokens in/out</th><th>Cost</th></tr></thead><tbody>${view.modelCalls.map(
          (call) =>
            html`<tr><td>${when(call.at, tz)}</td><td>${call.model} (${call.role})</td><td>${call.purpose}${call.cached ? ' (cached)' : ''}</td><td>${call.inputTokens} / ${call.outputTokens}</td><td>$${call.costUsd.toFixed(4)}</td></tr>`,
        )}</tbody></table><p class="muted">Total: $${total.toFixed(4)} over ${view.modelCalls.length} call${view.modelCalls.length === 1 ? '' : 's'}.</p>`;
  const body = html`<div class="card"><p>${goal.text}</p>
<dl><dt>Status</dt><dd>${statusPill(goal.status)}</dd><dt>Asked by</dt><dd>${goal.requestedBy} via ${goal.channel}</dd>
<dt>Created</dt><dd>${when(goal.createdAt, tz)}</dd><dt>Updated</dt><dd>${when(goal.updatedAt, tz)}</dd></dl></div>
<h2>Actions</h2>${actions}
<h2>Events</h2><ol class="timeline card">${view.events.map((entry) => html`<li>${entry.sentence}</li>`)}</ol>
<h2>Model calls</h2><div class="card">${calls}</div>`;
  return consolePage({ title: `Goal #${goal.id}`, section: 'goals', ...common, body });
}
