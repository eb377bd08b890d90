import { z } from 'zod';
import { DEFAULT_MODEL_PRICES } from '../graphs/models/model-prices.ts';
import { type ModelPrice, type ModelsConfig, parseModelSpec } from '../graphs/models/model-settings.ts';

const emptyAsUndefined = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

const modelSpec = z.preprocess(
  emptyAsUndefined,
  z
    .string()
    .refine((value) => parseModelSpec(value) !== null, {
      error: (issue) =>
        `"${String(issue.input)}" is not provider:model (e.g. openai:gpt-4o-mini or anthropic:claude-haiku-4-5)`,
    })
    .optional(),
);

const httpUrl = z.preprocess(
  emptyAsUndefined,
  z
    .string()
    .regex(/^https?:\/\/.+/, 'must be an http:// or https:// URL')
    .optional(),
);

const priceTable = z.record(z.string(), z.object({ input: z.number().min(0), output: z.number().min(0) }));

/** The model variables, spread into the environment schema in app/config.ts. */
export const modelEnvironmentShape = {
  OPENAI_API_KEY: z.preprocess(emptyAsUndefined, z.string().optional()),
  OPENAI_BASE_URL: httpUrl,
  ANTHROPIC_API_KEY: z.preprocess(emptyAsUndefined, z.string().optional()),
  ANTHROPIC_BASE_URL: httpUrl,
  SPINE_MODEL_SMALL: modelSpec,
  SPINE_MODEL_LARGE: modelSpec,
  SPINE_MODEL_TIMEOUT_MS: z.preprocess(
    emptyAsUndefined,
    z.coerce.number().int().min(1_000, 'must be at least 1000 (one second)').max(600_000).default(60_000),
  ),
  SPINE_MODEL_MAX_RETRIES: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).max(10).default(2)),
  SPINE_LLM_CACHE_TTL_SECONDS: z.preprocess(
    emptyAsUndefined,
    z.coerce
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .default(86_400),
  ),
  SPINE_DAILY_BUDGET_USD: z.preprocess(
    emptyAsUndefined,
    z.union([z.literal('none'), z.coerce.number().min(0, 'must be 0 or more (or "none")')]).default(5),
  ),
  SPINE_MODEL_PRICES: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .transform((text, context) => {
        try {
          return priceTable.parse(JSON.parse(text));
        } catch {
          context.addIssue({
            code: 'custom',
            message: 'must be JSON like {"gpt-4o-mini":{"input":0.15,"output":0.6}} (USD per million tokens)',
          });
          return z.NEVER;
        }
      })
      .optional(),
  ),
};

const modelEnvironmentSchema = z.object(modelEnvironmentShape);
type ModelEnvironment = z.infer<typeof modelEnvironmentSchema>;

/** Cross-field checks: a configured model needs its provider's credentials. */
export function checkModelProviders(values: ModelEnvironment, context: z.RefinementCtx): void {
  for (const key of ['SPINE_MODEL_SMALL', 'SPINE_MODEL_LARGE'] as const) {
    const spec = values[key] ? parseModelSpec(values[key]) : null;
    if (spec?.provider === 'openai' && !values.OPENAI_API_KEY && !values.OPENAI_BASE_URL) {
      context.addIssue({
        code: 'custom',
        path: ['OPENAI_API_KEY'],
        message: `${key} uses OpenAI: set OPENAI_API_KEY (or OPENAI_BASE_URL for a local server such as Ollama)`,
      });
    }
    if (spec?.provider === 'anthropic' && !values.ANTHROPIC_API_KEY) {
      context.addIssue({
        code: 'custom',
        path: ['ANTHROPIC_API_KEY'],
        message: `${key} uses Anthropic: set ANTHROPIC_API_KEY`,
      });
    }
    if (spec?.provider === 'fake') {
      context.addIssue({ code: 'custom', path: [key], message: 'the fake provider is for tests only' });
    }
  }
}

/** The typed model settings from the parsed environment. */
export function modelsConfigFrom(values: ModelEnvironment): ModelsConfig {
  const large = values.SPINE_MODEL_LARGE ? parseModelSpec(values.SPINE_MODEL_LARGE) : null;
  const small = values.SPINE_MODEL_SMALL ? parseModelSpec(values.SPINE_MODEL_SMALL) : null;
  const prices: Record<string, ModelPrice> = { ...DEFAULT_MODEL_PRICES };
  for (const [name, price] of Object.entries(values.SPINE_MODEL_PRICES ?? {})) {
    prices[name] = { inputPerMTok: price.input, outputPerMTok: price.output };
  }
  return {
    small: small ?? large,
    large: large ?? small,
    openai: { apiKey: values.OPENAI_API_KEY, baseUrl: values.OPENAI_BASE_URL },
    anthropic: { apiKey: values.ANTHROPIC_API_KEY, baseUrl: values.ANTHROPIC_BASE_URL },
    timeoutMs: values.SPINE_MODEL_TIMEOUT_MS,
    maxRetries: values.SPINE_MODEL_MAX_RETRIES,
    cacheTtlSeconds: values.SPINE_LLM_CACHE_TTL_SECONDS,
    dailyBudgetUsd: values.SPINE_DAILY_BUDGET_USD === 'none' ? null : values.SPINE_DAILY_BUDGET_USD,
    prices,
  };
}
