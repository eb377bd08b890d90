import type { MemoryStore, NewMemory } from '../../memory/memory-store.ts';

/** A memory store that keeps every write in `written` (ids count from 1) and recalls nothing. */
export function recordingMemory(): { memory: MemoryStore; written: NewMemory[] } {
  const written: NewMemory[] = [];
  const memory: MemoryStore = {
    async remember(entry) {
      written.push(entry);
      return {
        id: written.length,
        kind: entry.kind,
        snippet: entry.content,
        source: entry.provenance.source,
        sourceRef: entry.provenance.sourceRef ?? null,
        assertedBy: entry.provenance.assertedBy,
        occurredAt: new Date().toISOString(),
        score: 1,
      };
    },
    recall: async () => [],
  };
  return { memory, written };
}
