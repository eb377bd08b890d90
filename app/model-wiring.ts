import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { Logger } from 'pino';
import type { ConnectorRuntime } from '../connectors/connector-runtime.ts';
import type { Clock } from '../core/clock.ts';
import type { Queryable } from '../db/database.ts';
import { LlmCacheRepository } from '../db/repositories/llm-cache.ts';
import { LlmUsageRepository } from '../db/repositories/llm-usage.ts';
import { LlmPlanner } from '../graphs/agents/llm-planner.ts';
import { offlinePlanner, type Planner } from '../graphs/agents/synthesizer.ts';
import { ModelCache } from '../graphs/models/model-cache.ts';
import { createRoleModels, type RoleModels } from '../graphs/models/model-factory.ts';
import { ModelGateway } from '../graphs/models/model-gateway.ts';
import { parseModelSpec } from '../graphs/models/model-settings.ts';
import { OutputGuard } from '../graphs/models/output-guard.ts';
import { PLANNER_SYSTEM_PROMPT } from '../graphs/models/planner-prompt.ts';
import { type PlanningReader, plannerTools } from '../graphs/models/planner-tools.ts';
import { UsageMeter } from '../graphs/models/usage-meter.ts';
import { UsageReport } from '../graphs/models/usage-report.ts';
import type { MemoryStore } from '../memory/memory-store.ts';
import type { Config } from './config.ts';

/** Chat models injected in place of the configured ones (tests, benchmarks): `fake:<name>` ids. */
export interface InjectedModels {
  small: BaseChatModel;
  large: BaseChatModel;
}

/** The model layer of a running Spine. */
export interface Models {
  /** The LLM planner, or the offline planner when no model is configured. */
  planner: Planner;
  /** Null without a model. */
  gateway: ModelGateway | null;
  usage: UsageReport;
  guard: OutputGuard;
}

const SECRET_KEY = /key|token|secret|password|signing/i;
/** Where a secret is kept (a file path), not the secret itself. */
const SECRET_LOCATION = /(file|path|dir)$/i;

/** Every secret-looking string in the config (API keys, tokens, signing secrets, database URL credentials). */
export function configSecrets(config: Config): string[] {
  const found: string[] = [];
  const walk = (value: unknown, key: string): void => {
    if (typeof value === 'string') {
      if (SECRET_KEY.test(key) && !SECRET_LOCATION.test(key)) found.push(value);
      return;
    }
    if (value && typeof value === 'object') {
      for (const [inner, child] of Object.entries(value as Record<string, unknown>)) walk(child, inner);
    }
  };
  walk(config, '');
  const password = config.database.url ? /\/\/[^:/@]+:([^@]+)@/.exec(config.database.url)?.[1] : undefined;
  if (password) found.push(password);
  return found;
}

/** Build the model layer: role models (configured or injected), cache, usage meter, gateway and planner. */
export async function createModels(input: {
  config: Config;
  db: Queryable;
  clock: Clock;
  logger: Logger;
  connectors: ConnectorRuntime;
  memory: MemoryStore;
  /** Runs the model's external reads during planning through the runtime, as actions of the goal. */
  reader: PlanningReader;
  /** Posts a notice in a goal's thread at once (provider down, budget warnings). */
  notify?: (goalId: number, text: string) => Promise<void>;
  injected?: InjectedModels | undefined;
}): Promise<Models> {
  const { config, clock, logger } = input;
  const settings = config.models;
  const usageRepo = new LlmUsageRepository(input.db);
  const meter = new UsageMeter({
    repo: usageRepo,
    clock,
    timezone: config.operator.timezone,
    dailyBudgetUsd: settings.dailyBudgetUsd,
  });
  const guard = new OutputGuard({ secrets: configSecrets(config), systemPrompts: [PLANNER_SYSTEM_PROMPT] });
  let roles: RoleModels | null;
  if (input.injected) {
    const spec = (name: string) => parseModelSpec(`fake:${name}`)!;
    roles = {
      small: { spec: settings.small ?? spec('small'), model: input.injected.small, selfHosted: false },
      large: { spec: settings.large ?? spec('large'), model: input.injected.large, selfHosted: false },
    };
  } else {
    roles = await createRoleModels(settings);
  }
  const models = roles ? { small: roles.small.spec.id, large: roles.large.spec.id } : null;
  const usage = new UsageReport(usageRepo, meter, clock, models);
  if (!roles) return { planner: offlinePlanner, gateway: null, usage, guard };
  const gateway = new ModelGateway({
    models: roles,
    cache: new ModelCache(new LlmCacheRepository(input.db), settings.cacheTtlSeconds),
    meter,
    prices: settings.prices,
    clock,
    logger: logger.child({ component: 'models' }),
    timeoutMs: settings.timeoutMs * (settings.maxRetries + 1),
    redact: (text) => guard.guard(text).text,
  });
  const planner = new LlmPlanner({
    gateway,
    tools: () => plannerTools(input.connectors.connectors, input.memory, input.reader),
    guard,
    fallback: offlinePlanner,
    logger: logger.child({ component: 'planner' }),
    ...(input.notify ? { notify: (context, text) => input.notify!(context.goalId, text) } : {}),
  });
  logger.info({ small: models?.small, large: models?.large }, 'language models configured');
  return { planner, gateway, usage, guard };
}
