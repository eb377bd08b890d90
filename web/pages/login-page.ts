import { html } from '../html.ts';
import { consolePage } from './layout.ts';

/**
 * What a login link opens: a form that posts the token. The console's script submits it at once;
 * link previews (which do not run scripts) see only this page and leave the token unspent.
 */
export function loginPage(token: string): string {
  return consolePage({
    title: 'Log in',
    body: html`<form class="card" method="post" action="/console/login" data-autosubmit>
  <input type="hidden" name="token" value="${token}">
  <p>Logging you in to Spine's console…</p>
  <button type="submit" class="primary">Log in</button>
</form>`,
  });
}

/** Shown when there is no session, or a link did not work. */
export function loggedOutPage(message: string): string {
  return consolePage({
    title: 'Spine console',
    body: html`<div class="card problem"><p>${message}</p>
<p class="muted">To log in, type <code>console</code> to Spine in Slack, Telegram or <code>spine chat</code>: it replies with a one-time link that works for 10 minutes.</p></div>`,
  });
}
