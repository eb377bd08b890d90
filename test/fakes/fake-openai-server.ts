import { ScriptedModelServer } from './scripted-model-server.ts';

/** A fake OpenAI-compatible `/v1/chat/completions` endpoint (non-streaming) on loopback. */
export function fakeOpenAiServer(): ScriptedModelServer {
  return new ScriptedModelServer('/chat/completions', (reply, request, sequence) => {
    const toolCalls = (reply.toolCalls ?? []).map((call, index) => ({
      id: `call_${sequence}_${index}`,
      type: 'function',
      function: { name: call.name, arguments: JSON.stringify(call.args) },
    }));
    return {
      id: `chatcmpl-${sequence}`,
      object: 'chat.completion',
      created: 1_764_000_000,
      model: String(request.body.model ?? 'fake'),
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: reply.text ?? null,
            ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          },
          finish_reason: toolCalls.length > 0 ? 'tool_calls' : 'stop',
        },
      ],
      usage: {
        prompt_tokens: reply.usage?.input ?? 0,
        completion_tokens: reply.usage?.output ?? 0,
        total_tokens: (reply.usage?.input ?? 0) + (reply.usage?.output ?? 0),
      },
    };
  });
}
