import type { Logger } from 'pino';
import type { ConnectorHealth } from '../connectors/resilience.ts';
import type { Clock } from '../core/clock.ts';
import type { ThreadRef } from '../core/domain.ts';
import { failureButtonAction } from '../core/failure-card.ts';
import { localDateOf, parseLocalTime, zonedInstant } from '../core/local-time.ts';
import type { ChatSender, MessageButton, OutboundMessage } from '../core/message.ts';
import type { Queryable } from '../db/database.ts';
import { createRepositories } from '../db/repositories/index.ts';
import type { AlertRules } from './alerts-config.ts';

export type AlertRuleName =
  | 'money_action_failed'
  | 'failures_per_day'
  | 'digest_undelivered'
  | 'circuit_open'
  | 'spend_over_budget';

/** An alert a rule wants to raise; the dedupe key names the rule, its subject and its window. */
export interface AlertCandidate {
  rule: AlertRuleName;
  operatorId: number;
  dedupeKey: string;
  /** What happened, in plain words. */
  text: string;
  /** What to do about it, in plain words. */
  remedy: string;
  buttons: MessageButton[];
  details: Record<string, unknown>;
}

export interface FiredAlert extends AlertCandidate {
  id: number;
}

export interface BusinessAlertsDeps {
  db: Queryable;
  chat: ChatSender;
  clock: Clock;
  logger: Logger;
  rules: AlertRules;
  /** The models' daily budget (USD), used when the spend rule follows it. */
  dailyBudgetUsd: number | null;
}

interface AlertOperator {
  id: number;
  timezone: string;
  digestTime: string;
  createdAt: Date;
}

/** A process's circuit report older than this is from a process that is gone: ignored. */
const STALE_REPORT_MS = 5 * 60_000;
/** An undelivered alert is posted again by later evaluations: at most this many attempts in all… */
const REDELIVERY_ATTEMPTS = 5;
/** …while it is younger than this… */
const REDELIVERY_WINDOW_MS = 24 * 3_600_000;
/** …and no other attempt began less than this ago. */
const REDELIVERY_CLAIM_MS = 60_000;
/** Money failures older than this are history, not news (e.g. on the first start with alerts). */
const MONEY_LOOKBACK_MS = 24 * 3_600_000;

function formatUsd(amount: number): string {
  return `$${amount.toFixed(amount < 1 ? 4 : 2)}`;
}

/**
 * Alerts on business thresholds, not on every error. Each rule looks at the database; each alert
 * it raises is inserted under a unique dedupe key first and posted only when that insert wins, so
 * any number of evaluations (a timer in each main process, right after a failure) post it once.
 * An alert is at most once: a crash between the insert and the post loses that one message (the
 * event log and the failure cards still tell the story), which beats posting it twice.
 */
export class BusinessAlerts {
  readonly #deps: BusinessAlertsDeps;

  constructor(deps: BusinessAlertsDeps) {
    this.#deps = deps;
  }

  /** Evaluate every rule for every operator and post what fires. */
  async evaluate(): Promise<FiredAlert[]> {
    const fired: FiredAlert[] = [];
    for (const candidate of await this.candidates()) {
      const alert = await this.#fire(candidate);
      if (alert) fired.push(alert);
    }
    await this.#redeliver();
    return fired;
  }

  /** What the rules would raise now (already-fired ones included: the dedupe key filters them). */
  async candidates(): Promise<AlertCandidate[]> {
    const { rules } = this.#deps;
    const now = this.#deps.clock.now();
    const operators = await this.#operators();
    const candidates: AlertCandidate[] = [];
    if (rules.moneyActionFailed) candidates.push(...(await this.#moneyActionFailed(now)));
    for (const operator of operators) {
      if (rules.failuresPerDay !== null)
        candidates.push(...(await this.#failuresPerDay(operator, now, rules.failuresPerDay)));
      if (rules.digestUndeliveredMinutes !== null)
        candidates.push(...(await this.#digestUndelivered(operator, now, rules.digestUndeliveredMinutes)));
      const budget =
        rules.spendOverBudget === 'model-budget' ? this.#deps.dailyBudgetUsd : rules.spendOverBudget;
      if (budget !== null) candidates.push(...(await this.#spendOverBudget(operator, now, budget)));
    }
    if (rules.circuitOpenMinutes !== null)
      candidates.push(...(await this.#circuitOpen(operators, now, rules.circuitOpenMinutes)));
    return candidates;
  }

  async #operators(): Promise<AlertOperator[]> {
    const result = await this.#deps.db.query(
      'SELECT id, timezone, digest_time::text AS digest_time, created_at FROM operators ORDER BY id',
    );
    return result.rows.map((row) => ({
      id: Number(row.id),
      timezone: String(row.timezone),
      digestTime: String(row.digest_time).slice(0, 5),
      createdAt: new Date(row.created_at as string | Date),
    }));
  }

  async #moneyActionFailed(now: Date): Promise<AlertCandidate[]> {
    const result = await this.#deps.db.query(
      `SELECT a.id, a.operator_id, a.connector, a.operation, a.preview, a.error,
         (SELECT max(f.id) FROM failures f WHERE f.action_id = a.id AND f.status = 'open') AS failure_id
       FROM actions a
       WHERE a.risk = 'money' AND a.status = 'failed' AND COALESCE(a.executed_at, a.created_at) >= $1
       ORDER BY a.id`,
      [new Date(now.getTime() - MONEY_LOOKBACK_MS)],
    );
    return result.rows.map((row) => {
      const preview = (row.preview ?? {}) as { doing?: string; title?: string };
      const error = (row.error ?? {}) as { message?: string };
      const failureId = row.failure_id === null ? null : Number(row.failure_id);
      return {
        rule: 'money_action_failed' as const,
        operatorId: Number(row.operator_id),
        dedupeKey: `money_action_failed:action:${row.id}`,
        text:
          `A money action failed: ${preview.doing ?? preview.title ?? `${row.connector}.${row.operation}`} ` +
          `(action #${row.id})${error.message ? `: ${error.message}` : '.'}`,
        remedy:
          failureId === null
            ? 'Check the payment in the service itself before doing anything: if it did not go through, ask me again.'
            : 'Check the service first. Retry runs it again under a new key (a payment that did go through is not ' +
              'repeated by the service); Dismiss if you settled it by hand.',
        buttons:
          failureId === null
            ? []
            : [
                { action: failureButtonAction('retry', failureId), label: 'Retry', style: 'primary' },
                { action: failureButtonAction('dismiss', failureId), label: 'Dismiss' },
              ],
        details: { actionId: Number(row.id), failureId },
      };
    });
  }

  async #failuresPerDay(operator: AlertOperator, now: Date, threshold: number): Promise<AlertCandidate[]> {
    const today = localDateOf(now, operator.timezone);
    const start = zonedInstant(today, { hour: 0, minute: 0 }, operator.timezone);
    const result = await this.#deps.db.query(
      `SELECT count(*)::int AS count, count(*) FILTER (WHERE status = 'open')::int AS open
       FROM failures WHERE operator_id = $1 AND created_at >= $2 AND created_at <= $3`,
      [operator.id, start, now],
    );
    const count = Number(result.rows[0]?.count ?? 0);
    if (count <= threshold) return [];
    const open = Number(result.rows[0]?.open ?? 0);
    return [
      {
        rule: 'failures_per_day',
        operatorId: operator.id,
        dedupeKey: `failures_per_day:${operator.id}:${today}`,
        text: `${count} things failed today (${today}), more than your alert threshold of ${threshold}; ${open} still open.`,
        remedy:
          'Something may be broken rather than unlucky: look at the open failures (`status`) and their cards ' +
          '(Retry / Dismiss), and at `connectors` for a service that keeps failing.',
        buttons: [],
        details: { day: today, count, open, threshold },
      },
    ];
  }

  async #digestUndelivered(operator: AlertOperator, now: Date, minutes: number): Promise<AlertCandidate[]> {
    const today = localDateOf(now, operator.timezone);
    const time = parseLocalTime(operator.digestTime) ?? { hour: 8, minute: 0 };
    const dueAt = zonedInstant(today, time, operator.timezone);
    if (dueAt < operator.createdAt || now.getTime() - dueAt.getTime() < minutes * 60_000) return [];
    const result = await this.#deps.db.query(
      `SELECT (SELECT status FROM digests WHERE operator_id = $1 AND local_date = $2::date) AS status,
         (SELECT max(id) FROM failures WHERE operator_id = $1 AND kind = 'digest_failed' AND status = 'open') AS failure_id`,
      [operator.id, today],
    );
    const row = result.rows[0] ?? {};
    if (row.status === 'sent') return [];
    const failureId = row.failure_id === null || row.failure_id === undefined ? null : Number(row.failure_id);
    return [
      {
        rule: 'digest_undelivered',
        operatorId: operator.id,
        dedupeKey: `digest_undelivered:${operator.id}:${today}`,
        text: `Today's digest was due at ${operator.digestTime} and has not been delivered ${minutes} minutes later.`,
        remedy:
          failureId === null
            ? 'Spine keeps trying on its own. Type `digest` to get it now; if that fails too, check the chat ' +
              'connection and, in queue mode, that the workers run (`spine queue`).'
            : 'Retry sends it again; if it keeps failing, check the chat connection and, in queue mode, that the ' +
              'workers run (`spine queue`).',
        buttons:
          failureId === null
            ? []
            : [{ action: failureButtonAction('retry', failureId), label: 'Retry', style: 'primary' }],
        details: { day: today, failureId },
      },
    ];
  }

  async #spendOverBudget(operator: AlertOperator, now: Date, budgetUsd: number): Promise<AlertCandidate[]> {
    const today = localDateOf(now, operator.timezone);
    const result = await this.#deps.db.query(
      'SELECT COALESCE(sum(cost_usd), 0)::float8 AS spent FROM llm_usage WHERE operator_id = $1 AND day = $2',
      [operator.id, today],
    );
    const spent = Number(result.rows[0]?.spent ?? 0);
    if (spent <= budgetUsd) return [];
    return [
      {
        rule: 'spend_over_budget',
        operatorId: operator.id,
        dedupeKey: `spend_over_budget:${operator.id}:${today}`,
        text: `Model spend today is ${formatUsd(spent)}, above the daily budget of ${formatUsd(budgetUsd)}.`,
        remedy:
          'Type `usage` to see which goals cost the most. To allow more, raise SPINE_DAILY_BUDGET_USD (or ' +
          '`alerts.spendOverBudget` in spine.config.yaml) and restart; the budget resets at midnight.',
        buttons: [],
        details: { day: today, spentUsd: spent, budgetUsd },
      },
    ];
  }

  async #circuitOpen(operators: AlertOperator[], now: Date, minutes: number): Promise<AlertCandidate[]> {
    const result = await this.#deps.db.query(
      `SELECT connector, min(opened_at) AS opened_at, max(last_error) AS last_error FROM connector_circuits
       WHERE reported_at >= $1 AND opened_at <= $2 GROUP BY connector ORDER BY connector`,
      [new Date(now.getTime() - STALE_REPORT_MS), new Date(now.getTime() - minutes * 60_000)],
    );
    const candidates: AlertCandidate[] = [];
    for (const row of result.rows) {
      const openedAt = new Date(row.opened_at as string | Date);
      const openMinutes = Math.floor((now.getTime() - openedAt.getTime()) / 60_000);
      for (const operator of operators) {
        candidates.push({
          rule: 'circuit_open',
          operatorId: operator.id,
          // One alert per outage: a circuit that closes and opens again is a new outage.
          dedupeKey: `circuit_open:${operator.id}:${row.connector}:${openedAt.toISOString()}`,
          text:
            `${row.connector} has been failing for ${openMinutes} minutes, so Spine stopped calling it` +
            `${row.last_error ? ` (last error: ${row.last_error})` : ''}. Actions that need it fail until it is back.`,
          remedy:
            `Check that ${row.connector} is up and that its settings in spine.config.yaml (address, credentials) ` +
            'are still right. Spine tries it again on its own; `connectors` shows its state.',
          buttons: [],
          details: { connector: row.connector, openedAt: openedAt.toISOString(), minutes: openMinutes },
        });
      }
    }
    return candidates;
  }

  /** Post a claimed alert; on success it is delivered, on failure a later evaluation tries again. */
  async #post(id: number, rule: string, thread: ThreadRef, message: OutboundMessage): Promise<void> {
    const { db, chat, logger } = this.#deps;
    try {
      const ref = await chat.post(thread, message);
      await db.query('UPDATE alerts SET message_ref = $2 WHERE id = $1', [id, JSON.stringify(ref)]);
    } catch (error) {
      logger.warn({ err: String(error), rule, alertId: id }, 'could not post an alert; will try again');
    }
  }

  /**
   * Post again the alerts whose post failed or was cut off by a crash (at least once, bounded): each
   * is claimed first (compare-and-set on a claim older than a minute), so two processes never post
   * the same one at once. Alerts older than a day, or tried five times, are left in the log.
   */
  async #redeliver(): Promise<void> {
    const { db, clock } = this.#deps;
    const claimed = await db.query(
      `UPDATE alerts SET posting_at = now(), post_attempts = post_attempts + 1
       WHERE id IN (
         SELECT id FROM alerts
         WHERE message_ref IS NULL AND post_attempts < $1 AND fired_at > $2
           AND (posting_at IS NULL OR posting_at < now() - make_interval(secs => $3))
         ORDER BY fired_at LIMIT 20
       ) AND message_ref IS NULL AND (posting_at IS NULL OR posting_at < now() - make_interval(secs => $3))
       RETURNING id, operator_id, rule, post`,
      [
        REDELIVERY_ATTEMPTS,
        new Date(clock.now().getTime() - REDELIVERY_WINDOW_MS),
        REDELIVERY_CLAIM_MS / 1000,
      ],
    );
    for (const row of claimed.rows) {
      // Every retried alert has its message: those from before migration 014 are never retried.
      const thread = await homeThread(db, Number(row.operator_id));
      await this.#post(Number(row.id), String(row.rule), thread, row.post as OutboundMessage);
    }
  }

  async #fire(candidate: AlertCandidate): Promise<FiredAlert | null> {
    const { db, clock, logger } = this.#deps;
    const firedAt = clock.now();
    const message = alertMessage(candidate);
    // Inserted already claimed for posting (the first attempt): see #redeliver.
    const inserted = await db.query(
      `INSERT INTO alerts (operator_id, rule, dedupe_key, message, details, fired_at, post, posting_at, post_attempts)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now(), 1) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`,
      [
        candidate.operatorId,
        candidate.rule,
        candidate.dedupeKey,
        candidate.text,
        JSON.stringify(candidate.details),
        firedAt,
        JSON.stringify(message),
      ],
    );
    if (!inserted.rows[0]) return null;
    const id = Number(inserted.rows[0].id);
    const thread = await homeThread(db, candidate.operatorId);
    await this.#post(id, candidate.rule, thread, message);
    await createRepositories(db).events.append({
      operatorId: candidate.operatorId,
      actor: 'spine',
      verb: 'alerted you',
      object: candidate.text,
      why: `the ${candidate.rule.replaceAll('_', ' ')} rule fired`,
      ref: `alert #${id}`,
      channel: thread.channel,
      at: firedAt,
      payload: { rule: candidate.rule, dedupeKey: candidate.dedupeKey, ...candidate.details },
    });
    logger.info({ rule: candidate.rule, alertId: id }, 'business alert fired');
    return { ...candidate, id };
  }
}

/** An alert as a chat message: what happened, what to do, and its buttons. */
function alertMessage(alert: Pick<AlertCandidate, 'text' | 'remedy' | 'buttons'>): OutboundMessage {
  return {
    text: `Alert: ${alert.text} ${alert.remedy}`,
    blocks: [
      { type: 'section', text: `⚠️ ${alert.text}` },
      { type: 'context', text: `What to do: ${alert.remedy}` },
      ...(alert.buttons.length > 0 ? [{ type: 'buttons' as const, buttons: alert.buttons }] : []),
    ],
  };
}

/** Where an operator hears from Spine unprompted: the thread of their latest goal, else the console. */
async function homeThread(db: Queryable, operatorId: number): Promise<ThreadRef> {
  const result = await db.query(
    'SELECT thread FROM goals WHERE operator_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1',
    [operatorId],
  );
  const thread = result.rows[0]?.thread as ThreadRef | undefined;
  return thread
    ? { channel: thread.channel, conversation: thread.conversation }
    : { channel: 'console', conversation: 'local' };
}

/**
 * Circuits live in each process's memory: every process reports the ones that are not closed
 * (with when it first saw them open), so the alert rule sees an outage whichever process hit it.
 */
export async function reportCircuits(
  db: Queryable,
  input: { process: string; health: ConnectorHealth[]; now: Date },
): Promise<void> {
  for (const entry of input.health) {
    if (entry.circuit === 'closed') {
      await db.query('DELETE FROM connector_circuits WHERE connector = $1 AND process = $2', [
        entry.connector,
        input.process,
      ]);
      continue;
    }
    await db.query(
      `INSERT INTO connector_circuits (connector, process, state, opened_at, last_error, reported_at)
       VALUES ($1, $2, $3, $4, $5, $4)
       ON CONFLICT (connector, process) DO UPDATE
         SET state = EXCLUDED.state, last_error = EXCLUDED.last_error, reported_at = EXCLUDED.reported_at`,
      [entry.connector, input.process, entry.circuit, input.now, entry.lastError],
    );
  }
}
