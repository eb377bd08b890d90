import { OpenAIEmbeddings } from '@langchain/openai';
import { SpineError } from '../core/errors.ts';
import type { Embedder } from './embedder.ts';

export interface ProviderEmbedderOptions {
  provider: 'openai' | 'ollama';
  model?: string | undefined;
  baseUrl?: string | undefined;
  apiKey?: string | undefined;
}

const DEFAULTS = {
  openai: { model: 'text-embedding-3-small', baseUrl: undefined },
  // Ollama serves an OpenAI-compatible API under /v1, so one client covers both.
  ollama: { model: 'nomic-embed-text', baseUrl: 'http://127.0.0.1:11434/v1' },
} as const;

/** The longest model name accepted (see `create`). */
const MAX_MODEL_NAME = 200;

/**
 * Embeddings from a LangChain provider (OpenAI or anything OpenAI-compatible: Ollama, vLLM, LM
 * Studio). The dimension is learned from one probe call in `create`, then recorded by the store.
 */
export class LangChainEmbedder implements Embedder {
  readonly id: string;
  readonly dimension: number;
  readonly #client: OpenAIEmbeddings;

  private constructor(id: string, dimension: number, client: OpenAIEmbeddings) {
    this.id = id;
    this.dimension = dimension;
    this.#client = client;
  }

  static async create(options: ProviderEmbedderOptions): Promise<LangChainEmbedder> {
    const defaults = DEFAULTS[options.provider];
    const model = options.model ?? defaults.model;
    const baseURL = options.baseUrl ?? defaults.baseUrl;
    const apiKey = options.apiKey ?? (options.provider === 'ollama' ? 'ollama' : undefined);
    // The embedder id (`provider:model`) is stored with every memory, and the filter index copies only
    // memories whose embedder id fits in 255 bytes (its entries must fit in 2,704 bytes with a 2 kB
    // embedding): with a longer name, a filtered search would read a table page per memory instead.
    if (model.length > MAX_MODEL_NAME) {
      throw new SpineError(
        'memory.embeddings_model_name',
        `SPINE_EMBEDDINGS_MODEL is ${model.length} characters long; at most ${MAX_MODEL_NAME} are allowed. Use the model's short name.`,
        { category: 'user' },
      );
    }
    if (!apiKey) {
      throw new SpineError(
        'memory.embeddings_key_missing',
        'SPINE_EMBEDDINGS=openai needs an API key: set SPINE_EMBEDDINGS_API_KEY, or use SPINE_EMBEDDINGS=local.',
        { category: 'user' },
      );
    }
    const client = new OpenAIEmbeddings({
      model,
      apiKey,
      // Bounded: a provider that is down must not hold up start-up or a recall for minutes
      // (LangChain's default of six retries with backoff took 90 s).
      maxRetries: 2,
      timeout: 30_000,
      ...(baseURL ? { configuration: { baseURL } } : {}),
    });
    let probe: number[];
    try {
      probe = await client.embedQuery('dimension probe');
    } catch (error) {
      throw new SpineError(
        'memory.embeddings_unreachable',
        `Could not get an embedding from ${options.provider} (${baseURL ?? 'api.openai.com'}, model ${model}): ` +
          `${(error as Error).message}. Check SPINE_EMBEDDINGS_BASE_URL and the model, or use SPINE_EMBEDDINGS=local.`,
        { category: 'third_party', retryable: true, cause: error },
      );
    }
    return new LangChainEmbedder(`${options.provider}:${model}`, probe.length, client);
  }

  embedDocuments(texts: string[]): Promise<number[][]> {
    return this.#client.embedDocuments(texts);
  }

  embedQuery(text: string): Promise<number[]> {
    return this.#client.embedQuery(text);
  }
}
