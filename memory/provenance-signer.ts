import { createHmac, timingSafeEqual } from 'node:crypto';

/** The fields of a memory a signature covers: what it says, where it came from, who said it, when. */
export interface SignedFields {
  operatorId: number;
  kind: string;
  subject: string | null;
  attribute: string | null;
  content: string;
  source: string;
  sourceRef: string | null;
  assertedBy: string;
  occurredAt: string;
  sensitivity: string;
}

/** Memories written by connectors and inbound e-mail are signed: they come from outside and must not be altered. */
export function needsSignature(source: string): boolean {
  return source.startsWith('connector:') || source === 'email';
}

function canonical(fields: SignedFields): string {
  return JSON.stringify([
    'spine-memory-v1',
    fields.operatorId,
    fields.kind,
    fields.subject,
    fields.attribute,
    fields.content,
    fields.source,
    fields.sourceRef,
    fields.assertedBy,
    new Date(fields.occurredAt).toISOString(),
    fields.sensitivity,
  ]);
}

/** HMAC-SHA256 signatures over a memory's provenance and content, with a key from the config. */
export class ProvenanceSigner {
  readonly #key: Buffer;

  constructor(key: string | Buffer) {
    this.#key = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
    if (this.#key.length < 16) throw new Error('the memory signing key must be at least 16 bytes');
  }

  sign(fields: SignedFields): string {
    return `v1:${createHmac('sha256', this.#key).update(canonical(fields)).digest('base64url')}`;
  }

  /** True when the signature matches the fields; false for a missing or altered one. */
  verify(fields: SignedFields, signature: string | null): boolean {
    if (!signature) return false;
    const expected = Buffer.from(this.sign(fields));
    const given = Buffer.from(signature);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}
