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

/**
 * A sketch as 32 words of 32 bits, bit 0 first, from either text form: the hex that
 * `embeddingSketch` writes (`x` and 256 digits) or the 1,024 zeros and ones Postgres reads out of
 * `bit(1024)`.
 */
export function sketchWords(text: string): Uint32Array {
  const words = new Uint32Array(SKETCH_BITS / 32);
  if (text.length === SKETCH_BITS / 4 + 1 && text.startsWith('x')) {
    for (let nibble = 0; nibble < SKETCH_BITS / 4; nibble += 1) {
      const value = Number.parseInt(text[nibble + 1]!, 16);
      if (Number.isNaN(value)) throw new Error(`not a sketch: ${text.slice(0, 16)}…`);
      words[nibble >> 3]! |= value << (28 - 4 * (nibble & 7));
    }
    return words;
  }
  if (text.length !== SKETCH_BITS || /[^01]/.test(text))
    throw new Error(`not a sketch: ${text.slice(0, 16)}…`);
  for (let bit = 0; bit < SKETCH_BITS; bit += 1)
    if (text.charCodeAt(bit) === 49) words[bit >> 5]! |= 1 << (31 - (bit & 31));
  return words;
}

/** How many bits two sketches differ in (what Postgres's `<~>` gives for `bit(1024)`). */
export function hammingDistance(a: Uint32Array, b: Uint32Array): number {
  let distance = 0;
  for (let index = 0; index < a.length; index += 1) {
    let x = (a[index]! ^ b[index]!) >>> 0;
    x -= (x >>> 1) & 0x55555555;
    x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
    x = (x + (x >>> 4)) & 0x0f0f0f0f;
    distance += Math.imul(x, 0x01010101) >>> 24;
  }
  return distance;
}

/**
 * A Hamming distance that about `share` of the memories are within, estimated from the query's
 * distances to a sample of them: the quantile of a normal distribution with the sample's mean and
 * deviation. The distances of the memories that are not the query's neighbours are sums of many
 * nearly independent bits, so the fit holds in the lower tail; the true neighbours only add to it.
 * It is an estimate — the search that uses it checks that enough memories were within it.
 */
export function hammingCut(distances: ArrayLike<number>, share: number): number {
  if (distances.length < 2 || !(share < 1)) return SKETCH_BITS;
  let sum = 0;
  for (let index = 0; index < distances.length; index += 1) sum += distances[index]!;
  const mean = sum / distances.length;
  let squares = 0;
  for (let index = 0; index < distances.length; index += 1) squares += (distances[index]! - mean) ** 2;
  const deviation = Math.sqrt(squares / (distances.length - 1));
  const cut = Math.ceil(mean + deviation * normalQuantile(Math.max(share, 1e-9)));
  return Math.max(0, Math.min(SKETCH_BITS, cut));
}

/** The standard normal distribution's quantile (Acklam's rational approximation, error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`a probability strictly between 0 and 1, not ${p}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}
