import type { Queryable } from '../database.ts';

/** Dedupe of inbound deliveries (e-mail Message-IDs, Stripe event ids), recorded once handed on. */
export class InboundDeliveryRepository {
  constructor(private readonly db: Queryable) {}

  /** True when a delivery with this id was handed on before. */
  async seen(source: string, deliveryId: string): Promise<boolean> {
    const result = await this.db.query(
      'SELECT 1 FROM inbound_deliveries WHERE source = $1 AND delivery_id = $2',
      [source, deliveryId],
    );
    return (result.rowCount ?? 0) > 0;
  }

  /** Record a delivery as handed on; true when it was new. */
  async record(
    source: string,
    deliveryId: string,
    type: string,
    memoryId: number | null = null,
  ): Promise<boolean> {
    const result = await this.db.query(
      `INSERT INTO inbound_deliveries (source, delivery_id, type, memory_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING RETURNING delivery_id`,
      [source, deliveryId, type, memoryId],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async count(source: string): Promise<number> {
    const result = await this.db.query(
      'SELECT count(*)::int AS count FROM inbound_deliveries WHERE source = $1',
      [source],
    );
    return Number(result.rows[0]?.count ?? 0);
  }
}

/** An IMAP mailbox's cursor: its UIDVALIDITY and the last UID handed on. */
export interface MailboxCursor {
  uidValidity: string;
  lastUid: number;
}

/** Where reading each IMAP mailbox resumes after a restart. */
export class ImapMailboxRepository {
  constructor(private readonly db: Queryable) {}

  async get(mailboxKey: string): Promise<MailboxCursor | null> {
    const result = await this.db.query(
      'SELECT uid_validity, last_uid FROM imap_mailboxes WHERE mailbox_key = $1',
      [mailboxKey],
    );
    const row = result.rows[0];
    return row ? { uidValidity: String(row.uid_validity), lastUid: Number(row.last_uid) } : null;
  }

  /** Save the cursor; a new UIDVALIDITY replaces the old one and its UIDs. */
  async save(mailboxKey: string, cursor: MailboxCursor): Promise<void> {
    await this.db.query(
      `INSERT INTO imap_mailboxes (mailbox_key, uid_validity, last_uid, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (mailbox_key) DO UPDATE SET uid_validity = EXCLUDED.uid_validity,
         last_uid = EXCLUDED.last_uid, updated_at = now()`,
      [mailboxKey, cursor.uidValidity, cursor.lastUid],
    );
  }
}
