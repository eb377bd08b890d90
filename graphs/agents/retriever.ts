import type { MemoryPointer, MemoryStore } from '../../memory/memory-store.ts';
import { retrievalQuery } from '../models/offline-planner.ts';

const RETRIEVAL_LIMIT = 5;

/**
 * Finds the memories that bear on a message; returns pointers, not documents. With the goal and its
 * chat thread, the episodes of earlier goals in the same thread come after the hybrid layer.
 */
export async function retrieveMemories(
  memory: MemoryStore,
  operatorId: number,
  text: string,
  context: { goalId?: number; threadRef?: string } = {},
): Promise<MemoryPointer[]> {
  const query = retrievalQuery(text);
  return memory.recall(query, { operatorId, limit: RETRIEVAL_LIMIT, ...context });
}
