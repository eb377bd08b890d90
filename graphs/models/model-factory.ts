import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { SpineError } from '../../core/errors.ts';
import type { ModelRole, ModelSpec, ModelsConfig } from './model-settings.ts';

/** A chat model ready for one role, with the spec it was built from. */
export interface RoleModel {
  spec: ModelSpec;
  model: BaseChatModel;
  /** True when the model runs on a local or private server (no list price applies). */
  selfHosted: boolean;
}

export type RoleModels = Record<ModelRole, RoleModel>;

const PRIVATE_HOST =
  /^(localhost|127\.\d+\.\d+\.\d+|\[?::1\]?|10\.\d+\.\d+\.\d+|192\.168\.\d+\.\d+|172\.(1[6-9]|2\d|3[01])\.\d+\.\d+|[^.]+\.local|[^.]+)$/;

/** True for loopback, private-network and single-label hosts (Ollama, vLLM, LM Studio on your machine). */
export function isPrivateEndpoint(baseUrl: string | undefined): boolean {
  if (!baseUrl) return false;
  try {
    return PRIVATE_HOST.test(new URL(baseUrl).hostname);
  } catch {
    return false;
  }
}

/**
 * Build the LangChain chat model for a spec: `openai:` talks to any OpenAI-compatible endpoint
 * (OpenAI, Ollama, vLLM, LM Studio, OpenRouter via OPENAI_BASE_URL), `anthropic:` to Anthropic.
 * Temperature 0 so answers are reproducible and cacheable; the client retries connection errors,
 * 429 and 5xx with backoff, and gives up after the timeout.
 */
export async function createChatModel(spec: ModelSpec, config: ModelsConfig): Promise<BaseChatModel> {
  // The SDKs load only when a model is configured: the offline default starts without them.
  switch (spec.provider) {
    case 'openai': {
      const { ChatOpenAI } = await import('@langchain/openai');
      return new ChatOpenAI({
        model: spec.model,
        temperature: 0,
        timeout: config.timeoutMs,
        maxRetries: config.maxRetries,
        // Local servers accept any key; the client refuses to start without one.
        apiKey: config.openai.apiKey ?? 'not-needed',
        useResponsesApi: false,
        ...(config.openai.baseUrl ? { configuration: { baseURL: config.openai.baseUrl } } : {}),
      });
    }
    case 'anthropic': {
      const { ChatAnthropic } = await import('@langchain/anthropic');
      return new ChatAnthropic({
        model: spec.model,
        temperature: 0,
        maxTokens: 4096,
        maxRetries: config.maxRetries,
        apiKey: config.anthropic.apiKey ?? '',
        clientOptions: { timeout: config.timeoutMs },
        ...(config.anthropic.baseUrl ? { anthropicApiUrl: config.anthropic.baseUrl } : {}),
      });
    }
    case 'fake':
      throw new SpineError(
        'model.fake_provider',
        `The model ${spec.id} is a test double: inject it instead of building it.`,
        { category: 'user' },
      );
  }
}

/** Both roles from the config; null when no model is configured (Spine uses the offline planner). */
export async function createRoleModels(config: ModelsConfig): Promise<RoleModels | null> {
  if (!config.small || !config.large) return null;
  const build = async (spec: ModelSpec): Promise<RoleModel> => ({
    spec,
    model: await createChatModel(spec, config),
    selfHosted: spec.provider === 'openai' && isPrivateEndpoint(config.openai.baseUrl),
  });
  const large = await build(config.large);
  const small = config.small.id === config.large.id ? large : await build(config.small);
  return { small, large };
}
