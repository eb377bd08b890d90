import type { BaseCheckpointSaver } from '@langchain/langgraph';
import type { Logger } from 'pino';
import type { RetentionSettings } from '../app/retention-config.ts';
import type { Clock } from '../core/clock.ts';
import { describeError } from '../core/errors.ts';
import type { Queryable } from '../db/database.ts';
import {
  type CheckpointJsonRow,
  type GoalForRetention,
  goalOfThread,
  type RetentionRepository,
} from '../db/repositories/retention.ts';
import { type ForensicStep, goalForensics, redactForensicSteps } from '../ledger/goal-forensics.ts';
import type { Sweeper } from './memory-jobs.ts';
import { SingletonDuty, type SingletonLeaseStore } from './singleton-duty.ts';

export interface RetentionDeps {
  repository: RetentionRepository;
  /** Where goal-forensics.ts reads goals, actions and model calls. */
  db: Queryable;
  /** The goal graph's checkpointer: a goal's summary is read through it before its rows go. */
  checkpointer: BaseCheckpointSaver;
  settings: RetentionSettings;
  logger: Logger;
}

/** What one pass over expired and forgotten memories changed in checkpoints and summaries. */
export interface MemoryScrubCounts {
  /** Settled goals whose checkpoints went (a redacted summary kept) because they held such a memory. */
  goalsPruned: number;
  /** Threads of unsettled goals whose rows were rewritten without the memory's text. */
  threadsScrubbed: number;
  rowsRewritten: number;
  summariesRedacted: number;
}

/** What one retention sweep deleted; `more` when a bound stopped it before everything due went. */
export interface RetentionCounts extends MemoryScrubCounts {
  inbox: number;
  inboundDeliveries: number;
  modelUsage: number;
  /** Finished goals whose checkpoints went, past the window (a summary kept). */
  goalCheckpoints: number;
  checkpointRows: number;
  more: boolean;
}

const DAY_MS = 86_400_000;
/** Goals summarised and pruned per batch: each summary reads the goal's whole history. */
const GOAL_BATCH = 50;
/** Checkpoint threads read per page when looking for memory pointers. */
const THREAD_PAGE = 100;
/**
 * A goal's row says done before its graph's last node (`remember`) has run: one settled this
 * recently is scrubbed in place rather than pruned, and pruned by a later sweep.
 */
const SETTLED_QUIET_MS = 15 * 60_000;
const MEMORY_KINDS = new Set(['fact', 'note', 'document', 'episode']);
/** Shorter snippets are not searched for in other texts: they would match ordinary words. */
const MIN_SCRUBBED_TEXT = 4;

/**
 * One retention sweep at `now`: delete chat deliveries, inbound deliveries and model usage past
 * their windows, and the checkpoints of goals settled before theirs (keeping each goal's forensics
 * summary); then scrub expired and forgotten memories from checkpoints. Bounded: at most
 * `maxBatches` statements of `batchSize` rows per table and `maxBatches` batches of goals, the
 * rest at the next run. Idempotent; never touches the event log. Stops between batches when
 * `signal` aborts (the duty's lease was lost).
 */
export async function sweepRetention(
  deps: RetentionDeps,
  now: Date,
  signal?: AbortSignal,
): Promise<RetentionCounts> {
  const { repository, settings } = deps;
  const before = (days: number) => new Date(now.getTime() - days * DAY_MS);
  let more = false;
  const deleteAll = async (days: number | null, remove: (cutoff: Date, limit: number) => Promise<number>) => {
    if (days === null) return 0;
    let total = 0;
    for (let batch = 0; batch < settings.maxBatches; batch += 1) {
      if (signal?.aborted) return total;
      const deleted = await remove(before(days), settings.batchSize);
      total += deleted;
      if (deleted < settings.batchSize) return total;
    }
    more = true;
    return total;
  };
  const inbox = await deleteAll(settings.inboxDays, (cutoff, limit) =>
    repository.deleteInboxBefore(cutoff, limit),
  );
  const inboundDeliveries = await deleteAll(settings.inboundDeliveryDays, (cutoff, limit) =>
    repository.deleteInboundDeliveriesBefore(cutoff, limit),
  );
  const modelUsage = await deleteAll(settings.modelUsageDays, (cutoff, limit) =>
    repository.deleteModelUsageBefore(cutoff, limit),
  );

  let goalCheckpoints = 0;
  let checkpointRows = 0;
  if (settings.goalCheckpointDays !== null) {
    const skipped: number[] = [];
    let batches = 0;
    for (; batches < settings.maxBatches && !signal?.aborted; batches += 1) {
      const goals = await repository.finishedGoalsWithCheckpoints(
        before(settings.goalCheckpointDays),
        GOAL_BATCH,
        skipped,
      );
      for (const goal of goals) {
        if (signal?.aborted) break;
        try {
          checkpointRows += await pruneGoal(deps, goal, false);
          goalCheckpoints += 1;
        } catch (error) {
          // Left for the next run; skipped in this one so it cannot hold up the others.
          skipped.push(goal.id);
          deps.logger.warn(
            { goalId: goal.id, err: describeError(error) },
            'could not prune the checkpoints of a finished goal',
          );
        }
      }
      if (goals.length < GOAL_BATCH) break;
    }
    if (batches === settings.maxBatches) more = true;
  }

  const scrub = await scrubGoneMemories(deps, now, signal);
  const counts = { inbox, inboundDeliveries, modelUsage, goalCheckpoints, checkpointRows, ...scrub, more };
  deps.logger.info(counts, 'retention sweep');
  return counts;
}

/**
 * Keep a settled goal's summary and delete its checkpoints. `redact`: the goal read a memory that
 * expired or was forgotten, so the summary keeps no text it could have been copied into.
 */
async function pruneGoal(deps: RetentionDeps, goal: GoalForRetention, redact: boolean): Promise<number> {
  const forensics = await goalForensics(
    { db: deps.db, checkpointer: deps.checkpointer },
    goal.operatorId,
    goal.id,
  );
  // Already summarised (only a playbook thread was left): nothing new to keep.
  const steps = forensics.pruned ? [] : forensics.steps;
  const memoryIds = [...new Set(steps.flatMap((step) => step.memories.map((memory) => memory.id)))];
  return deps.repository.pruneGoalCheckpoints(goal.id, {
    steps: redact ? redactForensicSteps(steps) : steps,
    checkpoints: forensics.pruned ? 0 : forensics.checkpoints,
    memoryIds,
    redacted: redact,
  });
}

/**
 * Sensitive memory never outlives its TTL in a checkpoint. A goal's state holds pointers to the
 * memories it read, with their snippets, and its plan and reply may quote them. For every pointer
 * to a memory gone (swept at its TTL, or forgotten) or expired at `now`:
 * - a settled goal's checkpoints are pruned, keeping a redacted summary (its ids, no texts);
 *   one settled in the last minutes is treated as still under way;
 * - a goal still under way keeps running: in every JSON row of its thread the pointer loses its
 *   snippet (the id stays, so the goal is pruned once settled) and the snippet's text, wherever a
 *   node copied it (the plan's answer), is replaced by `[memory #id removed]`.
 * Summaries kept earlier that point at such a memory are redacted. Run by the hourly memory sweep
 * right after it deletes expired memories, and by the daily retention sweep.
 */
export async function scrubGoneMemories(
  deps: RetentionDeps,
  now: Date,
  signal?: AbortSignal,
): Promise<MemoryScrubCounts> {
  const { repository, settings } = deps;
  const counts: MemoryScrubCounts = {
    goalsPruned: 0,
    threadsScrubbed: 0,
    rowsRewritten: 0,
    summariesRedacted: 0,
  };
  const pruned = new Set<number>();
  let after = '';
  for (let page = 0; page < settings.maxBatches && !signal?.aborted; page += 1) {
    const threads = await repository.threadsWithMemoryPointers(after, THREAD_PAGE);
    if (threads.length === 0) break;
    after = threads.at(-1) ?? after;
    const pointers = pointersByThread(await repository.jsonRows(threads, true));
    const gone = await repository.goneMemories(
      [...pointers.values()].flatMap((byId) => [...byId.keys()]),
      now,
    );
    const affected = [...pointers].filter(([, byId]) => [...byId.keys()].some((id) => gone.has(id)));
    const goals = await repository.goals(
      affected.map(([thread]) => goalOfThread(thread)).filter((id): id is number => id !== null),
      new Date(now.getTime() - SETTLED_QUIET_MS),
    );
    for (const [thread, byId] of affected) {
      if (signal?.aborted) break;
      const goalId = goalOfThread(thread);
      const goal = goalId === null ? undefined : goals.get(goalId);
      if (goal && pruned.has(goal.id)) continue;
      try {
        if (goal?.settled) {
          await pruneGoal(deps, goal, true);
          pruned.add(goal.id);
          counts.goalsPruned += 1;
          continue;
        }
        const goneHere = new Map([...byId].filter(([id]) => gone.has(id)));
        const rewritten = await scrubThread(repository, thread, goneHere);
        if (rewritten > 0) {
          counts.threadsScrubbed += 1;
          counts.rowsRewritten += rewritten;
        }
      } catch (error) {
        // The next sweep finds the same pointers and tries again.
        deps.logger.warn(
          { thread, err: describeError(error) },
          'could not scrub an expired or forgotten memory from a checkpoint thread',
        );
      }
    }
    if (threads.length < THREAD_PAGE) break;
  }
  for (let page = 0; page < settings.maxBatches && !signal?.aborted; page += 1) {
    const summaries = await repository.summariesToRedact(now, GOAL_BATCH);
    for (const summary of summaries) {
      await repository.redactSummary(summary.goalId, redactForensicSteps(summary.steps as ForensicStep[]));
      counts.summariesRedacted += 1;
    }
    if (summaries.length < GOAL_BATCH) break;
  }
  if (counts.goalsPruned + counts.rowsRewritten + counts.summariesRedacted > 0)
    deps.logger.info(counts, 'expired or forgotten memories scrubbed from checkpoints');
  return counts;
}

/** The hourly memory sweep's step that runs {@link scrubGoneMemories} after expired memories go. */
export function memoryScrubSweeper(deps: RetentionDeps): Sweeper {
  return {
    what: 'memory texts in checkpoints and summaries',
    sweep: async (now) => {
      const counts = await scrubGoneMemories(deps, now);
      return counts.goalsPruned + counts.rowsRewritten + counts.summariesRedacted;
    },
  };
}

/** A memory pointer as serialised in goal and playbook state (memory/memory-store.ts). */
interface PointerLike {
  id: number;
  kind: string;
  snippet: string;
  [key: string]: unknown;
}

function isPointer(value: unknown): value is PointerLike {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const pointer = value as Record<string, unknown>;
  return (
    typeof pointer.id === 'number' &&
    typeof pointer.snippet === 'string' &&
    typeof pointer.kind === 'string' &&
    MEMORY_KINDS.has(pointer.kind)
  );
}

function parsed(row: CheckpointJsonRow): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(row.blob.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

/** The memory pointers of each thread: memory id → the snippets it was stored with. */
function pointersByThread(rows: CheckpointJsonRow[]): Map<string, Map<number, Set<string>>> {
  const threads = new Map<string, Map<number, Set<string>>>();
  for (const row of rows) {
    const json = parsed(row);
    if (!json.ok) continue;
    const byId = threads.get(row.threadId) ?? new Map<number, Set<string>>();
    visit(json.value, (pointer) => {
      const snippets = byId.get(pointer.id) ?? new Set<string>();
      if (pointer.snippet) snippets.add(pointer.snippet);
      byId.set(pointer.id, snippets);
    });
    if (byId.size > 0) threads.set(row.threadId, byId);
  }
  return threads;
}

function visit(value: unknown, onPointer: (pointer: PointerLike) => void): void {
  if (Array.isArray(value)) {
    for (const item of value) visit(item, onPointer);
  } else if (value && typeof value === 'object') {
    if (isPointer(value)) onPointer(value);
    for (const inner of Object.values(value)) visit(inner, onPointer);
  }
}

/**
 * Rewrite every JSON row of a thread without the gone memories: their pointers lose snippet,
 * source link and metadata; their snippets' text is replaced in every string. Returns the rows
 * rewritten (0 when a previous run already did it).
 */
async function scrubThread(
  repository: RetentionRepository,
  thread: string,
  gone: Map<number, Set<string>>,
): Promise<number> {
  // Longest first, so a snippet is replaced whole before a shorter one inside it. A snippet cut
  // with "…" is searched without it: a quote of the memory may go on past the cut.
  const texts = [...gone]
    .flatMap(([id, snippets]) =>
      [...snippets].flatMap((snippet) => [snippet, snippet.replace(/…$/, '')]).map((text) => ({ id, text })),
    )
    .filter(({ text }) => text.length >= MIN_SCRUBBED_TEXT)
    .sort((a, b) => b.text.length - a.text.length);
  let rewritten = 0;
  for (const row of await repository.jsonRows([thread], false)) {
    const json = parsed(row);
    if (!json.ok) continue;
    const scrubbed = scrubbedValue(json.value, gone, texts);
    const blob = Buffer.from(JSON.stringify(scrubbed), 'utf8');
    if (blob.equals(Buffer.from(JSON.stringify(json.value), 'utf8'))) continue;
    if (await repository.replaceJson(row, blob)) rewritten += 1;
  }
  return rewritten;
}

function scrubbedValue(
  value: unknown,
  gone: Map<number, unknown>,
  texts: Array<{ id: number; text: string }>,
): unknown {
  if (typeof value === 'string') {
    let text = value;
    for (const each of texts)
      if (text.includes(each.text)) text = text.replaceAll(each.text, `[memory #${each.id} removed]`);
    return text;
  }
  if (Array.isArray(value)) return value.map((item) => scrubbedValue(item, gone, texts));
  if (!value || typeof value !== 'object') return value;
  const entries = Object.entries(value).map(([key, inner]) => [key, scrubbedValue(inner, gone, texts)]);
  const object = Object.fromEntries(entries) as Record<string, unknown>;
  if (isPointer(value) && gone.has(value.id)) {
    object.snippet = '';
    if ('sourceRef' in object) object.sourceRef = null;
    if ('metadata' in object) object.metadata = {};
  }
  return object;
}

export interface RetentionSweepOptions {
  /** The first sweep, this long after start (default 5 minutes). */
  startDelayMs?: number;
  /** Between sweeps (default a day). */
  everyMs?: number;
}

/**
 * The retention sweep's timers, in every main process: once a few minutes after start (start-up
 * has recovery and platform backlogs to get through first), then daily. One process of a
 * deployment sweeps at a time (a duty lease); a sweep already running is joined, not doubled.
 */
export class RetentionSweep {
  readonly #deps: RetentionDeps & { clock: Clock };
  readonly #duty: SingletonDuty;
  readonly #startDelayMs: number;
  readonly #everyMs: number;
  #timers: NodeJS.Timeout[] = [];
  #running: Promise<RetentionCounts | null> | undefined;

  constructor(
    deps: RetentionDeps & { clock: Clock; leases: SingletonLeaseStore },
    options: RetentionSweepOptions = {},
  ) {
    this.#deps = deps;
    this.#duty = new SingletonDuty({ leases: deps.leases, name: 'retention', logger: deps.logger });
    this.#startDelayMs = options.startDelayMs ?? 5 * 60_000;
    this.#everyMs = options.everyMs ?? DAY_MS;
  }

  start(): void {
    if (this.#timers.length > 0) return;
    const first = setTimeout(() => void this.runOnce(), this.#startDelayMs);
    const daily = setInterval(() => void this.runOnce(), this.#everyMs);
    first.unref();
    daily.unref();
    this.#timers = [first, daily];
  }

  /** Sweep now; null when another process holds the duty or the sweep failed (logged). */
  runOnce(): Promise<RetentionCounts | null> {
    this.#running ??= this.#duty
      .run((signal) => sweepRetention(this.#deps, this.#deps.clock.now(), signal))
      .then((run) => (run.ran ? run.value : null))
      .catch((error: unknown) => {
        this.#deps.logger.error({ err: describeError(error) }, 'the retention sweep failed');
        return null;
      })
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  async stop(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers = [];
    await this.#running;
  }
}
