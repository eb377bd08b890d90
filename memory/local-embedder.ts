import type { Embedder } from './embedder.ts';
import { contentTerms, normalise } from './text-normaliser.ts';

/**
 * Separates a memory's own text from the context stored with it (neighbouring turns, a document
 * title). The local embedder gives context terms a lower weight; other embedders read it as text.
 */
export const CONTEXT_SEPARATOR = '\n\u241e\n';

export interface LocalEmbedderOptions {
  dimension?: number;
  /** Weight of context terms relative to the memory's own terms. */
  contextWeight?: number;
  /** Weight of word bigrams; character n-grams; unigrams are 1. */
  bigramWeight?: number;
  charGramWeight?: number;
}

/** 32-bit FNV-1a: fast, deterministic across platforms and runs. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The default embedder: no network, no model files. Each text becomes a bag of features — stemmed
 * content words, word bigrams and character 3/4-grams of each word (which let "photograph" meet
 * "photography" and survive typos) — weighted by sublinear term frequency, hashed with a sign bit
 * into `dimension` buckets and L2-normalised, so cosine similarity is a weighted feature overlap.
 */
export class LocalEmbedder implements Embedder {
  readonly id: string;
  readonly dimension: number;
  readonly #contextWeight: number;
  readonly #bigramWeight: number;
  readonly #charGramWeight: number;

  constructor(options: LocalEmbedderOptions = {}) {
    this.dimension = options.dimension ?? 512;
    this.#contextWeight = options.contextWeight ?? 0.5;
    this.#bigramWeight = options.bigramWeight ?? 0.5;
    this.#charGramWeight = options.charGramWeight ?? 0.5;
    this.id = `local-hash-v1-${this.dimension}`;
  }

  async embedDocuments(texts: string[]): Promise<number[][]> {
    return texts.map((text) => this.embedSync(text));
  }

  async embedQuery(text: string): Promise<number[]> {
    return this.embedSync(text);
  }

  /**
   * A query embedding with per-term weights (the store passes inverse document frequencies keyed
   * by stemmed term), so rare words count more than words every memory shares.
   */
  embedQueryWeighted(text: string, termWeights: ReadonlyMap<string, number>): number[] {
    return this.embedSync(text, termWeights);
  }

  /** The embedding of one text, synchronously (the benchmark and tests use it directly). */
  embedSync(text: string, termWeights?: ReadonlyMap<string, number>): number[] {
    const features = new Map<string, number>();
    const [own = '', ...rest] = text.split(CONTEXT_SEPARATOR);
    this.#addFeatures(features, own, 1, termWeights);
    if (rest.length > 0) this.#addFeatures(features, rest.join(' '), this.#contextWeight, termWeights);
    const vector = new Float64Array(this.dimension);
    for (const [feature, count] of features) {
      const hash = fnv1a(feature);
      const sign = hash & 0x80000000 ? -1 : 1;
      vector[hash % this.dimension]! += sign * Math.log1p(count);
    }
    let norm = 0;
    for (const value of vector) norm += value * value;
    norm = Math.sqrt(norm);
    return Array.from(vector, (value) => (norm > 0 ? value / norm : 0));
  }

  #addFeatures(
    features: Map<string, number>,
    text: string,
    baseWeight: number,
    termWeights?: ReadonlyMap<string, number>,
  ): void {
    const add = (feature: string, amount: number) =>
      features.set(feature, (features.get(feature) ?? 0) + amount);
    const terms = contentTerms(text);
    for (let index = 0; index < terms.length; index += 1) {
      const term = terms[index]!;
      const weight = baseWeight * (termWeights?.get(term) ?? 1);
      add(`w:${term}`, weight);
      const next = terms[index + 1];
      if (next) add(`b:${term} ${next}`, weight * this.#bigramWeight);
      const padded = `<${term}>`;
      const grams: string[] = [];
      for (const size of [3, 4]) {
        for (let start = 0; start + size <= padded.length; start += 1)
          grams.push(padded.slice(start, start + size));
      }
      // Spread the word's n-gram weight over its n-grams so long words do not dominate.
      const share = (weight * this.#charGramWeight) / Math.max(1, grams.length / 2);
      for (const gram of grams) add(`c:${gram}`, share);
    }
    // Numbers and years matter for dates ("2023", "7"): keep them as they are.
    for (const number of normalise(text).match(/\b\d{4}\b/g) ?? []) add(`n:${number}`, baseWeight);
  }
}
