/** The two jobs a model does: `small` for routine transforms, `large` for planning and synthesis. */
export type ModelRole = 'small' | 'large';

/** Which client talks to the model. `fake` is for tests that inject a model directly. */
export type ModelProvider = 'openai' | 'anthropic' | 'fake';

/** A model named as `provider:model`, e.g. `openai:gpt-4o-mini` or `anthropic:claude-3-5-haiku-latest`. */
export interface ModelSpec {
  provider: ModelProvider;
  model: string;
  /** `provider:model`, the name used in prices, the cache key and usage rows. */
  id: string;
}

/** Price of a model in US dollars per million tokens. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
}

/** Everything the model layer needs, parsed once by app/config.ts. */
export interface ModelsConfig {
  /** Routine transforms; falls back to `large` when only that one is set. */
  small: ModelSpec | null;
  /** Planning and synthesis; null means the offline planner. */
  large: ModelSpec | null;
  openai: { apiKey: string | undefined; baseUrl: string | undefined };
  anthropic: { apiKey: string | undefined; baseUrl: string | undefined };
  /** Per model call, including the provider's own retries. */
  timeoutMs: number;
  /** Retries on connection errors, 429 and 5xx (the client's exponential backoff). */
  maxRetries: number;
  /** How long a deterministic answer stays in the cache; 0 turns the cache off. */
  cacheTtlSeconds: number;
  /** Daily spending cap in US dollars; null means no cap. */
  dailyBudgetUsd: number | null;
  /** Keyed by model name (`gpt-4o-mini`) or id (`openai:gpt-4o-mini`); the id wins. */
  prices: Record<string, ModelPrice>;
}

const SPEC = /^(openai|anthropic|fake):(.+)$/;

/** Parse `provider:model`; null when it is not in that form. */
export function parseModelSpec(value: string): ModelSpec | null {
  const match = SPEC.exec(value.trim());
  if (!match) return null;
  const provider = match[1] as ModelProvider;
  const model = (match[2] ?? '').trim();
  if (!model) return null;
  return { provider, model, id: `${provider}:${model}` };
}
