import { ScriptedModelServer } from './scripted-model-server.ts';

/** A fake Anthropic `/v1/messages` endpoint (non-streaming) on loopback. */
export function fakeAnthropicServer(): ScriptedModelServer {
  return new ScriptedModelServer('/messages', (reply, request, sequence) => {
    const content: unknown[] = [];
    if (reply.text) content.push({ type: 'text', text: reply.text });
    for (const [index, call] of (reply.toolCalls ?? []).entries()) {
      content.push({ type: 'tool_use', id: `toolu_${sequence}_${index}`, name: call.name, input: call.args });
    }
    return {
      id: `msg_${sequence}`,
      type: 'message',
      role: 'assistant',
      model: String(request.body.model ?? 'fake'),
      content,
      stop_reason: (reply.toolCalls ?? []).length > 0 ? 'tool_use' : 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: reply.usage?.input ?? 0, output_tokens: reply.usage?.output ?? 0 },
    };
  });
}
