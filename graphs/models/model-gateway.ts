import { AIMessage, type BaseMessage } from '@langchain/core/messages';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.ts';
import { describeError, SpineError } from '../../core/errors.ts';
import type { ModelCache } from './model-cache.ts';
import { cacheKey } from './model-cache.ts';
import type { RoleModels } from './model-factory.ts';
import { costOf, priceOf } from './model-prices.ts';
import type { ModelPrice, ModelRole } from './model-settings.ts';
import type { ToolDefinition } from './planner-tools.ts';
import type { UsageMeter } from './usage-meter.ts';

/** One model call. */
export interface ModelRequest {
  role: ModelRole;
  /** What the call is for (`plan`, `summary`, `digest` …), recorded with its usage. */
  purpose: string;
  messages: BaseMessage[];
  tools?: ToolDefinition[];
  operatorId: number | null;
  goalId?: number | null;
  /** Essential calls still run when the daily budget is used up. Planning is not essential. */
  essential?: boolean;
}

export interface ModelAnswer {
  message: AIMessage;
  cached: boolean;
  model: string;
  /** Budget notices the operator should see now (80% warning, cap), each once a day. */
  notices: string[];
}

/** Error codes after which callers fall back to the offline planner. */
export const MODEL_FALLBACK_CODES = ['model.unavailable', 'model.auth', 'model.budget_exhausted'] as const;

/** True for a model failure the offline planner can stand in for. */
export function isModelFailure(error: unknown): error is SpineError {
  return error instanceof SpineError && (MODEL_FALLBACK_CODES as readonly string[]).includes(error.code);
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown; lc_error_code?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/**
 * Every model call goes through here: the budget check, the answer cache for deterministic calls,
 * the call itself (the client's timeout and retries, bounded overall), and usage and cost.
 * Provider errors become `model.unavailable` or `model.auth`; a spent budget `model.budget_exhausted`.
 */
export class ModelGateway {
  readonly #models: RoleModels;
  readonly #cache: ModelCache;
  readonly #meter: UsageMeter;
  readonly #prices: Readonly<Record<string, ModelPrice>>;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  readonly #redact: (text: string) => string;

  constructor(deps: {
    models: RoleModels;
    cache: ModelCache;
    meter: UsageMeter;
    prices: Readonly<Record<string, ModelPrice>>;
    clock: Clock;
    logger: Logger;
    /** Bound on one call including the client's retries. */
    timeoutMs: number;
    /** Removes secrets from provider error text before it is logged or shown (a proxy may echo a key). */
    redact?: (text: string) => string;
  }) {
    this.#models = deps.models;
    this.#cache = deps.cache;
    this.#meter = deps.meter;
    this.#prices = deps.prices;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#timeoutMs = deps.timeoutMs;
    this.#redact = deps.redact ?? ((text) => text);
  }

  get meter(): UsageMeter {
    return this.#meter;
  }

  /** The model id serving a role (`openai:gpt-4o-mini`). */
  modelFor(role: ModelRole): string {
    return this.#models[role].spec.id;
  }

  async invoke(request: ModelRequest): Promise<ModelAnswer> {
    const roleModel = this.#models[request.role];
    const modelId = roleModel.spec.id;
    const notices: string[] = [];
    if (!request.essential && request.operatorId !== null) {
      const budget = await this.#meter.state(request.operatorId);
      if (budget.level === 'capped') {
        throw new SpineError(
          'model.budget_exhausted',
          await this.#meter.capMessage(request.operatorId, budget),
          {
            category: 'user',
            details: { spentUsd: budget.spentUsd, budgetUsd: budget.budgetUsd, day: budget.day },
          },
        );
      }
    }
    const tools = request.tools ?? [];
    const key = cacheKey(modelId, request.messages, tools);
    const usageBase = {
      operatorId: request.operatorId,
      goalId: request.goalId ?? null,
      role: request.role,
      purpose: request.purpose,
      model: modelId,
    };
    const started = performance.now();
    const cached = await this.#cache.get(key, this.#clock.now());
    if (cached) {
      await this.#meter.record({
        ...usageBase,
        inputTokens: 0,
        outputTokens: 0,
        costUsd: 0,
        cached: true,
        latencyMs: performance.now() - started,
      });
      return { message: cached, cached: true, model: modelId, notices };
    }

    // Latency of a real call is the provider's round trip alone (the cache lookup is not part of it).
    const calling = performance.now();
    let message: AIMessage;
    try {
      const runnable = tools.length > 0 ? roleModel.model.bindTools?.(tools) : roleModel.model;
      if (!runnable) throw new Error(`${modelId} cannot call tools`);
      const reply = await runnable.invoke(request.messages, { timeout: this.#timeoutMs });
      message = new AIMessage({
        content: reply.content,
        tool_calls: reply.tool_calls ?? [],
        ...(reply.usage_metadata ? { usage_metadata: reply.usage_metadata } : {}),
      });
    } catch (error) {
      throw this.#failure(error, modelId);
    }
    const latencyMs = performance.now() - calling;
    const inputTokens = message.usage_metadata?.input_tokens ?? 0;
    const outputTokens = message.usage_metadata?.output_tokens ?? 0;
    const price = priceOf(roleModel.spec, this.#prices, { selfHosted: roleModel.selfHosted });
    const costUsd = costOf(price, inputTokens, outputTokens);
    notices.push(
      ...(await this.#meter.record({
        ...usageBase,
        inputTokens,
        outputTokens,
        costUsd,
        cached: false,
        latencyMs,
      })),
    );
    await this.#cache.put(key, modelId, message, this.#clock.now());
    this.#logger.debug(
      { model: modelId, purpose: request.purpose, inputTokens, outputTokens, costUsd, latencyMs },
      'model call',
    );
    return { message, cached: false, model: modelId, notices };
  }

  /** No `cause` on the result: the provider's error object may carry request headers (the key) into logs. */
  #failure(error: unknown, modelId: string): SpineError {
    if (error instanceof SpineError) return error;
    const status = statusOf(error);
    const provider = modelId.split(':')[0] === 'anthropic' ? 'Anthropic' : 'OpenAI-compatible';
    const said = this.#redact(describeError(error));
    this.#logger.warn({ model: modelId, status, err: said }, 'model call failed');
    if (status === 401 || status === 403) {
      const variable = provider === 'Anthropic' ? 'ANTHROPIC_API_KEY' : 'OPENAI_API_KEY';
      return new SpineError(
        'model.auth',
        `The ${provider} endpoint refused Spine's credentials for ${modelId} (HTTP ${status}). Check ${variable}.`,
        { category: 'user', details: { model: modelId, status } },
      );
    }
    const reason = status ? `HTTP ${status}` : said.split('\n')[0]?.slice(0, 160);
    return new SpineError(
      'model.unavailable',
      `The language model (${modelId}) is not answering right now (${reason}).`,
      {
        category: 'third_party',
        retryable: true,
        details: { model: modelId, status: status ?? null },
      },
    );
  }
}
