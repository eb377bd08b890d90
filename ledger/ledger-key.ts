import { createHmac, timingSafeEqual } from 'node:crypto';

/** What an anchor's MAC covers: everything in it but the MAC. */
export interface AnchorFields {
  schema: string;
  /** ISO time the anchor was written. */
  at: string;
  /** Events in the ledger. */
  count: number;
  /** The newest event's id (0 when there is none) and its hash. */
  headId: number;
  head: string;
  /** The newest event carrying a MAC (0 when none does). */
  sealedThrough: number;
  reason: string;
}

/**
 * The ledger key: HMAC-SHA256 over each event's id and hash, and over anchors. It is kept outside
 * the database (`<SPINE_DATA_DIR>/ledger.key`), so whoever owns the database can edit rows and
 * recompute the unkeyed hash chain, but cannot produce the MACs that `spine log --verify` checks.
 *
 * @example
 * const key = new LedgerKey(secret);
 * key.eventMac(41, hash) // 64 hex characters
 */
export class LedgerKey {
  readonly #secret: string;
  /** A fingerprint that names the key in anchors without revealing it. */
  readonly id: string;

  constructor(secret: string) {
    this.#secret = secret;
    this.id = this.#mac('spine-ledger-key-id').slice(0, 16);
  }

  /** The MAC of one event: its hash covers its content and, through `prev_hash`, all before it. */
  eventMac(eventId: number, hash: string): string {
    return this.#mac(`spine-ledger-event-v1\n${eventId}\n${hash}`);
  }

  anchorMac(fields: AnchorFields): string {
    return this.#mac(
      [
        'spine-ledger-anchor-v1',
        fields.schema,
        fields.at,
        fields.count,
        fields.headId,
        fields.head,
        fields.sealedThrough,
        fields.reason,
      ].join('\n'),
    );
  }

  /** Whether `mac` is the one this key gives (in constant time). */
  matches(expected: string, mac: string): boolean {
    const a = Buffer.from(expected);
    const b = Buffer.from(mac);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  #mac(text: string): string {
    return createHmac('sha256', this.#secret).update(text, 'utf8').digest('hex');
  }
}
