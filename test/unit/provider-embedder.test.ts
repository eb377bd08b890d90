import { describe, expect, it } from 'vitest';
import { LangChainEmbedder } from '../../memory/langchain-embedder.ts';

describe('provider embedder configuration', () => {
  it('refuses a model name too long to store with every memory, before any network call', async () => {
    await expect(
      LangChainEmbedder.create({
        provider: 'openai',
        model: 'm'.repeat(201),
        apiKey: 'sk-test',
        baseUrl: 'http://127.0.0.1:9',
      }),
    ).rejects.toThrow(/SPINE_EMBEDDINGS_MODEL is 201 characters long; at most 200/);
  });

  it('refuses OpenAI without an API key and says what to set', async () => {
    await expect(LangChainEmbedder.create({ provider: 'openai' })).rejects.toThrow(
      /set SPINE_EMBEDDINGS_API_KEY, or use SPINE_EMBEDDINGS=local/,
    );
  });
});
