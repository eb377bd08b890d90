import type { MessageRef } from '../../core/domain.ts';
import type { Queryable } from '../database.ts';
import { toDate, toDateOrNull } from './rows.ts';

/** A daily digest row: exactly one per operator per local date. */
export interface DigestRow {
  id: number;
  operatorId: number;
  localDate: string;
  status: 'sending' | 'sent';
  late: boolean;
  dueAt: Date;
  sentAt: Date | null;
}

/** What the digest scheduler needs to know about an operator. */
export interface DigestOperator {
  id: number;
  name: string;
  timezone: string;
  /** `HH:MM`, the operator's local time for the daily digest. */
  digestTime: string;
  createdAt: Date;
}

export type DigestClaim =
  | { kind: 'claimed'; digest: DigestRow }
  | { kind: 'unfinished'; digest: DigestRow }
  | { kind: 'already_sent'; digest: DigestRow };

function toDigest(row: Record<string, unknown>): DigestRow {
  const localDate = row.local_date;
  return {
    id: Number(row.id),
    operatorId: Number(row.operator_id),
    localDate:
      localDate instanceof Date
        ? `${localDate.getFullYear()}-${String(localDate.getMonth() + 1).padStart(2, '0')}-${String(localDate.getDate()).padStart(2, '0')}`
        : String(localDate).slice(0, 10),
    status: row.status as DigestRow['status'],
    late: Boolean(row.late),
    dueAt: toDate(row.due_at),
    sentAt: toDateOrNull(row.sent_at),
  };
}

function toDigestOperator(row: Record<string, unknown>): DigestOperator {
  return {
    id: Number(row.id),
    name: String(row.name),
    timezone: String(row.timezone),
    digestTime: String(row.digest_time).slice(0, 5),
    createdAt: toDate(row.created_at),
  };
}

/** Digests, and the operators' digest settings. */
export class DigestRepository {
  constructor(private readonly db: Queryable) {}

  /**
   * Claim the digest of a local date. The unique (operator, local date) row decides: the first
   * claim wins; a later one sees it sent, or unfinished (a crash between claim and post).
   */
  async claim(input: {
    operatorId: number;
    localDate: string;
    dueAt: Date;
    late: boolean;
  }): Promise<DigestClaim> {
    const inserted = await this.db.query(
      `INSERT INTO digests (operator_id, local_date, due_at, late) VALUES ($1, $2::date, $3, $4)
       ON CONFLICT (operator_id, local_date) DO NOTHING
       RETURNING id, operator_id, local_date::text AS local_date, status, late, due_at, sent_at`,
      [input.operatorId, input.localDate, input.dueAt, input.late],
    );
    if (inserted.rows[0]) return { kind: 'claimed', digest: toDigest(inserted.rows[0]) };
    const existing = await this.get(input.operatorId, input.localDate);
    if (!existing) throw new Error(`digest ${input.operatorId}/${input.localDate} vanished`);
    return existing.status === 'sent'
      ? { kind: 'already_sent', digest: existing }
      : { kind: 'unfinished', digest: existing };
  }

  async get(operatorId: number, localDate: string): Promise<DigestRow | null> {
    const result = await this.db.query(
      `SELECT id, operator_id, local_date::text AS local_date, status, late, due_at, sent_at
       FROM digests WHERE operator_id = $1 AND local_date = $2::date`,
      [operatorId, localDate],
    );
    return result.rows[0] ? toDigest(result.rows[0]) : null;
  }

  async markSent(input: {
    id: number;
    since: Date;
    sentAt: Date;
    ref: MessageRef;
    summary: Record<string, unknown>;
  }): Promise<void> {
    await this.db.query(
      `UPDATE digests SET status = 'sent', since = $2, sent_at = $3, message_ref = $4, summary = $5
       WHERE id = $1`,
      [input.id, input.since, input.sentAt, JSON.stringify(input.ref), JSON.stringify(input.summary)],
    );
  }

  /** When the last daily digest went out (the next one covers what happened since). */
  async lastSentAt(operatorId: number): Promise<Date | null> {
    const result = await this.db.query(
      `SELECT max(sent_at) AS at FROM digests WHERE operator_id = $1 AND status = 'sent'`,
      [operatorId],
    );
    return toDateOrNull(result.rows[0]?.at ?? null);
  }

  async list(operatorId: number): Promise<DigestRow[]> {
    const result = await this.db.query(
      `SELECT id, operator_id, local_date::text AS local_date, status, late, due_at, sent_at
       FROM digests WHERE operator_id = $1 ORDER BY local_date`,
      [operatorId],
    );
    return result.rows.map(toDigest);
  }

  async operators(): Promise<DigestOperator[]> {
    const result = await this.db.query(
      'SELECT id, name, timezone, digest_time::text AS digest_time, created_at FROM operators ORDER BY id',
    );
    return result.rows.map(toDigestOperator);
  }

  async operator(id: number): Promise<DigestOperator | null> {
    const result = await this.db.query(
      'SELECT id, name, timezone, digest_time::text AS digest_time, created_at FROM operators WHERE id = $1',
      [id],
    );
    return result.rows[0] ? toDigestOperator(result.rows[0]) : null;
  }

  /**
   * Set the digest time. `fromChat` marks it as the operator's own choice, which the configured
   * default (SPINE_DIGEST_TIME) no longer overrides.
   */
  async setDigestTime(operatorId: number, time: string, fromChat: boolean): Promise<void> {
    await this.db.query(
      `UPDATE operators SET digest_time = $2::time,
         settings = CASE WHEN $3 THEN settings || '{"digestTimeChosen": true}'::jsonb ELSE settings END
       WHERE id = $1`,
      [operatorId, time, fromChat],
    );
  }

  /** Apply the configured default digest time to operators who have not chosen their own. */
  async applyDefaultTime(time: string): Promise<void> {
    await this.db.query(
      `UPDATE operators SET digest_time = $1::time
       WHERE NOT coalesce((settings->>'digestTimeChosen')::boolean, false) AND digest_time <> $1::time`,
      [time],
    );
  }
}
