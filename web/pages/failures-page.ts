import type { Failure } from '../../core/domain.ts';
import { html } from '../html.ts';
import { consolePage, csrfField } from './layout.ts';

interface Common {
  csrf: string;
  notice?: string | null;
  badges?: { approvals?: number; failures?: number };
}

/** The remedies a failure offers that the console (like chat) can apply. */
function remedies(failure: Failure): Array<'retry' | 'dismiss'> {
  return failure.remediation.filter(
    (remedy): remedy is 'retry' | 'dismiss' => remedy === 'retry' || remedy === 'dismiss',
  );
}

/** Open failures: what went wrong in plain words, the evidence, and the same remedy buttons as chat. */
export function failuresPage(failures: Failure[], common: Common): string {
  const body =
    failures.length === 0
      ? html`<p class="card">No open failures.</p>`
      : failures.map(
          (failure) => html`<section class="card problem" id="failure-${failure.id}">
  <strong>Failure #${failure.id} — ${failure.message}</strong>
  <p class="muted">${failure.kind}${failure.goalId !== null ? html` · <a href="/console/goals/${failure.goalId}">goal #${failure.goalId}</a>` : ''}${failure.actionId !== null ? ` · action #${failure.actionId}` : ''} · ${failure.createdAt.toISOString().replace('T', ' ').slice(0, 16)}</p>
  <div class="row">${remedies(failure).map(
    (remedy) =>
      html`<form class="inline" method="post" action="/console/failures/${failure.id}/remedy"${remedy === 'dismiss' ? html` data-confirm="Dismiss failure #${failure.id}?"` : ''}>${csrfField(common.csrf)}<input type="hidden" name="remedy" value="${remedy}"><button type="submit"${remedy === 'retry' ? html` class="primary"` : ''}>${remedy === 'retry' ? 'Retry' : 'Dismiss'}</button></form>`,
  )}</div>
</section>`,
        );
  return consolePage({ title: 'Failures', section: 'failures', ...common, body });
}
