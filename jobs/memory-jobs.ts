import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { SpineJob } from '../core/jobs.ts';
import type { Repositories } from '../db/repositories/index.ts';
import type { PgvectorMemoryStore } from '../memory/pgvector-memory-store.ts';

/** Deletes rows that expired (returns how many); run by the hourly sweep. */
export interface Sweeper {
  what: string;
  sweep(now: Date): Promise<number>;
}

export interface MemoryJobDeps {
  memory: PgvectorMemoryStore;
  repos: Repositories;
  clock: Clock;
  logger: Logger;
  /** Other expired rows deleted by the same hourly sweep (cached model answers, console logins). */
  sweepers?: readonly Sweeper[];
  /** Memories re-embedded per batch. */
  batchSize?: number;
  /** Called after every batch: the progress the operator sees (`status`, the story). */
  onProgress?: (progress: { done: number; total: number }) => void;
}

/** True for the jobs this module runs. */
export function isMemoryJob(
  job: SpineJob,
): job is Extract<SpineJob, { name: 'reembed-memories' | 'sweep-memories' }> {
  return job.name === 'reembed-memories' || job.name === 'sweep-memories';
}

/**
 * Re-embed every memory with the configured embedder, batch by batch, recording progress. Safe to
 * re-run after a crash: it continues with the memories not yet embedded with the new embedder.
 */
export async function reembedMemories(deps: MemoryJobDeps): Promise<{ total: number }> {
  const embedderId = deps.memory.embedder.id;
  let lastQuarter = -1;
  for (;;) {
    const progress = await deps.memory.reembedBatch(deps.batchSize ?? 200);
    const done = progress.total - progress.remaining;
    deps.onProgress?.({ done, total: progress.total });
    const quarter = progress.total === 0 ? 4 : Math.floor((4 * done) / progress.total);
    if (quarter !== lastQuarter) {
      lastQuarter = quarter;
      deps.logger.info({ embedderId, done, total: progress.total }, 'memories re-embedded');
    }
    if (progress.remaining === 0 || progress.done === 0) {
      for (const operatorId of await deps.memory.operatorsWithMemories()) {
        await deps.repos.events.append({
          operatorId,
          actor: 'spine',
          verb: 're-embedded',
          object: `${progress.total} memories with ${embedderId}`,
          why: 'the embeddings configuration changed',
        });
      }
      return { total: progress.total };
    }
  }
}

/** Sketches written per batch: a sketch is cheap to compute; reading 1,000 embeddings is ~6 MB. */
const SKETCH_BATCH = 1000;

/**
 * Write the search sketches that copies lack (memories stored before migration 021), batch by
 * batch; searches rank through the 16-bit copies until none is missing. Logs progress by quarters.
 */
export async function fillSketches(deps: MemoryJobDeps): Promise<{ filled: number }> {
  let filled = 0;
  let total = 0;
  let lastQuarter = -1;
  for (;;) {
    const { done, remaining } = await deps.memory.fillSketches(SKETCH_BATCH);
    if (filled === 0 && done === 0) return { filled };
    if (total === 0) total = done + (remaining ? await deps.memory.unsketchedCount() : 0);
    filled += done;
    const quarter = remaining ? Math.floor((4 * filled) / Math.max(total, filled)) : 4;
    if (quarter !== lastQuarter) {
      lastQuarter = quarter;
      deps.logger.info({ done: filled, total: Math.max(total, filled) }, 'memory search sketches written');
    }
    // Nothing written while some remain: another writer changed them meanwhile; the next sweep continues.
    if (!remaining || done === 0) return { filled };
  }
}

/** Run a memory job. */
export async function handleMemoryJob(deps: MemoryJobDeps, job: SpineJob): Promise<void> {
  if (job.name === 'reembed-memories') {
    await reembedMemories(deps);
  } else if (job.name === 'sweep-memories') {
    await fillSketches(deps);
    const now = deps.clock.now();
    const deleted = await deps.memory.sweepExpired(now);
    if (deleted > 0) deps.logger.info({ deleted }, 'expired memories deleted');
    for (const sweeper of deps.sweepers ?? []) {
      const swept = await sweeper.sweep(now);
      if (swept > 0) deps.logger.info({ deleted: swept }, `expired ${sweeper.what} deleted`);
    }
  }
}
