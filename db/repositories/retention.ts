import type pg from 'pg';
import type { Queryable } from '../database.ts';
import { withTransaction } from '../transaction.ts';
import { toDate } from './rows.ts';

/** A goal's forensics summary as stored when its checkpoints were pruned (`goal_forensics_summaries`). */
export interface ForensicsSummaryRow {
  goalId: number;
  /** The steps as goal-forensics.ts built them, JSON (dates as ISO strings). */
  steps: unknown;
  /** How many checkpoints the goal had. */
  checkpoints: number;
  /** Memories the steps point at. */
  memoryIds: number[];
  /** True once its texts were removed (a memory it points at expired or was forgotten). */
  redacted: boolean;
  prunedAt: Date;
}

/** One checkpoint row holding JSON (a channel value or a pending write), with its key. */
export type CheckpointJsonRow =
  | {
      table: 'checkpoint_blobs';
      threadId: string;
      ns: string;
      channel: string;
      version: string;
      blob: Buffer;
    }
  | {
      table: 'checkpoint_writes';
      threadId: string;
      ns: string;
      checkpointId: string;
      taskId: string;
      idx: number;
      blob: Buffer;
    };

/** Where a goal stands, for deciding between pruning its checkpoints and scrubbing them in place. */
export interface GoalForRetention {
  id: number;
  operatorId: number;
  /**
   * Finished and left alone: done, cancelled or failed, with no open failure (its Retry continues
   * from the checkpoints) and no pending approval (a decision would resume the graph).
   */
  settled: boolean;
}

// A goal's graph runs on thread `<id>`; a playbook run's on `playbook-<id>` (jobs/playbook-jobs.ts).
const GOAL_OF_THREAD = `CASE WHEN thread_id ~ '^[0-9]{1,18}$' THEN thread_id::bigint
  WHEN thread_id ~ '^playbook-[0-9]{1,18}$' THEN substr(thread_id, 10)::bigint END`;

// Pointers to memories serialise with a "snippet" key (memory/memory-store.ts, MemoryPointer).
const HOLDS_POINTERS = `type = 'json' AND position(convert_to('"snippet"', 'UTF8') in blob) > 0`;

/** A goal left alone: see {@link GoalForRetention}'s `settled`. */
const SETTLED = `g.status IN ('done', 'failed', 'cancelled')
  AND NOT EXISTS (SELECT 1 FROM failures f WHERE f.goal_id = g.id AND f.status = 'open')
  AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.goal_id = g.id AND a.status = 'pending')`;

/** The checkpoint threads of a goal: its own graph's and, for a playbook run, the playbook's. */
export function goalThreads(goalId: number): string[] {
  return [String(goalId), `playbook-${goalId}`];
}

/** The goal a checkpoint thread belongs to, or null for a thread of something else. */
export function goalOfThread(threadId: string): number | null {
  const match = /^(?:playbook-)?(\d{1,18})$/.exec(threadId);
  return match ? Number(match[1]) : null;
}

/**
 * The deletes and reads of the retention sweep (jobs/retention.ts). Row deletes are bounded
 * (`limit` rows, oldest first); the checkpoint tables are the LangGraph checkpointer's, in the
 * same schema (thread id = goal id). Never touches `events`.
 */
export class RetentionRepository {
  constructor(private readonly pool: pg.Pool) {}

  /** Delete up to `limit` chat deliveries received before `cutoff` (none still held under a lease). */
  async deleteInboxBefore(cutoff: Date, limit: number): Promise<number> {
    return this.#deleteOldest(
      'inbox',
      'channel, delivery_id',
      'received_at < $1 AND (lease_until IS NULL OR lease_until < now())',
      'received_at',
      cutoff,
      limit,
    );
  }

  /** Delete up to `limit` inbound deliveries (e-mails, Stripe events) received before `cutoff`. */
  async deleteInboundDeliveriesBefore(cutoff: Date, limit: number): Promise<number> {
    return this.#deleteOldest(
      'inbound_deliveries',
      'source, delivery_id',
      'received_at < $1',
      'received_at',
      cutoff,
      limit,
    );
  }

  /** Delete up to `limit` model calls made before `cutoff`. */
  async deleteModelUsageBefore(cutoff: Date, limit: number): Promise<number> {
    return this.#deleteOldest('llm_usage', 'id', 'at < $1', 'at', cutoff, limit);
  }

  async #deleteOldest(
    table: string,
    key: string,
    where: string,
    order: string,
    cutoff: Date,
    limit: number,
  ): Promise<number> {
    const result = await this.pool.query(
      `DELETE FROM ${table} WHERE (${key}) IN (SELECT ${key} FROM ${table} WHERE ${where} ORDER BY ${order} LIMIT $2)`,
      [cutoff, Math.trunc(limit)],
    );
    return result.rowCount ?? 0;
  }

  /**
   * Settled goals (see {@link GoalForRetention}) that finished before `cutoff` and still have
   * checkpoints, oldest first, but those in `skip`. Driven by the checkpoint threads, which
   * retention keeps few, rather than by every goal ever finished.
   */
  async finishedGoalsWithCheckpoints(
    cutoff: Date,
    limit: number,
    skip: number[] = [],
  ): Promise<GoalForRetention[]> {
    const result = await this.pool.query(
      `WITH threads AS (SELECT DISTINCT ${GOAL_OF_THREAD} AS goal_id FROM checkpoints)
       SELECT g.id, g.operator_id FROM threads t JOIN goals g ON g.id = t.goal_id
       WHERE g.updated_at < $1 AND ${SETTLED} AND NOT (g.id = ANY($3::bigint[]))
       ORDER BY g.updated_at, g.id LIMIT $2`,
      [cutoff, Math.trunc(limit), skip],
    );
    return result.rows.map((row) => ({
      id: Number(row.id),
      operatorId: Number(row.operator_id),
      settled: true,
    }));
  }

  /** The goals with these ids, and whether each is settled and was last updated before `quietSince`. */
  async goals(goalIds: number[], quietSince: Date): Promise<Map<number, GoalForRetention>> {
    if (goalIds.length === 0) return new Map();
    const result = await this.pool.query(
      `SELECT g.id, g.operator_id, (${SETTLED} AND g.updated_at < $2) AS settled FROM goals g
       WHERE g.id = ANY($1::bigint[])`,
      [goalIds, quietSince],
    );
    return new Map(
      result.rows.map((row) => [
        Number(row.id),
        { id: Number(row.id), operatorId: Number(row.operator_id), settled: row.settled === true },
      ]),
    );
  }

  /**
   * Keep a goal's summary and delete the checkpoint rows of its threads, in one transaction (a
   * crash leaves both or neither). A goal pruned before (it ran again since) keeps both stories,
   * redacted only if both were (else the scrub finds it by its memory ids and redacts it whole).
   * Returns the checkpoint rows deleted.
   */
  async pruneGoalCheckpoints(
    goalId: number,
    summary: { steps: unknown[]; checkpoints: number; memoryIds: number[]; redacted: boolean },
  ): Promise<number> {
    const threads = goalThreads(goalId);
    return withTransaction(this.pool, async (client) => {
      await client.query(
        `INSERT INTO goal_forensics_summaries (goal_id, steps, checkpoints, memory_ids, redacted)
         VALUES ($1, $2::jsonb, $3, $4::bigint[], $5)
         ON CONFLICT (goal_id) DO UPDATE SET steps = goal_forensics_summaries.steps || EXCLUDED.steps,
           checkpoints = goal_forensics_summaries.checkpoints + EXCLUDED.checkpoints,
           memory_ids = goal_forensics_summaries.memory_ids || EXCLUDED.memory_ids,
           redacted = goal_forensics_summaries.redacted AND EXCLUDED.redacted, pruned_at = now()`,
        [goalId, JSON.stringify(summary.steps), summary.checkpoints, summary.memoryIds, summary.redacted],
      );
      let deleted = 0;
      for (const table of ['checkpoint_writes', 'checkpoint_blobs', 'checkpoints']) {
        const result = await client.query(`DELETE FROM ${table} WHERE thread_id = ANY($1::text[])`, [
          threads,
        ]);
        deleted += result.rowCount ?? 0;
      }
      return deleted;
    });
  }

  /** Threads (after `afterThread`, in order) whose checkpoint rows hold memory pointers. */
  async threadsWithMemoryPointers(afterThread: string, limit: number): Promise<string[]> {
    const result = await this.pool.query(
      `SELECT thread_id FROM (
         SELECT thread_id FROM checkpoint_blobs WHERE ${HOLDS_POINTERS} AND thread_id > $1
         UNION SELECT thread_id FROM checkpoint_writes WHERE ${HOLDS_POINTERS} AND thread_id > $1
       ) t ORDER BY thread_id LIMIT $2`,
      [afterThread, Math.trunc(limit)],
    );
    return result.rows.map((row) => String(row.thread_id));
  }

  /** The JSON rows of these threads; with `onlyPointers`, only those holding memory pointers. */
  async jsonRows(threadIds: string[], onlyPointers: boolean): Promise<CheckpointJsonRow[]> {
    if (threadIds.length === 0) return [];
    const filter = onlyPointers ? HOLDS_POINTERS : `type = 'json'`;
    const blobs = await this.pool.query(
      `SELECT thread_id, checkpoint_ns, channel, version, blob FROM checkpoint_blobs
       WHERE thread_id = ANY($1::text[]) AND blob IS NOT NULL AND ${filter}`,
      [threadIds],
    );
    const writes = await this.pool.query(
      `SELECT thread_id, checkpoint_ns, checkpoint_id, task_id, idx, blob FROM checkpoint_writes
       WHERE thread_id = ANY($1::text[]) AND ${filter}`,
      [threadIds],
    );
    return [
      ...blobs.rows.map(
        (row): CheckpointJsonRow => ({
          table: 'checkpoint_blobs',
          threadId: String(row.thread_id),
          ns: String(row.checkpoint_ns),
          channel: String(row.channel),
          version: String(row.version),
          blob: row.blob as Buffer,
        }),
      ),
      ...writes.rows.map(
        (row): CheckpointJsonRow => ({
          table: 'checkpoint_writes',
          threadId: String(row.thread_id),
          ns: String(row.checkpoint_ns),
          checkpointId: String(row.checkpoint_id),
          taskId: String(row.task_id),
          idx: Number(row.idx),
          blob: row.blob as Buffer,
        }),
      ),
    ];
  }

  /**
   * Replace a row's JSON, unless the row changed since it was read (compare-and-set: the graph
   * may be writing the thread meanwhile). True when it was replaced.
   */
  async replaceJson(row: CheckpointJsonRow, blob: Buffer): Promise<boolean> {
    const result =
      row.table === 'checkpoint_blobs'
        ? await this.pool.query(
            `UPDATE checkpoint_blobs SET blob = $5 WHERE thread_id = $1 AND checkpoint_ns = $2 AND channel = $3
               AND version = $4 AND blob = $6`,
            [row.threadId, row.ns, row.channel, row.version, blob, row.blob],
          )
        : await this.pool.query(
            `UPDATE checkpoint_writes SET blob = $6 WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3
               AND task_id = $4 AND idx = $5 AND blob = $7`,
            [row.threadId, row.ns, row.checkpointId, row.taskId, row.idx, blob, row.blob],
          );
    return (result.rowCount ?? 0) > 0;
  }

  /** Of these memory ids, those whose memory is gone (forgotten, swept) or expired at `now`. */
  async goneMemories(ids: number[], now: Date): Promise<Set<number>> {
    if (ids.length === 0) return new Set();
    const result = await this.pool.query(
      `SELECT ref.id FROM unnest($1::bigint[]) AS ref(id)
       WHERE NOT EXISTS (SELECT 1 FROM memories m WHERE m.id = ref.id AND (m.expires_at IS NULL OR m.expires_at > $2))`,
      [[...new Set(ids)], now],
    );
    return new Set(result.rows.map((row) => Number(row.id)));
  }

  /** Unredacted summaries that point at a memory gone or expired at `now` (up to `limit`). */
  async summariesToRedact(now: Date, limit: number): Promise<ForensicsSummaryRow[]> {
    const result = await this.pool.query(
      `SELECT s.* FROM goal_forensics_summaries s
       WHERE NOT s.redacted AND EXISTS (
         SELECT 1 FROM unnest(s.memory_ids) AS ref(id) WHERE NOT EXISTS (
           SELECT 1 FROM memories m WHERE m.id = ref.id AND (m.expires_at IS NULL OR m.expires_at > $1)))
       ORDER BY s.goal_id LIMIT $2`,
      [now, Math.trunc(limit)],
    );
    return result.rows.map(toSummary);
  }

  /** Replace a summary's steps with their redacted form. */
  async redactSummary(goalId: number, steps: unknown[]): Promise<void> {
    await this.pool.query(
      'UPDATE goal_forensics_summaries SET steps = $2::jsonb, redacted = true WHERE goal_id = $1',
      [goalId, JSON.stringify(steps)],
    );
  }
}

function toSummary(row: Record<string, unknown>): ForensicsSummaryRow {
  return {
    goalId: Number(row.goal_id),
    steps: row.steps,
    checkpoints: Number(row.checkpoints),
    memoryIds: Array.isArray(row.memory_ids) ? row.memory_ids.map(Number) : [],
    redacted: row.redacted === true,
    prunedAt: toDate(row.pruned_at),
  };
}

/** For the forensics read path: the summary of a pruned goal (a function, so readers need no pool). */
export async function readForensicsSummary(
  db: Queryable,
  goalId: number,
): Promise<ForensicsSummaryRow | null> {
  const result = await db.query('SELECT * FROM goal_forensics_summaries WHERE goal_id = $1', [goalId]);
  const row = result.rows[0];
  return row ? toSummary(row) : null;
}
