import { html, type SafeHtml } from '../html.ts';

export type ConsoleSection = 'timeline' | 'goals' | 'approvals' | 'failures' | 'playbooks' | 'metrics';

const SECTIONS: Array<{ id: ConsoleSection; label: string; href: string }> = [
  { id: 'timeline', label: 'Timeline', href: '/console' },
  { id: 'goals', label: 'Goals', href: '/console/goals' },
  { id: 'approvals', label: 'Approvals', href: '/console/approvals' },
  { id: 'failures', label: 'Failures', href: '/console/failures' },
  { id: 'playbooks', label: 'Playbooks', href: '/console/playbooks' },
  { id: 'metrics', label: 'Metrics', href: '/console/metrics' },
];

/** A whole page: head (viewport, local stylesheet), the navigation, an optional notice, the body. */
export function consolePage(input: {
  title: string;
  section?: ConsoleSection;
  /** Present when logged in: the navigation and the logout form need it. */
  csrf?: string;
  /** Counts shown next to a section's name (pending approvals, open failures). */
  badges?: Partial<Record<ConsoleSection, number>>;
  notice?: string | null;
  body: SafeHtml | SafeHtml[];
}): string {
  const nav = input.csrf
    ? html`<nav>${SECTIONS.map((section) => {
        const badge = input.badges?.[section.id];
        return html`<a href="${section.href}"${section.id === input.section ? html` class="active" aria-current="page"` : ''}>${section.label}${badge ? ` (${badge})` : ''}</a>`;
      })}</nav>
      <form class="inline" method="post" action="/console/logout">
        <input type="hidden" name="csrf" value="${input.csrf}"><button type="submit">Log out</button>
      </form>`
    : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${input.title} · Spine</title>
<link rel="stylesheet" href="/console/assets/console.css">
<script src="/console/assets/console.js" defer></script>
</head>
<body>
<header><strong>Spine</strong>${nav}</header>
<main>
<h1>${input.title}</h1>
${input.notice ? html`<p class="card notice" role="status">${input.notice}</p>` : ''}
${input.body}
</main>
</body>
</html>
`.value;
}

/** A status word as a coloured pill. */
export function statusPill(status: string): SafeHtml {
  return html`<span class="status status-${status.replace(/[^a-z_]/g, '')}">${status.replace('_', ' ')}</span>`;
}

/** A hidden CSRF field for a form. */
export function csrfField(csrf: string): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${csrf}">`;
}

/** Any JSON value, pretty-printed (and escaped). */
export function jsonBlock(value: unknown): SafeHtml {
  return html`<pre>${JSON.stringify(value ?? null, null, 2)}</pre>`;
}
