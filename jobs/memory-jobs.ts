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

/** Run a memory job. */
export async function handleMemoryJob(deps: MemoryJobDeps, job: SpineJob): Promise<void> {
  if (job.name === 'reembed-memories') {
    await reembedMemories(deps);
  } else if (job.name === 'sweep-memories') {
    const now = deps.clock.now();
    const deleted = await deps.memory.sweepExpired(now);
    if (deleted > 0) deps.logger.info({ deleted }, 'expired memories deleted');
    for (const sweeper of deps.sweepers ?? []) {
      const swept = await sweeper.sweep(now);
      if (swept > 0) deps.logger.info({ deleted: swept }, `expired ${sweeper.what} deleted`);
    }
  }
}
