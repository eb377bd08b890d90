import type { Clock } from '../core/clock.ts';
import { SpineError } from '../core/errors.ts';
import type { Queryable } from '../db/database.ts';
import type { Provenance, Sensitivity } from '../memory/memory-store.ts';
import type { PgvectorMemoryStore } from '../memory/pgvector-memory-store.ts';
import { appendOnce, type NormalizedValue, withValue } from './normalizers/normalizing-memory-store.ts';
import type { NormalizerRegistry } from './normalizers/registry.ts';

export interface RenormalizeDeps {
  db: Queryable;
  /** The plain store (not the normalizing one): replayed values are written as they are computed. */
  memory: PgvectorMemoryStore;
  registry: NormalizerRegistry;
  clock: Clock;
}

/** One fact whose value the current normalizer version computes differently. */
export interface FactChange {
  operatorId: number;
  subject: string;
  attribute: string;
  /** The value stored now, and the value the current version computes from the same raw input. */
  before: string;
  after: string;
  raw: string;
  /** The current version of the fact (it will be superseded, not rewritten). */
  factId: number;
  fromVersion: number;
  /** The normalisation event replayed. */
  eventId: number;
}

export interface RenormalizePlan {
  normalizer: string;
  version: number;
  /** Facts of this normalizer that are still current (replaced or forgotten ones are left alone). */
  examined: number;
  changes: FactChange[];
}

interface NormalisationEvent {
  id: number;
  operatorId: number;
  subject: string;
  attribute: string;
  raw: string;
}

/**
 * Replay the recorded normalisations of one normalizer through its current version: for each fact
 * still current, whose stored raw input is the one the event recorded, compute the value again.
 * Reads only: the dry run.
 */
export async function planRenormalize(
  deps: RenormalizeDeps,
  name: string,
  operatorId?: number,
): Promise<RenormalizePlan> {
  const normalizer = deps.registry.get(name);
  if (!normalizer) {
    throw new SpineError(
      'renormalize.unknown_normalizer',
      `There is no normalizer "${name}". Known: ${deps.registry
        .list()
        .map((each) => each.name)
        .join(', ')}.`,
      { category: 'user' },
    );
  }
  const events = await normalisationEvents(deps.db, name, operatorId);
  const seen = new Set<number>();
  const changes: FactChange[] = [];
  let examined = 0;
  // Newest first: when several events led to the same current fact, the latest one made it.
  for (const event of events) {
    const head = await deps.memory.lookupFact(event.operatorId, event.subject, event.attribute);
    if (!head || seen.has(head.id)) continue;
    const stored = head.metadata?.normalized as NormalizedValue | undefined;
    // The fact was replaced since (by hand, or by another input): this event no longer speaks for it.
    if (!stored || stored.normalizer !== name || stored.raw !== event.raw) continue;
    seen.add(head.id);
    examined += 1;
    const after = normalizer.normalize(event.raw) ?? event.raw;
    if (after === stored.value) continue;
    changes.push({
      operatorId: event.operatorId,
      subject: event.subject,
      attribute: event.attribute,
      before: stored.value,
      after,
      raw: event.raw,
      factId: head.id,
      fromVersion: stored.version,
      eventId: event.id,
    });
  }
  changes.sort((a, b) => a.factId - b.factId);
  return { normalizer: name, version: normalizer.version, examined, changes };
}

/**
 * Apply a plan: each change becomes a new version of the fact that supersedes the old one (the old
 * stays in the fact's history) and a `renormalised` event. Nothing is rewritten in place; applying
 * the same plan twice writes each new version once (its dedupe key names the old fact and version).
 */
export async function applyRenormalize(
  deps: RenormalizeDeps,
  plan: RenormalizePlan,
  actor: string,
): Promise<Array<FactChange & { newFactId: number }>> {
  const applied: Array<FactChange & { newFactId: number }> = [];
  for (const change of plan.changes) {
    const row = await factRow(deps.db, change.factId);
    if (!row) continue;
    const normalized: NormalizedValue = {
      normalizer: plan.normalizer,
      version: plan.version,
      raw: change.raw,
      value: change.after,
    };
    const pointer = await deps.memory.remember({
      operatorId: change.operatorId,
      kind: 'fact',
      subject: change.subject,
      attribute: change.attribute,
      content: withValue(row.content, change, change.before, change.after),
      provenance: row.provenance,
      goalId: row.goalId ?? undefined,
      sensitivity: row.sensitivity,
      metadata: { ...row.metadata, normalized, renormalizedFrom: change.factId },
      dedupeKey: `renormalize:${change.factId}:${plan.normalizer}@${plan.version}`,
      occurredAt: deps.clock.now(),
    });
    const appended = await appendOnce(deps.db, {
      operatorId: change.operatorId,
      actor,
      verb: 'renormalised',
      object: `${change.subject}'s ${change.attribute} from “${change.before}” to “${change.after}” (${plan.normalizer} v${change.fromVersion} → v${plan.version})`,
      ref: `memory #${pointer.id}`,
      payload: {
        normalizer: plan.normalizer,
        version: plan.version,
        fromVersion: change.fromVersion,
        raw: change.raw,
        before: change.before,
        after: change.after,
        factId: pointer.id,
        supersedes: change.factId,
        replayOf: change.eventId,
      },
    });
    // Applied twice at once (Confirm tapped twice): the write and its event happened once.
    if (appended) applied.push({ ...change, newFactId: pointer.id });
  }
  return applied;
}

/** The dry-run diff as text: one line per fact that would change. */
export function renderPlan(plan: RenormalizePlan): string {
  const head = `Renormalize with ${plan.normalizer} v${plan.version}: ${plan.changes.length} of ${plan.examined} current fact${plan.examined === 1 ? '' : 's'} would change.`;
  return [
    head,
    ...plan.changes.map(
      (change) => `• ${change.subject} / ${change.attribute}: ${change.before} → ${change.after}`,
    ),
  ].join('\n');
}

async function normalisationEvents(
  db: Queryable,
  name: string,
  operatorId?: number,
): Promise<NormalisationEvent[]> {
  const result = await db.query(
    `SELECT id, operator_id, payload FROM events
     WHERE verb = 'normalised' AND payload->>'normalizer' = $1 AND ($2::bigint IS NULL OR operator_id = $2)
     ORDER BY id DESC`,
    [name, operatorId ?? null],
  );
  return result.rows.flatMap((row) => {
    const payload = row.payload as Record<string, unknown>;
    if (
      typeof payload.raw !== 'string' ||
      typeof payload.subject !== 'string' ||
      typeof payload.attribute !== 'string'
    )
      return [];
    return [
      {
        id: Number(row.id),
        operatorId: Number(row.operator_id),
        subject: payload.subject,
        attribute: payload.attribute,
        raw: payload.raw,
      },
    ];
  });
}

async function factRow(
  db: Queryable,
  id: number,
): Promise<{
  content: string;
  provenance: Provenance;
  goalId: number | null;
  sensitivity: Sensitivity;
  metadata: Record<string, unknown>;
} | null> {
  const result = await db.query(
    'SELECT content, source, source_ref, asserted_by, goal_id, sensitivity, metadata FROM memories WHERE id = $1',
    [id],
  );
  const row = result.rows[0];
  if (!row) return null;
  return {
    content: String(row.content),
    provenance: {
      source: row.source as Provenance['source'],
      sourceRef: (row.source_ref as string | null) ?? undefined,
      assertedBy: String(row.asserted_by),
    },
    goalId: row.goal_id === null ? null : Number(row.goal_id),
    sensitivity: (row.sensitivity as Sensitivity | null) ?? 'normal',
    metadata: (row.metadata as Record<string, unknown> | null) ?? {},
  };
}
