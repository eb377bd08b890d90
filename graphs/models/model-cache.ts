import { createHash } from 'node:crypto';
import { AIMessage, type BaseMessage } from '@langchain/core/messages';
import type { LlmCacheRepository } from '../../db/repositories/llm-cache.ts';
import type { ToolDefinition } from './planner-tools.ts';

/** A stable JSON text: object keys sorted, so equal requests hash equally. */
function canonicalJson(value: unknown): string {
  const canonical = (inner: unknown): unknown => {
    if (Array.isArray(inner)) return inner.map(canonical);
    if (inner && typeof inner === 'object') {
      return Object.fromEntries(
        Object.entries(inner as Record<string, unknown>)
          .filter(([, v]) => v !== undefined)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([key, v]) => [key, canonical(v)]),
      );
    }
    return inner;
  };
  return JSON.stringify(canonical(value));
}

/** What identifies a message for caching: its type, content, tool calls and tool-call id. */
function messageFingerprint(message: BaseMessage): unknown {
  const ai = AIMessage.isInstance(message) ? message : null;
  return {
    type: message.getType(),
    content: message.content,
    toolCalls: ai?.tool_calls?.map((call) => ({ id: call.id, name: call.name, args: call.args })),
    toolCallId: 'tool_call_id' in message ? (message as { tool_call_id?: string }).tool_call_id : undefined,
  };
}

/** The cache key of a deterministic call: model id, temperature 0, messages and tools. */
export function cacheKey(modelId: string, messages: BaseMessage[], tools: ToolDefinition[]): string {
  return createHash('sha256')
    .update(
      canonicalJson({
        v: 1,
        model: modelId,
        temperature: 0,
        messages: messages.map(messageFingerprint),
        tools,
      }),
    )
    .digest('hex');
}

/** An AI message as JSON for the cache. */
export function serialiseAnswer(message: AIMessage): Record<string, unknown> {
  return {
    content: message.content,
    toolCalls: (message.tool_calls ?? []).map((call) => ({ id: call.id, name: call.name, args: call.args })),
    usage: message.usage_metadata ?? null,
  };
}

/** The AI message back from the cache. */
export function deserialiseAnswer(stored: Record<string, unknown>): AIMessage {
  const toolCalls =
    (stored.toolCalls as Array<{ id?: string; name: string; args: Record<string, unknown> }>) ?? [];
  return new AIMessage({
    content: (stored.content as AIMessage['content']) ?? '',
    tool_calls: toolCalls.map((call) => ({ ...call, type: 'tool_call' as const })),
  });
}

/** The answer cache over Postgres. */
export class ModelCache {
  constructor(
    private readonly repo: LlmCacheRepository,
    private readonly ttlSeconds: number,
  ) {}

  /** False when the TTL is 0 (SPINE_LLM_CACHE_TTL_SECONDS=0). */
  get enabled(): boolean {
    return this.ttlSeconds > 0;
  }

  /** The live answer for a key (counting the hit), or null. */
  async get(key: string, now: Date): Promise<AIMessage | null> {
    if (!this.enabled) return null;
    const hit = await this.repo.hit(key, now);
    return hit ? deserialiseAnswer(hit.response) : null;
  }

  /** Store an answer for the TTL; an expired entry under the same key is replaced. */
  async put(key: string, model: string, message: AIMessage, now: Date): Promise<void> {
    if (!this.enabled) return;
    await this.repo.put({ key, model, response: serialiseAnswer(message), now, ttlSeconds: this.ttlSeconds });
  }
}
