import { randomBytes } from 'node:crypto';
import type { Goal, ThreadRef } from '../core/domain.ts';
import type { InboundEvent, InboundSource } from '../core/inbound.ts';
import type { Queryable } from '../db/database.ts';
import { toGoal } from '../db/repositories/goals.ts';
import { toDate, toDateOrNull } from '../db/repositories/rows.ts';

export interface PlaybookVersion {
  id: number;
  playbookId: number;
  version: number;
  source: string;
  contentHash: string;
  origin: string;
  createdAt: Date;
}

export interface StoredPlaybook {
  id: number;
  operatorId: number;
  name: string;
  enabled: boolean;
  /** HMAC key of the playbook's webhook URL: never shown in chat (the web console shows it once). */
  webhookSecret: string;
  /** When the web console last showed the secret; null: not since it was made. */
  webhookSecretShownAt: Date | null;
  shadowUntil: Date | null;
  current: PlaybookVersion;
  createdAt: Date;
  /** Last enabled, disabled or edited: a schedule owes no firing from before then. */
  enabledSince: Date;
}

export type RunStatus = 'running' | 'waiting' | 'done' | 'stopped' | 'failed';

export interface PlaybookRun {
  id: number;
  playbookId: number;
  versionId: number;
  goalId: number;
  triggerKey: string;
  triggerEventId: number | null;
  trigger: Record<string, unknown>;
  status: RunStatus;
  wakeAt: Date | null;
  createdAt: Date;
}

export interface StoredTriggerEvent {
  id: number;
  operatorId: number | null;
  source: InboundSource;
  externalId: string;
  type: string;
  occurredAt: Date;
  payload: Record<string, unknown>;
}

function toVersion(row: Record<string, unknown>): PlaybookVersion {
  return {
    id: Number(row.id),
    playbookId: Number(row.playbook_id),
    version: Number(row.version),
    source: String(row.source),
    contentHash: String(row.content_hash),
    origin: String(row.origin),
    createdAt: toDate(row.created_at),
  };
}

function toPlaybook(row: Record<string, unknown>): StoredPlaybook {
  return {
    id: Number(row.id),
    operatorId: Number(row.operator_id),
    name: String(row.name),
    enabled: Boolean(row.enabled),
    webhookSecret: String(row.webhook_secret),
    webhookSecretShownAt: toDateOrNull(row.webhook_secret_shown_at),
    shadowUntil: toDateOrNull(row.shadow_until),
    createdAt: toDate(row.created_at),
    enabledSince: toDate(row.updated_at),
    current: toVersion({
      id: row.version_id,
      playbook_id: row.id,
      version: row.version,
      source: row.source,
      content_hash: row.content_hash,
      origin: row.origin,
      created_at: row.version_created_at,
    }),
  };
}

function toRun(row: Record<string, unknown>): PlaybookRun {
  return {
    id: Number(row.id),
    playbookId: Number(row.playbook_id),
    versionId: Number(row.version_id),
    goalId: Number(row.goal_id),
    triggerKey: String(row.trigger_key),
    triggerEventId: row.trigger_event_id === null ? null : Number(row.trigger_event_id),
    trigger: (row.trigger as Record<string, unknown>) ?? {},
    status: row.status as RunStatus,
    wakeAt: toDateOrNull(row.wake_at),
    createdAt: toDate(row.created_at),
  };
}

function toTriggerEvent(row: Record<string, unknown>): StoredTriggerEvent {
  return {
    id: Number(row.id),
    operatorId: row.operator_id === null ? null : Number(row.operator_id),
    source: row.source as InboundSource,
    externalId: String(row.external_id),
    type: String(row.type),
    occurredAt: toDate(row.occurred_at),
    payload: (row.payload as Record<string, unknown>) ?? {},
  };
}

/** 24 random bytes as hex: the HMAC key of a playbook's webhook. */
function newWebhookSecret(): string {
  return randomBytes(24).toString('hex');
}

const PLAYBOOK_WITH_VERSION = `SELECT p.*, v.id AS version_id, v.version, v.source, v.content_hash, v.origin,
  v.created_at AS version_created_at
  FROM playbooks p JOIN playbook_versions v ON v.id = p.current_version_id`;

/** Playbooks, their immutable versions, runs and the inbound events that trigger them. */
export class PlaybookStore {
  constructor(private readonly db: Queryable) {}

  /**
   * Save a playbook's content: a new version when it differs from the current one (editing never
   * changes a version a run may be using), nothing when it is the same.
   */
  async saveVersion(input: {
    operatorId: number;
    name: string;
    source: string;
    hash: string;
    origin: string;
  }): Promise<{ playbook: StoredPlaybook; created: boolean }> {
    await this.db.query(
      `INSERT INTO playbooks (operator_id, name, webhook_secret) VALUES ($1, $2, $3)
       ON CONFLICT (operator_id, name) DO NOTHING`,
      [input.operatorId, input.name, newWebhookSecret()],
    );
    const existing = await this.get(input.operatorId, input.name);
    if (existing && existing.current.contentHash === input.hash)
      return { playbook: existing, created: false };
    // The version number is the next one; the unique (playbook, version) refuses a concurrent twin.
    await this.db.query(
      `WITH p AS (SELECT id FROM playbooks WHERE operator_id = $1 AND name = $2),
       v AS (
         INSERT INTO playbook_versions (playbook_id, version, source, content_hash, origin)
         SELECT p.id, COALESCE((SELECT max(version) FROM playbook_versions WHERE playbook_id = p.id), 0) + 1,
                $3, $4, $5 FROM p RETURNING id, playbook_id
       )
       UPDATE playbooks SET current_version_id = v.id FROM v WHERE playbooks.id = v.playbook_id`,
      [input.operatorId, input.name, input.source, input.hash, input.origin],
    );
    const saved = await this.get(input.operatorId, input.name);
    if (!saved) throw new Error(`playbook ${input.name} was not saved`);
    return { playbook: saved, created: true };
  }

  async get(operatorId: number, name: string): Promise<StoredPlaybook | null> {
    const result = await this.db.query(`${PLAYBOOK_WITH_VERSION} WHERE p.operator_id = $1 AND p.name = $2`, [
      operatorId,
      name,
    ]);
    return result.rows[0] ? toPlaybook(result.rows[0]) : null;
  }

  async byId(id: number): Promise<StoredPlaybook | null> {
    const result = await this.db.query(`${PLAYBOOK_WITH_VERSION} WHERE p.id = $1`, [id]);
    return result.rows[0] ? toPlaybook(result.rows[0]) : null;
  }

  /** One operator's playbooks (or every operator's), by name. */
  async list(operatorId?: number): Promise<StoredPlaybook[]> {
    const result =
      operatorId === undefined
        ? await this.db.query(`${PLAYBOOK_WITH_VERSION} ORDER BY p.name`)
        : await this.db.query(`${PLAYBOOK_WITH_VERSION} WHERE p.operator_id = $1 ORDER BY p.name`, [
            operatorId,
          ]);
    return result.rows.map(toPlaybook);
  }

  /** Enable or disable at `at` (the clock's now): a schedule owes nothing from before. */
  async setEnabled(id: number, enabled: boolean, at: Date): Promise<void> {
    await this.db.query('UPDATE playbooks SET enabled = $2, updated_at = $3 WHERE id = $1', [
      id,
      enabled,
      at,
    ]);
  }

  /**
   * The webhook secret, once: returns it and marks it shown when it was not shown yet (a
   * compare-and-set, so two tabs cannot both get it), else null.
   */
  async revealWebhookSecret(operatorId: number, id: number, at: Date): Promise<string | null> {
    const result = await this.db.query(
      `UPDATE playbooks SET webhook_secret_shown_at = $3
       WHERE id = $1 AND operator_id = $2 AND webhook_secret_shown_at IS NULL RETURNING webhook_secret`,
      [id, operatorId, at],
    );
    return result.rows[0] ? String(result.rows[0].webhook_secret) : null;
  }

  /** Replace the webhook secret (the old one stops working at once) and return the new one, shown. */
  async rotateWebhookSecret(operatorId: number, id: number, at: Date): Promise<string | null> {
    const result = await this.db.query(
      `UPDATE playbooks SET webhook_secret = $3, webhook_secret_shown_at = $4
       WHERE id = $1 AND operator_id = $2 RETURNING webhook_secret`,
      [id, operatorId, newWebhookSecret(), at],
    );
    return result.rows[0] ? String(result.rows[0].webhook_secret) : null;
  }

  async setShadowUntil(id: number, until: Date | null): Promise<void> {
    await this.db.query('UPDATE playbooks SET shadow_until = $2 WHERE id = $1', [id, until]);
  }

  async version(id: number): Promise<PlaybookVersion | null> {
    const result = await this.db.query('SELECT * FROM playbook_versions WHERE id = $1', [id]);
    return result.rows[0] ? toVersion(result.rows[0]) : null;
  }

  /** Store an inbound event once per (source, id); `created: false` for a redelivery. */
  async recordEvent(event: InboundEvent): Promise<{ event: StoredTriggerEvent; created: boolean }> {
    const inserted = await this.db.query(
      `INSERT INTO trigger_events (operator_id, source, external_id, type, occurred_at, payload)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (source, external_id) DO NOTHING RETURNING *`,
      [
        event.operatorId ?? null,
        event.source,
        event.id,
        event.type,
        event.occurredAt,
        JSON.stringify(event.payload),
      ],
    );
    if (inserted.rows[0]) return { event: toTriggerEvent(inserted.rows[0]), created: true };
    const existing = await this.db.query(
      'SELECT * FROM trigger_events WHERE source = $1 AND external_id = $2',
      [event.source, event.id],
    );
    return { event: toTriggerEvent(existing.rows[0]), created: false };
  }

  /**
   * Whether an event with this (source, id) was received: a webhook delivery id already seen. The
   * sender's timestamp tolerance is five minutes, so pruning rows older than that keeps replays out.
   */
  async hasEvent(source: InboundSource, externalId: string): Promise<boolean> {
    const result = await this.db.query(
      'SELECT 1 FROM trigger_events WHERE source = $1 AND external_id = $2',
      [source, externalId],
    );
    return result.rows.length > 0;
  }

  /** Events that occurred in [from, to), oldest first (shadow replay). */
  async eventsBetween(from: Date, to: Date, limit = 1000): Promise<StoredTriggerEvent[]> {
    const result = await this.db.query(
      `SELECT * FROM trigger_events WHERE occurred_at >= $1 AND occurred_at < $2 ORDER BY occurred_at, id LIMIT $3`,
      [from, to, limit],
    );
    return result.rows.map(toTriggerEvent);
  }

  /**
   * Start a run: the goal, the run row and the "started" event in ONE statement, once per
   * (playbook, trigger key) — a schedule firing twice or an event delivered twice starts one run.
   * Returns null for a duplicate.
   */
  async startRun(input: {
    playbook: StoredPlaybook;
    triggerKey: string;
    trigger: Record<string, unknown>;
    triggerEventId?: number | null;
    thread: ThreadRef;
    requestedBy: string;
    text: string;
  }): Promise<{ run: PlaybookRun; goal: Goal } | null> {
    const result = await this.db.query(
      `WITH next AS (SELECT nextval(pg_get_serial_sequence('goals', 'id')) AS id),
       run AS (
         INSERT INTO playbook_runs (playbook_id, version_id, goal_id, trigger_key, trigger_event_id, trigger)
         SELECT $1, $2, id, $3, $4, $5::jsonb FROM next
         ON CONFLICT (playbook_id, trigger_key) DO NOTHING RETURNING *
       ),
       goal AS (
         INSERT INTO goals (id, operator_id, channel, thread, text, requested_by, status) OVERRIDING SYSTEM VALUE
         SELECT goal_id, $6, $7, $8::jsonb, $9, $10, 'running' FROM run RETURNING *
       ),
       event AS (
         INSERT INTO events (operator_id, actor, verb, object, ref, goal_id, payload)
         SELECT $6, 'spine', 'started', $9, $11, id, $12::jsonb FROM goal RETURNING id
       )
       SELECT row_to_json(run.*) AS run, row_to_json(goal.*) AS goal FROM run, goal`,
      [
        input.playbook.id,
        input.playbook.current.id,
        input.triggerKey,
        input.triggerEventId ?? null,
        JSON.stringify(input.trigger),
        input.playbook.operatorId,
        input.thread.channel,
        JSON.stringify(input.thread),
        input.text,
        input.requestedBy,
        `playbook ${input.playbook.name} v${input.playbook.current.version}`,
        JSON.stringify({ triggerKey: input.triggerKey, versionId: input.playbook.current.id }),
      ],
    );
    const row = result.rows[0] as { run: Record<string, unknown>; goal: Record<string, unknown> } | undefined;
    if (!row) return null;
    return { run: toRun(row.run), goal: toGoal(row.goal) };
  }

  async runForGoal(goalId: number): Promise<PlaybookRun | null> {
    const result = await this.db.query('SELECT * FROM playbook_runs WHERE goal_id = $1', [goalId]);
    return result.rows[0] ? toRun(result.rows[0]) : null;
  }

  async setRunStatus(runId: number, status: RunStatus, wakeAt: Date | null = null): Promise<void> {
    await this.db.query(
      `UPDATE playbook_runs SET status = $2, wake_at = $3,
         finished_at = CASE WHEN $2 IN ('done', 'stopped', 'failed') THEN now() ELSE NULL END
       WHERE id = $1`,
      [runId, status, wakeAt],
    );
  }

  /** Runs whose `wait` is over. */
  async listWaking(now: Date): Promise<PlaybookRun[]> {
    const result = await this.db.query(
      `SELECT * FROM playbook_runs WHERE status = 'waiting' AND wake_at <= $1 ORDER BY wake_at, id`,
      [now],
    );
    return result.rows.map(toRun);
  }

  async recentRuns(playbookId: number, limit = 5): Promise<PlaybookRun[]> {
    const result = await this.db.query(
      'SELECT * FROM playbook_runs WHERE playbook_id = $1 ORDER BY id DESC LIMIT $2',
      [playbookId, limit],
    );
    return result.rows.map(toRun);
  }

  /** What an operation last returned for real (shadow mode answers read steps with it). */
  async latestResult(operatorId: number, connector: string, operation: string): Promise<unknown> {
    const result = await this.db.query(
      `SELECT result FROM actions WHERE operator_id = $1 AND connector = $2 AND operation = $3
       AND status = 'succeeded' ORDER BY id DESC LIMIT 1`,
      [operatorId, connector, operation],
    );
    return result.rows[0]?.result ?? null;
  }

  /** The latest run started by a schedule (its key is `schedule:<ISO instant>`). */
  async lastScheduledFire(playbookId: number): Promise<Date | null> {
    const result = await this.db.query(
      `SELECT max(trigger_key) AS key FROM playbook_runs WHERE playbook_id = $1 AND trigger_key LIKE 'schedule:%'`,
      [playbookId],
    );
    const key = result.rows[0]?.key as string | null | undefined;
    return key ? new Date(key.slice('schedule:'.length)) : null;
  }
}
