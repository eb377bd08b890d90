import type { Queryable } from '../db/database.ts';
import type { MemoryKind, MemoryPointer, MemoryStore, NewMemory, RecallOptions } from './memory-store.ts';

const SNIPPET_LENGTH = 280;
const DEFAULT_KINDS: MemoryKind[] = ['fact', 'note', 'document'];

function snippet(content: string): string {
  return content.length <= SNIPPET_LENGTH ? content : `${content.slice(0, SNIPPET_LENGTH - 1)}…`;
}

function toPointer(row: Record<string, unknown>): MemoryPointer {
  return {
    id: Number(row.id),
    kind: row.kind as MemoryKind,
    snippet: snippet(String(row.content)),
    source: String(row.source),
    sourceRef: (row.source_ref as string | null) ?? null,
    assertedBy: String(row.asserted_by),
    occurredAt: (row.occurred_at instanceof Date
      ? row.occurred_at
      : new Date(String(row.occurred_at))
    ).toISOString(),
    score: Number(row.score ?? 0),
  };
}

/** Words worth searching for: letters and digits, at least two characters. */
export function queryTerms(query: string): string[] {
  const words =
    query.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'.@_-]*[\p{L}\p{N}]|[\p{L}\p{N}]{2,}/gu) ?? [];
  return [...new Set(words)];
}

/**
 * Memory on Postgres: full-text ranking with any-term matching, plus a substring fallback for
 * names and addresses that the English stemmer mangles. Expired and superseded rows never match.
 */
export class PostgresMemoryStore implements MemoryStore {
  constructor(private readonly db: Queryable) {}

  async remember(memory: NewMemory): Promise<MemoryPointer> {
    const result = await this.db.query(
      `INSERT INTO memories (operator_id, kind, subject, attribute, content, metadata, source, source_ref, asserted_by,
         goal_id, occurred_at, dedupe_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, COALESCE($11, now()), $12)
       ON CONFLICT (dedupe_key) DO NOTHING
       RETURNING *, 1 AS score`,
      [
        memory.operatorId,
        memory.kind,
        memory.subject ?? null,
        memory.attribute ?? null,
        memory.content,
        JSON.stringify(memory.metadata ?? {}),
        memory.provenance.source,
        memory.provenance.sourceRef ?? null,
        memory.provenance.assertedBy,
        memory.goalId ?? null,
        memory.occurredAt ?? null,
        memory.dedupeKey ?? null,
      ],
    );
    if (result.rows[0]) return toPointer(result.rows[0]);
    const existing = await this.db.query('SELECT *, 1 AS score FROM memories WHERE dedupe_key = $1', [
      memory.dedupeKey,
    ]);
    return toPointer(existing.rows[0]);
  }

  async recall(query: string, options: RecallOptions): Promise<MemoryPointer[]> {
    const terms = queryTerms(query);
    if (terms.length === 0) return [];
    const kinds = options.kinds ?? DEFAULT_KINDS;
    // Any-term full-text query: to_tsquery over the terms OR-ed together (each term quoted as a phrase
    // so punctuation in addresses cannot inject tsquery syntax).
    const orQuery = terms.map((term) => `'${term.replaceAll("'", "''")}'`).join(' | ');
    const likePatterns = terms
      .filter((term) => term.length >= 3)
      .map((term) => `%${term.replace(/[\\%_]/g, '\\$&')}%`);
    const result = await this.db.query(
      `SELECT m.*, (ts_rank(m.tsv, q) + 0.1 * (SELECT count(*) FROM unnest($5::text[]) p WHERE m.content ILIKE p)) AS score
       FROM memories m, to_tsquery('english', $2) q
       WHERE m.operator_id = $1 AND m.kind = ANY($3) AND m.superseded_by IS NULL
         AND (m.expires_at IS NULL OR m.expires_at > COALESCE($4, now()))
         AND (m.tsv @@ q OR m.content ILIKE ANY($5::text[]))
       ORDER BY score DESC, m.occurred_at DESC, m.id DESC
       LIMIT $6`,
      [options.operatorId, orQuery, kinds, options.now ?? null, likePatterns, options.limit ?? 5],
    );
    return result.rows.map(toPointer);
  }
}
