import { describe, expect, it } from 'vitest';
import { LocalEmbedder } from '../../memory/local-embedder.ts';
import {
  embeddingSketch,
  hammingCut,
  hammingDistance,
  normalQuantile,
  SKETCH_BITS,
  sketchable,
  sketchWords,
} from '../../memory/vector-sketch.ts';

/** The sketch's bits, bit 0 first, from its `x…` text. */
function bits(sketch: string): number[] {
  return [...sketch.slice(1)].flatMap((digit) =>
    Number.parseInt(digit, 16).toString(2).padStart(4, '0').split('').map(Number),
  );
}

function hamming(a: string, b: string): number {
  const left = bits(a);
  const right = bits(b);
  return left.reduce((sum, bit, index) => sum + (bit === right[index] ? 0 : 1), 0);
}

/** A seeded generator, so the vectors are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648 - 0.5;
  };
}

describe('embedding sketches', () => {
  it('are 1,024 bits, as text Postgres reads into bit(1024), the same on every call', () => {
    const vector = Array.from({ length: 512 }, (_, index) => Math.sin(index));
    const sketch = embeddingSketch(vector)!;
    expect(sketch).toMatch(/^x[0-9a-f]{256}$/);
    expect(bits(sketch)).toHaveLength(SKETCH_BITS);
    expect(embeddingSketch([...vector])).toBe(sketch);
    // The scale of a vector does not change its direction, nor its sketch.
    expect(embeddingSketch(vector.map((value) => value * 3))).toBe(sketch);
  });

  it('differ in about θ/π of their bits for vectors at angle θ, dense or sparse', () => {
    const next = seeded(7);
    // Sparse vectors (a short query's hashed words) are what the signs of the coordinates themselves
    // cannot compare: the rotations spread every coordinate over every bit.
    const sparse = (dimension: number, from: number) =>
      Array.from({ length: dimension }, (_, index) => (index >= from && index < from + 4 ? next() : 0));
    for (const [dimension, dense] of [
      [384, true],
      [512, true],
      [768, true],
      [512, false],
      [100, false],
    ] as const) {
      const base = dense ? Array.from({ length: dimension }, next) : sparse(dimension, 10);
      const noise = dense ? Array.from({ length: dimension }, next) : sparse(dimension, 40);
      const norm = (vector: number[]) => Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
      const unitBase = base.map((value) => value / norm(base));
      // Noise orthogonal to the base, so that the angle is exactly what is asked for.
      const along = noise.reduce((sum, value, index) => sum + value * unitBase[index]!, 0);
      const orthogonal = noise.map((value, index) => value - along * unitBase[index]!);
      const unitOrthogonal = orthogonal.map((value) => value / norm(orthogonal));
      for (const angle of [0.2, 0.6, 1.2, Math.PI / 2]) {
        const turned = unitBase.map(
          (value, index) => Math.cos(angle) * value + Math.sin(angle) * unitOrthogonal[index]!,
        );
        const share = hamming(embeddingSketch(unitBase)!, embeddingSketch(turned)!) / SKETCH_BITS;
        expect(
          Math.abs(share - angle / Math.PI),
          `${dimension} dimensions, ${dense ? 'dense' : 'sparse'}, angle ${angle}`,
        ).toBeLessThan(0.06);
      }
    }
  });

  it('rank texts by their likeness as their cosine does', () => {
    const embedder = new LocalEmbedder({ dimension: 512 });
    const query = embeddingSketch(embedder.embedSync('espresso machine service'))!;
    const near = embeddingSketch(embedder.embedSync('the espresso machine needs a service'))!;
    const far = embeddingSketch(embedder.embedSync('garden fence quote from the builder'))!;
    expect(hamming(query, near)).toBeLessThan(hamming(query, far) - 100);
  });

  it('exist for every dimension up to 1,024, padded to a power of two, and not above', () => {
    for (const dimension of [1, 3, 100, 256, 1000, 1024]) {
      expect(sketchable(dimension)).toBe(true);
      const sketch = embeddingSketch(Array.from({ length: dimension }, (_, index) => (index % 3) - 1 || 0.5));
      expect(sketch, `${dimension} dimensions`).toMatch(/^x[0-9a-f]{256}$/);
    }
    expect(sketchable(1025)).toBe(false);
    expect(sketchable(1536)).toBe(false);
    expect(sketchable(0)).toBe(false);
    expect(embeddingSketch(new Array(1536).fill(0.1))).toBeNull();
    // A zero vector (a question of stop words only) has a sketch: every bit 0.
    expect(embeddingSketch(new Array(512).fill(0))).toBe(`x${'0'.repeat(256)}`);
  });

  it('read coordinates as the 32-bit floats Postgres stores', () => {
    const vector = Array.from({ length: 512 }, (_, index) => Math.cos(index * 1.7) / 7);
    expect(embeddingSketch(vector)).toBe(embeddingSketch(Float32Array.from(vector)));
  });

  it('read back from either text form into words whose distance is the bits that differ', () => {
    const embedder = new LocalEmbedder({ dimension: 512 });
    const texts = ['espresso machine service', 'the espresso machine needs a service', 'garden fence quote'];
    const sketches = texts.map((text) => embeddingSketch(embedder.embedSync(text))!);
    for (const sketch of sketches) {
      // Postgres prints bit(1024) as zeros and ones, bit 0 first.
      const printed = bits(sketch).join('');
      expect(sketchWords(printed)).toEqual(sketchWords(sketch));
    }
    for (const a of sketches)
      for (const b of sketches) expect(hammingDistance(sketchWords(a), sketchWords(b))).toBe(hamming(a, b));
    const ones = sketchWords(`x${'f'.repeat(256)}`);
    expect(hammingDistance(ones, sketchWords(`x${'0'.repeat(256)}`))).toBe(SKETCH_BITS);
    expect(() => sketchWords('x12')).toThrow(/not a sketch/);
    expect(() => sketchWords('2'.repeat(SKETCH_BITS))).toThrow(/not a sketch/);
  });

  it('estimate the distance a share of the memories are within from a sample', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326348, 5);
    expect(normalQuantile(1e-6)).toBeCloseTo(-4.753424, 4);
    expect(() => normalQuantile(0)).toThrow(RangeError);
    // Distances of a query to 4,000 sketches that share nothing with it: sums of 1,024 fair bits.
    const next = seeded(5);
    const population = Array.from({ length: 4000 }, () => {
      let distance = 0;
      for (let bit = 0; bit < SKETCH_BITS; bit += 1) distance += next() < 0 ? 1 : 0;
      return distance;
    });
    const within = (cut: number) =>
      population.filter((distance) => distance <= cut).length / population.length;
    // Estimated from a sample of 512 of them, checked against all 4,000.
    const sample = population.slice(0, 512);
    for (const share of [0.02, 0.1, 0.3]) {
      const cut = hammingCut(sample, share);
      expect(within(cut), `share ${share}`).toBeGreaterThan(share * 0.5);
      expect(within(cut), `share ${share}`).toBeLessThan(share * 2);
    }
    // Everything, when the share is all or there is no sample to go by.
    expect(hammingCut(sample, 1)).toBe(SKETCH_BITS);
    expect(hammingCut([], 0.1)).toBe(SKETCH_BITS);
  });
});
