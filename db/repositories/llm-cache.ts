import type { Queryable } from '../database.ts';

/** A cached model answer, as stored (the model layer decides its shape). */
export interface CachedAnswer {
  key: string;
  model: string;
  response: Record<string, unknown>;
  hits: number;
}

/** The `llm_cache` table: answers to deterministic model calls, with a time to live. */
export class LlmCacheRepository {
  constructor(private readonly db: Queryable) {}

  /** The live answer for a key, counting the hit; null when missing or expired. */
  async hit(key: string, now: Date): Promise<CachedAnswer | null> {
    const result = await this.db.query(
      `UPDATE llm_cache SET hits = hits + 1, last_hit_at = $2
       WHERE key = $1 AND expires_at > $2
       RETURNING key, model, response, hits`,
      [key, now],
    );
    const row = result.rows[0];
    if (!row) return null;
    return {
      key: String(row.key),
      model: String(row.model),
      response: row.response as Record<string, unknown>,
      hits: Number(row.hits),
    };
  }

  /** Store (or refresh an expired) answer. */
  async put(input: {
    key: string;
    model: string;
    response: Record<string, unknown>;
    now: Date;
    ttlSeconds: number;
  }): Promise<void> {
    await this.db.query(
      `INSERT INTO llm_cache (key, model, response, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $4::timestamptz + make_interval(secs => $5))
       ON CONFLICT (key) DO UPDATE SET response = EXCLUDED.response, created_at = EXCLUDED.created_at,
         expires_at = EXCLUDED.expires_at, hits = 0, last_hit_at = NULL`,
      [input.key, input.model, JSON.stringify(input.response), input.now, input.ttlSeconds],
    );
  }

  /** Delete expired answers; returns how many. */
  async sweep(now: Date): Promise<number> {
    const result = await this.db.query('DELETE FROM llm_cache WHERE expires_at <= $1', [now]);
    return result.rowCount ?? 0;
  }
}
