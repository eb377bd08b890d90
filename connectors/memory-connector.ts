import { z } from 'zod';
import type { MemoryStore } from '../memory/memory-store.ts';
import { type Connector, defineOperation } from './connector.ts';

const rememberParams = z.object({
  operatorId: z.number().int().positive(),
  goalId: z.number().int().positive(),
  text: z.string().trim().min(1, 'there is nothing to remember').max(20_000),
  source: z.enum(['console', 'slack', 'telegram', 'web', 'system']),
  sourceRef: z.string().optional(),
  assertedBy: z.string().min(1),
});

/**
 * Spine's own memory as a connector, so that writing a fact is an action like any other:
 * stored once per idempotency key, logged, and visible in the goal's story. It never leaves
 * Spine, so the policy runs it without approval.
 */
export function createMemoryConnector(memory: MemoryStore): Connector {
  const remember = defineOperation({
    name: 'remember',
    description: 'Store a fact the operator told Spine.',
    risk: 'write',
    reversible: false,
    external: false,
    // The memory dedupes on the action's key.
    retry: 'by_key',
    schema: rememberParams,
    simulate: (params) => ({
      title: 'Remember a fact',
      doing: `remembering “${params.text}”`,
      done: `remembered “${params.text}”`,
      fields: [{ label: 'Fact', value: params.text }],
    }),
    async execute(params, context) {
      const pointer = await memory.remember({
        operatorId: params.operatorId,
        kind: 'fact',
        content: params.text,
        goalId: params.goalId,
        dedupeKey: context.idempotencyKey,
        provenance: { source: params.source, sourceRef: params.sourceRef, assertedBy: params.assertedBy },
      });
      return { memoryId: pointer.id };
    },
  });
  return { name: 'memory', description: "Spine's memory", operations: { remember } };
}
