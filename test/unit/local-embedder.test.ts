import { describe, expect, it } from 'vitest';
import { CONTEXT_SEPARATOR, LocalEmbedder } from '../../memory/local-embedder.ts';
import { contentTerms, stem } from '../../memory/text-normaliser.ts';

function cosine(a: number[], b: number[]): number {
  return a.reduce((sum, value, index) => sum + value * (b[index] ?? 0), 0);
}

describe('local embedder', () => {
  it('is deterministic across instances and calls, with the configured dimension and unit length', async () => {
    const first = new LocalEmbedder({ dimension: 256 });
    const second = new LocalEmbedder({ dimension: 256 });
    const text = 'Caroline went to the LGBTQ support group on 7 May 2023';
    const [a] = await first.embedDocuments([text]);
    const b = await second.embedQuery(text);
    expect(a).toEqual(b);
    expect(a).toHaveLength(256);
    expect(Math.sqrt(cosine(a!, a!))).toBeCloseTo(1, 6);
    expect(first.id).toBe('local-hash-v1-256');
    // A pinned value: changing the feature design must change the embedder id too.
    const pinned = a!
      .map((value, index) => [index, Number(value.toFixed(6))] as const)
      .filter(([, value]) => value !== 0)
      .slice(0, 3);
    expect(pinned).toEqual([
      [2, -0.044564],
      [4, 0.056479],
      [11, 0.031345],
    ]);
  });

  it('puts related wordings closer than unrelated ones (stems and character n-grams)', () => {
    const embedder = new LocalEmbedder();
    const query = embedder.embedSync('photography classes');
    const related = embedder.embedSync('She took a photographer class last spring');
    const unrelated = embedder.embedSync('The invoice for the boiler repair is overdue');
    expect(cosine(query, related)).toBeGreaterThan(cosine(query, unrelated) + 0.1);
  });

  it('weights context lower than the memory’s own text, and weighted query terms higher', () => {
    const embedder = new LocalEmbedder();
    const own = embedder.embedSync(`tennis match${CONTEXT_SEPARATOR}garden party`);
    expect(cosine(own, embedder.embedSync('tennis match'))).toBeGreaterThan(
      cosine(own, embedder.embedSync('garden party')),
    );
    const plain = embedder.embedQueryWeighted('tennis garden', new Map());
    const weighted = embedder.embedQueryWeighted('tennis garden', new Map([['garden', 5]]));
    const garden = embedder.embedSync('garden');
    expect(cosine(weighted, garden)).toBeGreaterThan(cosine(plain, garden));
  });

  it('normalises and stems lightly', () => {
    expect(['painting', 'paints', 'painted'].map(stem)).toEqual(['paint', 'paint', 'paint']);
    expect(stem('running')).toBe('run');
    expect(stem('class')).toBe('class');
    expect(contentTerms("Café's the best, isn't it?")).toEqual(['cafe', 'best', 'isn']);
  });
});
