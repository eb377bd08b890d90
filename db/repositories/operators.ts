import type { Channel, Identity, Operator } from '../../core/domain.ts';
import type { Queryable } from '../database.ts';
import { toDate, toDateOrNull } from './rows.ts';

function toOperator(row: Record<string, unknown>): Operator {
  return {
    id: Number(row.id),
    name: String(row.name),
    timezone: String(row.timezone),
    probationUntil: toDateOrNull(row.probation_until),
    createdAt: toDate(row.created_at),
  };
}

export interface OwnerSpec {
  name: string;
  timezone: string;
  probationDays: number;
  identities: Array<{ channel: Channel; externalId: string; displayName?: string }>;
  now: Date;
}

/** Operators and the chat identities that may act for them. */
export class OperatorRepository {
  constructor(private readonly db: Queryable) {}

  /**
   * Make sure the configured owner exists with its identities. The first operator row is the owner;
   * its name and time zone follow the config, its probation starts on its first day and stays put.
   */
  async ensureOwner(spec: OwnerSpec): Promise<Operator> {
    const existing = await this.db.query('SELECT * FROM operators ORDER BY id LIMIT 1');
    let operator: Operator;
    if (existing.rows[0]) {
      const updated = await this.db.query(
        'UPDATE operators SET name = $2, timezone = $3 WHERE id = $1 RETURNING *',
        [existing.rows[0].id, spec.name, spec.timezone],
      );
      operator = toOperator(updated.rows[0]);
    } else {
      const probationUntil = new Date(spec.now.getTime() + spec.probationDays * 86_400_000);
      const inserted = await this.db.query(
        'INSERT INTO operators (name, timezone, probation_until, created_at) VALUES ($1, $2, $3, $4) RETURNING *',
        [spec.name, spec.timezone, probationUntil, spec.now],
      );
      operator = toOperator(inserted.rows[0]);
    }
    for (const identity of spec.identities) {
      await this.db.query(
        `INSERT INTO identities (channel, external_id, operator_id, display_name) VALUES ($1, $2, $3, $4)
         ON CONFLICT (channel, external_id) DO UPDATE SET operator_id = EXCLUDED.operator_id,
           display_name = COALESCE(EXCLUDED.display_name, identities.display_name)`,
        [identity.channel, identity.externalId, operator.id, identity.displayName ?? null],
      );
    }
    return operator;
  }

  async get(id: number): Promise<Operator | null> {
    const result = await this.db.query('SELECT * FROM operators WHERE id = $1', [id]);
    return result.rows[0] ? toOperator(result.rows[0]) : null;
  }

  /** The identity for a chat account, or null when it is a stranger. */
  async findIdentity(channel: Channel, externalId: string): Promise<Identity | null> {
    const result = await this.db.query('SELECT * FROM identities WHERE channel = $1 AND external_id = $2', [
      channel,
      externalId,
    ]);
    const row = result.rows[0];
    return row ? toIdentity(row) : null;
  }
}

/** An `identities` row as the domain's Identity. */
export function toIdentity(row: Record<string, unknown>): Identity {
  return {
    channel: row.channel as Channel,
    externalId: String(row.external_id),
    operatorId: Number(row.operator_id),
    displayName: (row.display_name as string | null) ?? null,
  };
}
