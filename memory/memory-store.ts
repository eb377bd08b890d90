import type { Channel } from '../core/domain.ts';

export type MemoryKind = 'fact' | 'note' | 'document' | 'episode';

/** Where a memory came from: enough to cite it ("you told me in the console on 25 Nov"). */
export interface Provenance {
  /** `console`, `slack`, `telegram`, `email` (an inbound e-mail), or `connector:<name>`. */
  source: Channel | 'email' | `connector:${string}` | `document:${string}`;
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
  /** Text searched with the memory but not shown: neighbouring messages, a document's title. */
  context?: string | undefined;
  sensitivity?: Sensitivity | undefined;
  /** After this, the memory vanishes from retrieval and a sweep deletes it. */
  expiresAt?: Date | undefined;
  /** A chat thread or conversation the memory belongs to (episodes of the same thread are recalled together). */
  threadRef?: string | undefined;
}

export type Sensitivity = 'normal' | 'private' | 'secret';

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
  /** Which retrieval layer found it: an exact fact, hybrid recall, or the same thread's episodes. */
  layer?: 'fact' | 'hybrid' | 'episode' | undefined;
  /** For a document chunk: the document's memory id and the chunk's position (0-based). */
  documentId?: number | null | undefined;
  chunkIndex?: number | null | undefined;
  /** For signed (connector) memories: false means the row was altered since it was written. */
  verified?: boolean | null | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export interface RecallOptions {
  operatorId: number;
  limit?: number;
  kinds?: MemoryKind[];
  now?: Date;
  /** Only memories from these sources (`console`, `connector:email` …); prefixes end with `*`. */
  sources?: string[] | undefined;
  /** Only memories that occurred in [since, until). */
  since?: Date | undefined;
  until?: Date | undefined;
  /** Up to three episodes of this goal or thread are added after the `limit` results of the other layers. */
  goalId?: number | undefined;
  threadRef?: string | undefined;
  /** Highest sensitivity returned (default `private`: secrets only when asked for). */
  maxSensitivity?: Sensitivity | undefined;
}

/** The memory port. The pgvector/full-text implementation runs on PGlite and server Postgres alike. */
export interface MemoryStore {
  remember(memory: NewMemory): Promise<MemoryPointer>;
  recall(query: string, options: RecallOptions): Promise<MemoryPointer[]>;
}
