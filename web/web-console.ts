import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BaseCheckpointSaver } from '@langchain/langgraph';
import type { Logger } from 'pino';
import type { ApprovalEditor } from '../bot/approval-edit.ts';
import { readRawBody } from '../bot/http-route.ts';
import { approvalButtonAction } from '../core/cards.ts';
import type { Clock } from '../core/clock.ts';
import type { Channel } from '../core/domain.ts';
import { hasCode } from '../core/errors.ts';
import { failureButtonAction } from '../core/failure-card.ts';
import { channelLabel } from '../core/narrative.ts';
import type { Queryable } from '../db/database.ts';
import { triggerKind } from '../playbooks/playbook-format.ts';
import { parsePlaybook } from '../playbooks/playbook-parse.ts';
import { PlaybookStore, type StoredPlaybook } from '../playbooks/playbook-store.ts';
import { CONSOLE_CSS, CONSOLE_JS } from './console-assets.ts';
import {
  ConsoleAuth,
  type ConsoleSession,
  csrfTokenFor,
  csrfTokenMatches,
  webUserId,
} from './console-auth.ts';
import { ConsoleData } from './console-data.ts';
import { html } from './html.ts';
import type { MetricsSource } from './metrics-source.ts';
import { approvalsPage, editApprovalPage } from './pages/approvals-page.ts';
import { failuresPage } from './pages/failures-page.ts';
import { goalPage, goalsPage } from './pages/goals-page.ts';
import { consolePage } from './pages/layout.ts';
import { loggedOutPage, loginPage } from './pages/login-page.ts';
import { metricsPage } from './pages/metrics-page.ts';
import { type PlaybookRow, playbooksPage, webhookSecretPage } from './pages/playbooks-page.ts';
import type { TimelineFilters } from './pages/timeline-page.ts';
import { timelinePage } from './pages/timeline-page.ts';

export const SESSION_COOKIE = 'spine_console';

/** Days of metrics the charts show. */
const METRICS_DAYS = 30;

export interface WebConsoleDeps {
  db: Queryable;
  clock: Clock;
  logger: Logger;
  /** Where Spine is reachable from the operator's browser (SPINE_PUBLIC_URL or http://localhost:PORT). */
  baseUrl: string;
  /**
   * The chat buttons' entry point (`Intake.press`): the console's Approve / Reject / Retry / Dismiss
   * go through the same compare-and-set as a click in chat, as channel `web`.
   */
  buttons: { press(input: { action: string; channel: Channel; userId: string }): Promise<boolean> };
  /** The approval editor chat uses (Slack's Edit dialog): same fields, same validation. */
  editor: Pick<ApprovalEditor, 'target' | 'apply'>;
  /** The goal graph's checkpointer: the history a goal's forensics are read from (thread id = goal id). */
  checkpointer: BaseCheckpointSaver;
  /** The business metrics; without one the charts page says so. */
  metrics?: MetricsSource | undefined;
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function send(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS, ...headers });
  response.end(body);
}

function redirect(response: ServerResponse, location: string, headers: Record<string, string> = {}): void {
  response.writeHead(303, { location, ...SECURITY_HEADERS, ...headers });
  response.end();
}

/** The value of one cookie from the Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

function positiveInteger(value: string | null | undefined): number | undefined {
  return value && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

/** The timeline filters from a query string; a malformed number is ignored, times are read later. */
export function parseTimelineFilters(query: URLSearchParams): TimelineFilters {
  const filters: TimelineFilters = {};
  const goalId = positiveInteger(query.get('goal')?.replace(/^#/, ''));
  if (goalId !== undefined) filters.goalId = goalId;
  for (const key of ['connector', 'actor', 'text', 'since', 'until'] as const) {
    const value = query.get(key)?.trim();
    if (value) filters[key] = value.slice(0, 200);
  }
  const before = positiveInteger(query.get('before'));
  if (before !== undefined) filters.before = before;
  return filters;
}

interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  session: ConsoleSession;
  sessionId: string;
  csrf: string;
  timezone: string;
  badges: { approvals: number; failures: number };
  notice: string | null;
}

/**
 * The web console under `/console`: server-rendered pages (timeline, goals, approvals, failures,
 * metrics) behind a session opened by a one-time link from chat. Every POST carries the session's
 * CSRF token; decisions go through the chat buttons' path so cards update and actions run once.
 */
export class WebConsole {
  readonly prefix = '/console';
  readonly auth: ConsoleAuth;
  readonly #deps: WebConsoleDeps;
  readonly #data: ConsoleData;
  readonly #playbooks: PlaybookStore;

  constructor(deps: WebConsoleDeps) {
    this.#deps = deps;
    this.auth = new ConsoleAuth({ db: deps.db, clock: deps.clock, baseUrl: deps.baseUrl });
    this.#data = new ConsoleData({ db: deps.db, checkpointer: deps.checkpointer });
    this.#playbooks = new PlaybookStore(deps.db);
  }

  /** The reply to the `console` chat command: a fresh one-time link, or why there is none. */
  async loginReply(channel: Channel, userId: string): Promise<string> {
    try {
      const link = await this.auth.issueLink(channel, userId);
      // The local console may be `spine chat`, which serves no HTTP: say where the link works.
      const where = channel === 'console' ? ' Open it while `spine start` is running.' : '';
      return `Your web console login link (works once, for the next 10 minutes; do not share it):\n${link}${where}`;
    } catch (error) {
      if (hasCode(error, 'console.not_operator')) return error.message;
      throw error;
    }
  }

  /** Handle any request under `/console`. */
  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (method === 'GET' && path === '/console/assets/console.css')
      return this.#asset(response, CONSOLE_CSS, 'text/css');
    if (method === 'GET' && path === '/console/assets/console.js')
      return this.#asset(response, CONSOLE_JS, 'text/javascript');
    if (path === '/console/login') return this.#login(request, response, method, url.searchParams);

    const sessionId = readCookie(request.headers.cookie, SESSION_COOKIE);
    const session = await this.auth.session(sessionId);
    if (!session || !sessionId) {
      send(response, 401, loggedOutPage('You are not logged in, or your session has ended.'));
      return;
    }
    const operator = await this.#data.repos.operators.get(session.operatorId);
    const base = {
      method,
      path,
      query: url.searchParams,
      session,
      sessionId,
      csrf: csrfTokenFor(sessionId),
      timezone: operator?.timezone ?? 'UTC',
      badges: await this.#badges(session.operatorId),
      notice: null,
    };
    if (method === 'POST') {
      const form = new URLSearchParams((await readRawBody(request, 65_536)).toString('utf8'));
      if (!csrfTokenMatches(sessionId, form.get('csrf') ?? undefined)) {
        send(
          response,
          403,
          this.#message(base, 'Forbidden', 'This form has expired. Reload the page and try again.'),
        );
        return;
      }
      return this.#post(base, form, response);
    }
    if (method !== 'GET') {
      send(response, 405, this.#message(base, 'Not allowed', `${method} is not supported here.`));
      return;
    }
    return this.#get({ ...base, notice: await this.#notice(session.operatorId, url.searchParams) }, response);
  }

  async #get(request: Request, response: ServerResponse): Promise<void> {
    const { session, path } = request;
    const common = {
      csrf: request.csrf,
      notice: request.notice,
      badges: request.badges,
      timezone: request.timezone,
    };
    if (path === '/console') {
      const view = await this.#data.timeline(session.operatorId, parseTimelineFilters(request.query), {
        timezone: request.timezone,
        now: this.#deps.clock.now(),
        verify: request.query.get('verify') === '1',
      });
      return send(response, 200, timelinePage(view, common));
    }
    if (path === '/console/goals')
      return send(
        response,
        200,
        goalsPage(await this.#data.repos.goals.recent(session.operatorId, 100), common),
      );
    const goalId = positiveInteger(/^\/console\/goals\/(\d+)$/.exec(path)?.[1]);
    if (goalId !== undefined) {
      const view = await this.#data.goal(session.operatorId, goalId, request.timezone);
      if (view) return send(response, 200, goalPage(view, common));
      return send(response, 404, this.#message(request, 'Not found', `There is no goal #${goalId}.`));
    }
    if (path === '/console/approvals') {
      const pending = [];
      for (const approval of await this.#data.repos.approvals.listPending(session.operatorId)) {
        const action = await this.#data.repos.actions.get(approval.actionId);
        if (action) pending.push({ approval, action });
      }
      return send(response, 200, approvalsPage(pending, common));
    }
    const editId = positiveInteger(/^\/console\/approvals\/(\d+)\/edit$/.exec(path)?.[1]);
    if (editId !== undefined) {
      const target = await this.#deps.editor.target(editId, 'web', webUserId(session));
      if (target.kind === 'refused')
        return send(response, 409, this.#message(request, 'Cannot edit', target.reason));
      return send(response, 200, editApprovalPage(target, common));
    }
    if (path === '/console/failures')
      return send(
        response,
        200,
        failuresPage(await this.#data.repos.failures.listOpen(session.operatorId), common),
      );
    if (path === '/console/playbooks') {
      const rows = (await this.#playbooks.list(session.operatorId)).map((playbook) =>
        this.#playbookRow(playbook),
      );
      return send(response, 200, playbooksPage(rows, common));
    }
    if (path === '/console/metrics') {
      const days = this.#deps.metrics
        ? await this.#deps.metrics.daily(session.operatorId, {
            days: METRICS_DAYS,
            now: this.#deps.clock.now(),
          })
        : null;
      return send(response, 200, metricsPage(days, common));
    }
    send(response, 404, this.#message(request, 'Not found', 'There is no such page in the console.'));
  }

  async #post(request: Request, form: URLSearchParams, response: ServerResponse): Promise<void> {
    const { session, path } = request;
    const userId = webUserId(session);
    if (path === '/console/logout') {
      await this.auth.logout(request.sessionId);
      send(response, 200, loggedOutPage('You are logged out.'), { 'set-cookie': this.#cookie('', 0) });
      return;
    }
    const decideId = positiveInteger(/^\/console\/approvals\/(\d+)\/decide$/.exec(path)?.[1]);
    const decision = form.get('decision');
    if (decideId !== undefined && (decision === 'approve' || decision === 'reject')) {
      // The same entry as a chat button: compare-and-set, card update in chat, resume once.
      await this.#deps.buttons.press({
        action: approvalButtonAction(decision, decideId),
        channel: 'web',
        userId,
      });
      return redirect(response, `/console/approvals?notice=approval&id=${decideId}`);
    }
    const editId = positiveInteger(/^\/console\/approvals\/(\d+)\/edit$/.exec(path)?.[1]);
    if (editId !== undefined) {
      const values: Record<string, string> = {};
      for (const [key, value] of form) if (key.startsWith('field.')) values[key.slice(6)] = value;
      const outcome = await this.#deps.editor.apply(editId, 'web', userId, values);
      if (outcome.kind === 'edited')
        return redirect(response, `/console/approvals?notice=edited&id=${editId}`);
      const target = await this.#deps.editor.target(editId, 'web', userId);
      if (target.kind === 'refused')
        return send(response, 409, this.#message(request, 'Cannot edit', outcome.reason));
      return send(
        response,
        422,
        editApprovalPage(target, { csrf: request.csrf, badges: request.badges, problem: outcome.reason }),
      );
    }
    const secretOf = positiveInteger(/^\/console\/playbooks\/(\d+)\/secret$/.exec(path)?.[1]);
    const secretAction = form.get('do');
    if (secretOf !== undefined && (secretAction === 'reveal' || secretAction === 'rotate'))
      return this.#webhookSecret(request, secretOf, secretAction, response);
    const failureId = positiveInteger(/^\/console\/failures\/(\d+)\/remedy$/.exec(path)?.[1]);
    const remedy = form.get('remedy');
    if (failureId !== undefined && (remedy === 'retry' || remedy === 'dismiss')) {
      await this.#deps.buttons.press({
        action: failureButtonAction(remedy, failureId),
        channel: 'web',
        userId,
      });
      return redirect(response, `/console/failures?notice=failure&id=${failureId}`);
    }
    send(response, 404, this.#message(request, 'Not found', 'There is no such form in the console.'));
  }

  /**
   * Show a playbook's webhook secret: `reveal` once (compare-and-set: a second tab, a resubmitted
   * form or a replayed request gets "already shown"), `rotate` any time (a new secret, shown once).
   * The page is the POST's answer, never a URL that could be reloaded or cached.
   */
  async #webhookSecret(
    request: Request,
    playbookId: number,
    what: 'reveal' | 'rotate',
    response: ServerResponse,
  ): Promise<void> {
    const { operatorId } = request.session;
    const playbook = await this.#playbooks.byId(playbookId);
    const row = playbook && playbook.operatorId === operatorId ? this.#playbookRow(playbook) : null;
    if (!playbook || !row?.webhookUrl)
      return send(
        response,
        404,
        this.#message(request, 'Not found', `There is no webhook playbook #${playbookId}.`),
      );
    const now = this.#deps.clock.now();
    const secret =
      what === 'reveal'
        ? await this.#playbooks.revealWebhookSecret(operatorId, playbookId, now)
        : await this.#playbooks.rotateWebhookSecret(operatorId, playbookId, now);
    if (!secret)
      return send(
        response,
        409,
        this.#message(
          request,
          'Already shown',
          `The webhook secret of ${playbook.name} was already shown once. Rotate it to get a new one.`,
        ),
      );
    this.#deps.logger.info(
      { operatorId, playbook: playbook.name, rotated: what === 'rotate' },
      what === 'rotate' ? 'playbook webhook secret rotated' : 'playbook webhook secret shown',
    );
    send(
      response,
      200,
      webhookSecretPage(
        { name: playbook.name, secret, url: row.webhookUrl, rotated: what === 'rotate' },
        { csrf: request.csrf, badges: request.badges },
      ),
    );
  }

  #playbookRow(playbook: StoredPlaybook): PlaybookRow {
    let trigger = 'invalid';
    try {
      trigger = triggerKind(parsePlaybook(playbook.current.source).playbook.trigger);
    } catch {
      // A stored version that no longer parses is listed as invalid.
    }
    return {
      id: playbook.id,
      name: playbook.name,
      version: playbook.current.version,
      enabled: playbook.enabled,
      trigger,
      webhookUrl:
        trigger === 'webhook'
          ? `${this.#deps.baseUrl.replace(/\/+$/, '')}/playbooks/${playbook.name}/webhook`
          : null,
      secretShownAt: playbook.webhookSecretShownAt,
    };
  }

  /** GET shows a page that posts the token (see loginPage); POST spends it and opens a session. */
  async #login(
    request: IncomingMessage,
    response: ServerResponse,
    method: string,
    query: URLSearchParams,
  ): Promise<void> {
    if (method === 'GET') {
      const token = query.get('token') ?? '';
      if (!token) return send(response, 400, loggedOutPage('This link has no login token.'));
      return send(response, 200, loginPage(token));
    }
    if (method !== 'POST') return send(response, 405, loggedOutPage('Open the link from chat to log in.'));
    const form = new URLSearchParams((await readRawBody(request, 4096)).toString('utf8'));
    const outcome = await this.auth.login(form.get('token') ?? '');
    if (outcome.kind === 'refused') return send(response, 401, loggedOutPage(outcome.reason));
    this.#deps.logger.info(
      { operatorId: outcome.session.operatorId, channel: outcome.session.channel },
      'web console login',
    );
    const maxAge = Math.max(
      0,
      Math.round((outcome.session.expiresAt.getTime() - this.#deps.clock.now().getTime()) / 1000),
    );
    redirect(response, '/console', { 'set-cookie': this.#cookie(outcome.sessionId, maxAge) });
  }

  #cookie(value: string, maxAgeSeconds: number): string {
    return `${SESSION_COOKIE}=${value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${
      this.auth.secure ? '; Secure' : ''
    }`;
  }

  #asset(response: ServerResponse, body: string, type: string): void {
    response.writeHead(200, {
      'content-type': `${type}; charset=utf-8`,
      'cache-control': 'public, max-age=3600',
      'x-content-type-options': 'nosniff',
    });
    response.end(body);
  }

  async #badges(operatorId: number): Promise<{ approvals: number; failures: number }> {
    const result = await this.#deps.db.query(
      `SELECT (SELECT count(*) FROM approvals WHERE operator_id = $1 AND status = 'pending')::int AS approvals,
              (SELECT count(*) FROM failures WHERE operator_id = $1 AND status = 'open')::int AS failures`,
      [operatorId],
    );
    return {
      approvals: Number(result.rows[0]?.approvals ?? 0),
      failures: Number(result.rows[0]?.failures ?? 0),
    };
  }

  /** The notice after a form: the current state of what was acted on, read again (never echoed). */
  async #notice(operatorId: number, query: URLSearchParams): Promise<string | null> {
    const kind = query.get('notice');
    const id = positiveInteger(query.get('id'));
    const { repos } = this.#data;
    if (id === undefined) return null;
    if (kind === 'approval' || kind === 'edited') {
      const approval = await repos.approvals.get(id);
      if (!approval || approval.operatorId !== operatorId)
        return `There is no approval #${id} waiting for you.`;
      if (approval.status === 'pending')
        return kind === 'edited'
          ? `Approval #${id} was edited; the card in chat shows the new values. Approve it to run it.`
          : `Approval #${id} is still pending.`;
      const via = approval.decidedVia ? ` via ${channelLabel(approval.decidedVia)}` : '';
      return `Approval #${id} is ${approval.status}${via}.`;
    }
    if (kind === 'failure') {
      const failure = await repos.failures.get(id);
      if (!failure || failure.operatorId !== operatorId) return `There is no failure #${id}.`;
      return failure.status === 'open'
        ? `Failure #${id} is still open.`
        : `Failure #${id} is ${failure.status === 'resolved' ? 'being retried' : 'dismissed'}.`;
    }
    return null;
  }

  #message(request: Pick<Request, 'csrf' | 'badges'>, title: string, text: string): string {
    return consolePage({
      title,
      csrf: request.csrf,
      badges: request.badges,
      body: html`<p class="card">${text}</p>`,
    });
  }
}
