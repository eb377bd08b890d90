/**
 * A 1,024-bit sketch of an embedding, for ranking many memories fast: the signs of randomized
 * Hadamard rotations of the vector (SimHash). Two vectors' sketches differ in about θ/π of their
 * bits, θ the angle between them, so the Hamming distance of two sketches ranks memories nearly as
 * their cosine distance does, at 128 bytes a memory instead of 1 kB (16-bit) or 2 kB (32-bit) for a
 * 512-dimension embedding. The store ranks a filtered set by Hamming distance and computes the exact
 * distance of the best few hundred only.
 *
 * The rotations are fixed (a seeded generator, one set per padded length), so every process computes
 * the same sketch for the same vector: stored sketches stay valid across restarts and machines.
 * Changing anything here changes every sketch — a migration must then clear the stored ones.
 */

import { seededRandom } from '../core/seeded-random.ts';

export const SKETCH_BITS = 1024;

interface Rotation {
  /** Which coordinate of the (zero-padded) vector goes to each position before the transform. */
  readonly from: Int32Array;
  /** A random sign per position. */
  readonly signs: Float64Array;
}

const rotationsByLength = new Map<number, Rotation[]>();

/** The rotations for vectors padded to `length` (a power of two): SKETCH_BITS / length of them. */
function rotationsFor(length: number): Rotation[] {
  const known = rotationsByLength.get(length);
  if (known) return known;
  const next = seededRandom(0x5ce7c4 + length);
  const rotations = Array.from({ length: SKETCH_BITS / length }, () => {
    const from = Int32Array.from({ length }, (_, index) => index);
    for (let index = length - 1; index > 0; index -= 1) {
      const other = Math.floor(next() * (index + 1));
      [from[index], from[other]] = [from[other]!, from[index]!];
    }
    const signs = Float64Array.from({ length }, () => (next() < 0.5 ? -1 : 1));
    return { from, signs };
  });
  rotationsByLength.set(length, rotations);
  return rotations;
}

/** The smallest power of two at least `dimension`. */
function paddedLength(dimension: number): number {
  let length = 1;
  while (length < dimension) length *= 2;
  return length;
}

/** Whether embeddings of this dimension have a sketch (the rotations must fit in SKETCH_BITS). */
export function sketchable(dimension: number): boolean {
  return Number.isInteger(dimension) && dimension >= 1 && paddedLength(dimension) <= SKETCH_BITS;
}

/**
 * The sketch of `embedding` as the text Postgres reads into `bit(1024)` (an `x` and 256 hex digits,
 * bit 0 first), or null when its dimension has no sketch (over 1,024). Coordinates are read as the
 * 32-bit floats Postgres stores, so the sketch of a stored embedding read back is the one written.
 */
export function embeddingSketch(embedding: ArrayLike<number>): string | null {
  const dimension = embedding.length;
  if (!sketchable(dimension)) return null;
  const length = paddedLength(dimension);
  const nibbles = new Uint8Array(SKETCH_BITS / 4);
  const buffer = new Float64Array(length);
  rotationsFor(length).forEach((rotation, index) => {
    for (let position = 0; position < length; position += 1) {
      const from = rotation.from[position]!;
      buffer[position] = from < dimension ? Math.fround(embedding[from]!) * rotation.signs[position]! : 0;
    }
    // The fast Walsh–Hadamard transform, in place: an orthogonal rotation (up to scale).
    for (let half = 1; half < length; half *= 2)
      for (let start = 0; start < length; start += half * 2)
        for (let at = start; at < start + half; at += 1) {
          const a = buffer[at]!;
          const b = buffer[at + half]!;
          buffer[at] = a + b;
          buffer[at + half] = a - b;
        }
    for (let position = 0; position < length; position += 1) {
      if (!(buffer[position]! > 0)) continue;
      const bit = index * length + position;
      nibbles[bit >> 2]! |= 8 >> (bit & 3);
    }
  });
  let hex = 'x';
  for (const nibble of nibbles) hex += nibble.toString(16);
  return hex;
}
