import type { ModelPrice, ModelSpec } from './model-settings.ts';

/**
 * List prices in US dollars per million tokens (input, output) for common models, as published by
 * the providers in 2025–2026. Override or extend them with SPINE_MODEL_PRICES; local models
 * (Ollama, vLLM, LM Studio) cost nothing unless you say otherwise.
 */
export const DEFAULT_MODEL_PRICES: Readonly<Record<string, ModelPrice>> = {
  'gpt-4o-mini': { inputPerMTok: 0.15, outputPerMTok: 0.6 },
  'gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10 },
  'gpt-4.1': { inputPerMTok: 2, outputPerMTok: 8 },
  'gpt-4.1-mini': { inputPerMTok: 0.4, outputPerMTok: 1.6 },
  'gpt-4.1-nano': { inputPerMTok: 0.1, outputPerMTok: 0.4 },
  'gpt-5': { inputPerMTok: 1.25, outputPerMTok: 10 },
  'gpt-5-mini': { inputPerMTok: 0.25, outputPerMTok: 2 },
  'gpt-5-nano': { inputPerMTok: 0.05, outputPerMTok: 0.4 },
  'o4-mini': { inputPerMTok: 1.1, outputPerMTok: 4.4 },
  'claude-3-5-haiku': { inputPerMTok: 0.8, outputPerMTok: 4 },
  'claude-3-5-sonnet': { inputPerMTok: 3, outputPerMTok: 15 },
  'claude-3-7-sonnet': { inputPerMTok: 3, outputPerMTok: 15 },
  'claude-haiku-4-5': { inputPerMTok: 1, outputPerMTok: 5 },
  'claude-sonnet-4': { inputPerMTok: 3, outputPerMTok: 15 },
  'claude-opus-4': { inputPerMTok: 15, outputPerMTok: 75 },
  'claude-opus-4-5': { inputPerMTok: 5, outputPerMTok: 25 },
};

/** Used for a hosted model missing from the table, so an unknown model is never free by accident. */
export const UNKNOWN_MODEL_PRICE: ModelPrice = { inputPerMTok: 5, outputPerMTok: 15 };

/**
 * The price of a model: by exact id, then by name, then by the longest known name it starts with
 * (`claude-sonnet-4-5-20250929` → `claude-sonnet-4`). An OPENAI_BASE_URL on loopback or a private
 * network means a self-hosted server (Ollama, vLLM, LM Studio): free unless priced.
 */
export function priceOf(
  spec: ModelSpec,
  prices: Readonly<Record<string, ModelPrice>>,
  options: { selfHosted?: boolean } = {},
): ModelPrice {
  const exact = prices[spec.id] ?? prices[spec.model];
  if (exact) return exact;
  const prefix = Object.keys(prices)
    .filter((name) => spec.model.startsWith(name))
    .sort((a, b) => b.length - a.length)[0];
  if (prefix) return prices[prefix] as ModelPrice;
  if (spec.provider === 'fake' || options.selfHosted) return { inputPerMTok: 0, outputPerMTok: 0 };
  return UNKNOWN_MODEL_PRICE;
}

/** Cost of one call in US dollars. */
export function costOf(price: ModelPrice, inputTokens: number, outputTokens: number): number {
  return (inputTokens * price.inputPerMTok + outputTokens * price.outputPerMTok) / 1_000_000;
}
