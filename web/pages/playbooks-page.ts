import { html } from '../html.ts';
import { consolePage, csrfField } from './layout.ts';

interface Common {
  csrf: string;
  notice?: string | null;
  badges?: { approvals?: number; failures?: number };
}

/** A playbook as this page shows it: never its secret, only whether it was shown. */
export interface PlaybookRow {
  id: number;
  name: string;
  version: number;
  enabled: boolean;
  trigger: string;
  /** Set for a webhook trigger: the URL to call. */
  webhookUrl: string | null;
  secretShownAt: Date | null;
}

/**
 * The playbooks and, for webhook ones, the URL and the secret's state: shown once (a button that
 * spends the one showing), then only rotation gives a new one.
 */
export function playbooksPage(playbooks: PlaybookRow[], common: Common): string {
  const body =
    playbooks.length === 0
      ? html`<p class="card">No playbooks yet. Add one in chat with <code>playbook add</code>.</p>`
      : playbooks.map(
          (playbook) => html`<section class="card" id="playbook-${playbook.id}">
  <strong>${playbook.name}</strong> <span class="muted">v${playbook.version} · ${playbook.enabled ? 'enabled' : 'disabled'} · ${playbook.trigger} trigger</span>
  ${playbook.webhookUrl ? webhookSection(playbook, playbook.webhookUrl, common.csrf) : ''}
</section>`,
        );
  return consolePage({ title: 'Playbooks', section: 'playbooks', ...common, body });
}

function webhookSection(playbook: PlaybookRow, url: string, csrf: string) {
  const form = (what: 'reveal' | 'rotate', label: string, confirm: string | null) =>
    html`<form class="inline" method="post" action="/console/playbooks/${playbook.id}/secret"${confirm ? html` data-confirm="${confirm}"` : ''}>${csrfField(csrf)}<input type="hidden" name="do" value="${what}"><button type="submit"${what === 'reveal' ? html` class="primary"` : ''}>${label}</button></form>`;
  return html`<p>Webhook: <code>POST ${url}</code></p>
  <p class="muted">Signed with X-Spine-Timestamp, X-Spine-Delivery and X-Spine-Signature (README.md, "Playbook webhooks").</p>
  <div class="row">${
    playbook.secretShownAt
      ? html`<span class="muted">The secret was shown on ${playbook.secretShownAt.toISOString().replace('T', ' ').slice(0, 16)} UTC and is not shown again.</span> ${form('rotate', 'Rotate the secret', `Rotate the webhook secret of ${playbook.name}? The current one stops working at once.`)}`
      : form('reveal', 'Show the webhook secret (once)', null)
  }</div>`;
}

/** The one showing of a secret: copy it now. Served with `cache-control: no-store`. */
export function webhookSecretPage(
  input: { name: string; secret: string; url: string; rotated: boolean },
  common: Common,
): string {
  return consolePage({
    title: `Webhook secret of ${input.name}`,
    section: 'playbooks',
    ...common,
    body: html`<section class="card">
  <p>${input.rotated ? 'A new secret: the previous one no longer works. ' : ''}Copy it now into the sender's settings: Spine does not show it again (rotate it to get a new one).</p>
  <pre id="webhook-secret">${input.secret}</pre>
  <p>Webhook: <code>POST ${input.url}</code></p>
  <p><a href="/console/playbooks">Back to playbooks</a></p>
</section>`,
  });
}
