/**
 * A versioned normalizer: turns a raw value from chat or a connector into its canonical form
 * before it becomes a memory fact. A fixed bug is a new version; `spine renormalize` replays the
 * recorded raw inputs through the current version and supersedes the facts that change.
 */
export interface Normalizer {
  /** Stable name, used in events and on the command line (`email`, `money`). */
  name: string;
  /** Raised for every change of behaviour; recorded with every normalisation. */
  version: number;
  /** The fact attributes this normalizer is for (`email`, `e-mail address` …). */
  attributes: RegExp;
  /** The canonical form of `raw`, or null when it is not a value this normalizer understands. */
  normalize(raw: string): string | null;
}

/** Define a normalizer (a typed identity, for readable definitions). */
export function defineNormalizer(normalizer: Normalizer): Normalizer {
  return normalizer;
}
