import type { Logger } from 'pino';
import type { NewEvent } from '../../core/domain.ts';
import { describeError } from '../../core/errors.ts';
import type { Queryable } from '../../db/database.ts';
import { EventRepository } from '../../db/repositories/events.ts';
import { parseFact } from '../../memory/fact-parser.ts';
import type { MemoryPointer, MemoryStore, NewMemory, RecallOptions } from '../../memory/memory-store.ts';
import type { Normalizer } from './normalizer.ts';
import type { NormalizerRegistry } from './registry.ts';

/** What a fact written through a normalizer records in its metadata (and replay reads back). */
export interface NormalizedValue {
  normalizer: string;
  version: number;
  /** The value as it came in, before any normalizer. */
  raw: string;
  /** The value stored. */
  value: string;
}

/**
 * Append a (re)normalisation event unless the fact already has one. The look-up answers the usual
 * repeat (a job run twice); a unique index on the verb and the fact id (migration 008) settles a
 * race between processes. Returns whether it was appended.
 */
export async function appendOnce(db: Queryable, event: NewEvent): Promise<boolean> {
  const factId = String(event.payload?.factId ?? '');
  const existing = await db.query(
    `SELECT 1 FROM events WHERE verb = $1 AND payload->>'factId' = $2 LIMIT 1`,
    [event.verb, factId],
  );
  if (existing.rows.length > 0) return false;
  try {
    await new EventRepository(db).append(event);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === '23505') return false;
    throw error;
  }
}

/** Replace a fact's value at the end of its sentence; the canonical sentence when it is not there. */
export function withValue(
  content: string,
  fact: { subject: string; attribute: string },
  from: string,
  to: string,
): string {
  const tidy = content
    .trim()
    .replace(/\s+/g, ' ')
    .replace(/[.!]+$/, '');
  if (from.length > 0 && tidy.endsWith(from)) return `${tidy.slice(0, tidy.length - from.length)}${to}`;
  return `${fact.subject}'s ${fact.attribute} is ${to}`;
}

/** The sentence of a structured fact, for connectors that know subject, attribute and value. */
export function factSentence(subject: string, attribute: string, value: string): string {
  return `${subject}'s ${attribute} is ${value}`;
}

/**
 * The memory store as the inbound paths see it (chat's `remember`, connectors that write facts):
 * a fact whose attribute has a normalizer is stored with its value normalised, and one event per
 * normalisation records the raw input, the normalizer's name and version, and the fact written —
 * so `spine renormalize` can replay history through a fixed version. Everything else passes through.
 */
export class NormalizingMemoryStore implements MemoryStore {
  readonly #store: MemoryStore;
  readonly #registry: NormalizerRegistry;
  readonly #db: Queryable;
  readonly #logger: Logger;

  constructor(deps: { store: MemoryStore; registry: NormalizerRegistry; db: Queryable; logger: Logger }) {
    this.#store = deps.store;
    this.#registry = deps.registry;
    this.#db = deps.db;
    this.#logger = deps.logger;
  }

  recall(query: string, options: RecallOptions): Promise<MemoryPointer[]> {
    return this.#store.recall(query, options);
  }

  async remember(memory: NewMemory): Promise<MemoryPointer> {
    const fact = memory.kind === 'fact' ? parseFact(memory.content) : null;
    const normalizer = fact ? this.#registry.forAttribute(fact.attribute) : undefined;
    if (!fact || !normalizer) return this.#store.remember(memory);
    const value = this.#run(normalizer, fact.value);
    const normalized: NormalizedValue = {
      normalizer: normalizer.name,
      version: normalizer.version,
      raw: fact.value,
      value,
    };
    const pointer = await this.#store.remember({
      ...memory,
      subject: fact.subject,
      attribute: fact.attribute,
      content: withValue(memory.content, fact, fact.value, value),
      metadata: { ...(memory.metadata ?? {}), normalized },
    });
    // A deduplicated write (the same action run again) returns the first fact: its event exists.
    await appendOnce(this.#db, {
      operatorId: memory.operatorId,
      actor: 'spine',
      verb: 'normalised',
      object: `${fact.subject}'s ${fact.attribute} “${fact.value}” as “${value}” (${normalizer.name} v${normalizer.version})`,
      ref: `memory #${pointer.id}`,
      goalId: memory.goalId ?? null,
      payload: {
        ...normalized,
        factId: pointer.id,
        subject: fact.subject,
        attribute: fact.attribute,
        source: memory.provenance.source,
      },
    });
    return pointer;
  }

  /** The normalizer's output; the raw value when it does not understand it or throws. */
  #run(normalizer: Normalizer, raw: string): string {
    try {
      return normalizer.normalize(raw) ?? raw;
    } catch (error) {
      this.#logger.warn(
        { err: describeError(error), normalizer: normalizer.name, version: normalizer.version },
        'a normalizer failed; the value is kept as it came',
      );
      return raw;
    }
  }
}
