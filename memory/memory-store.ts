import type { Channel } from '../core/domain.ts';

export type MemoryKind = 'fact' | 'note' | 'document' | 'episode';

/** Where a memory came from: enough to cite it ("you told me in the console on 25 Nov"). */
export interface Provenance {
  /** `console`, `slack`, `telegram`, or `connector:<name>`. */
  source: Channel | `connector:${string}`;
  /** A link or id of the message or document, when there is one. */
  sourceRef?: string | undefined;
  /** Who asserted it: `operator`, a chat user id, or a connector. */
  assertedBy: string;
}

export interface NewMemory {
  operatorId: number;
  kind: MemoryKind;
  content: string;
  provenance: Provenance;
  subject?: string | undefined;
  attribute?: string | undefined;
  goalId?: number | undefined;
  occurredAt?: Date | undefined;
  metadata?: Record<string, unknown> | undefined;
  /** A key that makes the write idempotent: a second write with it returns the first memory. */
  dedupeKey?: string | undefined;
}

/** What retrieval returns: a pointer with a snippet and its source, never the whole document. */
export interface MemoryPointer {
  id: number;
  kind: MemoryKind;
  snippet: string;
  source: string;
  sourceRef: string | null;
  assertedBy: string;
  /** ISO 8601; a string so pointers survive checkpoint serialisation unchanged. */
  occurredAt: string;
  score: number;
}

export interface RecallOptions {
  operatorId: number;
  limit?: number;
  kinds?: MemoryKind[];
  now?: Date;
}

/** The memory port. The pgvector/full-text implementation runs on PGlite and server Postgres alike. */
export interface MemoryStore {
  remember(memory: NewMemory): Promise<MemoryPointer>;
  recall(query: string, options: RecallOptions): Promise<MemoryPointer[]>;
}
