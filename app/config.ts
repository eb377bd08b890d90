import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { SpineError } from '../core/errors.ts';
import type { ModelsConfig } from '../graphs/models/model-settings.ts';
import { type ConnectorsConfig, loadConnectorsConfig } from './connectors-config.ts';
import {
  type InboundConfig,
  inboundConfigFrom,
  inboundEnvironmentShape,
  inboundProblems,
} from './inbound-config.ts';
import { checkModelProviders, modelEnvironmentShape, modelsConfigFrom } from './model-config.ts';

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

function systemUserName(): string {
  try {
    return userInfo().username || 'Operator';
  } catch {
    return 'Operator';
  }
}

const emptyAsUndefined = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/** The environment variables Spine reads, with their defaults. Nothing else reads process.env. */
const environmentSchema = z.object({
  DATABASE_URL: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^postgres(ql)?:\/\/.+/, 'must be a postgres:// URL (unset it to use the embedded database)')
      .optional(),
  ),
  SPINE_DATA_DIR: z.preprocess(emptyAsUndefined, z.string().default('./.spine')),
  SPINE_DB_SCHEMA: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be lower-case letters, digits and _')
      .default('public'),
  ),
  SPINE_OPERATOR_NAME: z.preprocess(emptyAsUndefined, z.string().max(100).default(systemUserName())),
  SPINE_TIMEZONE: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .refine(isTimeZone, {
        error: (issue) => `"${String(issue.input)}" is not an IANA time zone (e.g. Europe/Berlin)`,
      })
      .default(systemTimeZone()),
  ),
  SPINE_PROBATION_DAYS: z.preprocess(
    emptyAsUndefined,
    z.coerce.number().int('must be a whole number').min(0).max(90, 'must be between 0 and 90').default(30),
  ),
  SPINE_EMAIL_FROM: z.preprocess(emptyAsUndefined, z.string().min(3).default('Spine <spine@localhost>')),
  LOG_LEVEL: z.preprocess(
    emptyAsUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
  PORT: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).max(65_535).default(3000)),
  /** Where the operator's browser reaches Spine (the web console's login links); default http://localhost:PORT. */
  SPINE_PUBLIC_URL: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(
        /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/,
        'must be an http(s):// URL like https://spine.example.com',
      )
      .optional(),
  ),
  // Queue mode (README.md, "Queue mode and the daily digest").
  REDIS_URL: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^rediss?:\/\/.+/, 'must be a redis:// or rediss:// URL (unset it for the in-process runner)')
      .optional(),
  ),
  SPINE_QUEUE_PREFIX: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9_{}.-]{1,64}$/, 'must be letters, digits, _ . - { } (e.g. {spine})')
      .default('{spine}'),
  ),
  SPINE_WORKER_CONCURRENCY: z.preprocess(
    emptyAsUndefined,
    z.coerce.number().int().min(1).max(100).default(4),
  ),
  SPINE_JOB_ATTEMPTS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).max(20).default(3)),
  SPINE_JOB_BACKOFF_MS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(10).default(1000)),
  SPINE_QUEUE_LOCK_MS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(500).default(30_000)),
  SPINE_QUEUE_STALLED_INTERVAL_MS: z.preprocess(
    emptyAsUndefined,
    z.coerce.number().int().min(200).default(30_000),
  ),
  SPINE_GROUP_LOCK: z.preprocess(emptyAsUndefined, z.enum(['redis', 'postgres']).default('redis')),
  SPINE_QUEUE_MAX_STALLED: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).max(10).default(2)),
  SPINE_RECOVERY_INTERVAL_MS: z.preprocess(
    emptyAsUndefined,
    z.coerce.number().int().min(100).default(60_000),
  ),
  SPINE_CHAT_POLL_MS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(10).default(500)),
  SPINE_CHAT_DELIVERY_ATTEMPTS: z.preprocess(
    emptyAsUndefined,
    z.coerce.number().int().min(1).max(50).default(10),
  ),
  SPINE_CHAT_RETRY_MS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(10).default(1000)),
  SPINE_DIGEST_TIME: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^([01]?\d|2[0-3]):[0-5]\d$/, 'must be a time of day like 08:00')
      .default('08:00'),
  ),
  SPINE_DIGEST_CHECK_MS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(100).default(60_000)),
  SPINE_TIME_SAVED_MINUTES: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(
        /^\s*[\w.-]+\s*=\s*\d+(\.\d+)?\s*(,\s*[\w.-]+\s*=\s*\d+(\.\d+)?\s*)*$/,
        'must be a list like email.send_email=5,memory.remember=1',
      )
      .optional(),
  ),
  /** Set: GET /metrics requires `Authorization: Bearer <token>`. */
  SPINE_METRICS_TOKEN: z.preprocess(
    emptyAsUndefined,
    z.string().min(16, 'must be at least 16 characters').optional(),
  ),
  SPINE_PROGRESS_AFTER_MS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).default(3000)),
  // Test hook: a worker holds each finished job this long before completing it (crash tests).
  SPINE_WORKER_TEST_HOLD_MS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).default(0)),
  // Test hook: hold after this step of a goal's graph instead of after the job.
  SPINE_WORKER_TEST_HOLD_STEP: z.preprocess(emptyAsUndefined, z.string().optional()),
  /** The connectors file (spine.config.yaml); ./spine.config.yaml is read when present. */
  SPINE_CONFIG: z.preprocess(emptyAsUndefined, z.string().optional()),
  SPINE_OWNER: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(
        /^\s*(slack|telegram):[\w.-]+\s*(,\s*(slack|telegram):[\w.-]+\s*)*$/,
        'must list channel:id pairs separated by commas, e.g. slack:U0123ABC,telegram:123456',
      )
      .optional(),
  ),
  SLACK_BOT_TOKEN: z.preprocess(
    emptyAsUndefined,
    z.string().startsWith('xoxb-', 'must start with xoxb-').optional(),
  ),
  SLACK_SIGNING_SECRET: z.preprocess(emptyAsUndefined, z.string().min(8).optional()),
  SLACK_APP_TOKEN: z.preprocess(
    emptyAsUndefined,
    z.string().startsWith('xapp-', 'must start with xapp-').optional(),
  ),
  SLACK_API_URL: z.preprocess(emptyAsUndefined, z.url().default('https://slack.com/api/')),
  TELEGRAM_BOT_TOKEN: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^\d+:[\w-]+$/, 'must look like 123456:ABC-DEF (from BotFather)')
      .optional(),
  ),
  TELEGRAM_API_ROOT: z.preprocess(emptyAsUndefined, z.url().default('https://api.telegram.org')),
  TELEGRAM_WEBHOOK_URL: z.preprocess(emptyAsUndefined, z.url().optional()),
  TELEGRAM_WEBHOOK_SECRET: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{16,256}$/, 'must be 16-256 characters of A-Z, a-z, 0-9, _ and -')
      .optional(),
  ),
  // Models: providers, roles, timeouts, cache and the daily budget (app/model-config.ts).
  ...modelEnvironmentShape,
  // Stripe (payments connector, webhooks) and the inbound IMAP mailbox (app/inbound-config.ts).
  ...inboundEnvironmentShape,
  SPINE_EMBEDDINGS: z.preprocess(emptyAsUndefined, z.enum(['local', 'openai', 'ollama']).default('local')),
  SPINE_EMBEDDINGS_MODEL: z.preprocess(emptyAsUndefined, z.string().min(1).optional()),
  SPINE_EMBEDDINGS_BASE_URL: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^https?:\/\/.+/, 'must be an http(s):// URL')
      .optional(),
  ),
  SPINE_EMBEDDINGS_API_KEY: z.preprocess(emptyAsUndefined, z.string().min(1).optional()),
  SPINE_EMBEDDINGS_DIMENSIONS: z.preprocess(
    emptyAsUndefined,
    z.coerce.number().int().min(16).max(2000, 'must be at most 2000 (the HNSW limit)').default(512),
  ),
  SPINE_SIGNING_KEY: z.preprocess(
    emptyAsUndefined,
    z.string().min(16, 'must be at least 16 characters').optional(),
  ),
});
/** With the cross-field checks (a configured model needs its provider's credentials). */
const checkedEnvironmentSchema = environmentSchema.superRefine(checkModelProviders);

/** Minutes a person would spend doing an operation by hand: the digest's time-saved estimate. */
export const DEFAULT_MINUTES_SAVED: Record<string, number> = {
  'email.send_email': 5,
  'memory.remember': 1,
  'calendar.create_event': 4,
  'webhook.post': 3,
  'goal.answered': 2,
};

/** Queue mode: BullMQ on Redis, separate worker processes (README.md, "Queue mode and the daily digest"). */
export interface QueueConfig {
  redisUrl: string;
  /** Key prefix; keep the {hash tag} so every key of a queue lands in one Redis Cluster slot. */
  prefix: string;
  concurrency: number;
  /** How long a worker's lock on an active job lasts; it renews at half this while the job runs. */
  lockDurationMs: number;
  /** How often workers look for jobs whose lock expired (a worker died mid-job). */
  stalledIntervalMs: number;
  /** A job that stalls more often than this fails for good (a job that crashes its worker). */
  maxStalledCount: number;
  /** Where the one-job-per-goal lock lives: a Redis lease (default) or a Postgres advisory lock. */
  groupLock: 'redis' | 'postgres';
  /** How often the main process re-enqueues unfinished work from Postgres. */
  recoveryIntervalMs: number;
  /** How often a main process looks for workers' chat messages without a doorbell ring. */
  chatPollMs: number;
  /** Attempts to show one chat message before it is given up. */
  chatDeliveryAttempts: number;
  /** The first delay before a failed chat message is tried again; doubles each attempt. */
  chatRetryMs: number;
  /** Test hook: hold a finished job (or, with `testHoldStep`, a goal after that step) this long. */
  testHoldMs: number;
  testHoldStep: string | undefined;
}

/** Spine's configuration, parsed once at boot. */
export interface Config {
  database: { url: string | undefined; dataDir: string; schema: string };
  operator: { name: string; timezone: string; probationDays: number };
  email: { from: string; outboxDir: string };
  logLevel: z.infer<typeof environmentSchema>['LOG_LEVEL'];
  port: number;
  /** Where the operator's browser reaches Spine (no trailing slash): the web console's login links. */
  publicUrl: string;
  /** Set when REDIS_URL is: queue mode. */
  queue: QueueConfig | undefined;
  jobs: { attempts: number; backoffMs: number; progressAfterMs: number };
  digest: { defaultTime: string; checkIntervalMs: number; minutesSaved: Record<string, number> };
  /** `/metrics` (Prometheus): the bearer token it requires, if any. */
  metrics: { token: string | undefined };
  /** Connectors, guardrails and resilience from spine.config.yaml; defaults without the file. */
  connectors: ConnectorsConfig;
  /** The operator's chat identities from SPINE_OWNER, registered at start. */
  owner: { identities: Array<{ channel: 'slack' | 'telegram'; externalId: string }> };
  chat: ChatConfig;
  /** Language models: providers, the small/large roles, cache, prices and the daily budget. */
  models: ModelsConfig;
  /** Stripe (payments connector and webhooks) and the inbound IMAP mailbox. */
  inbound: InboundConfig;
  memory: {
    embeddings: {
      provider: 'local' | 'openai' | 'ollama';
      model: string | undefined;
      baseUrl: string | undefined;
      apiKey: string | undefined;
      dimensions: number;
    };
    /** HMAC key for connector memories; unset means generated and kept in `<data dir>/signing.key`. */
    signingKey: string | undefined;
    signingKeyFile: string;
  };
}

/** Chat platforms: each is configured when its token is set. */
export interface ChatConfig {
  slack:
    | {
        botToken: string;
        /** Required in HTTP mode; unused in Socket Mode. */
        signingSecret: string | undefined;
        /** Set: Socket Mode (no public URL needed). */
        appToken: string | undefined;
        apiUrl: string;
      }
    | undefined;
  telegram:
    | {
        botToken: string;
        apiRoot: string;
        /** Set: webhook mode with the secret below; unset: long polling. */
        webhook: { url: string; secret: string } | undefined;
      }
    | undefined;
}

/** Cross-field rules the schema cannot express per field. */
function chatProblems(values: z.infer<typeof environmentSchema>): string[] {
  const problems: string[] = [];
  if (values.SLACK_BOT_TOKEN && !values.SLACK_APP_TOKEN && !values.SLACK_SIGNING_SECRET)
    problems.push(
      '  - SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)',
    );
  if (!values.SLACK_BOT_TOKEN && (values.SLACK_SIGNING_SECRET || values.SLACK_APP_TOKEN))
    problems.push('  - SLACK_BOT_TOKEN: required when SLACK_SIGNING_SECRET or SLACK_APP_TOKEN is set');
  if (values.TELEGRAM_WEBHOOK_URL && !values.TELEGRAM_WEBHOOK_SECRET)
    problems.push(
      '  - TELEGRAM_WEBHOOK_SECRET: required with TELEGRAM_WEBHOOK_URL (Telegram sends it on every request)',
    );
  if (values.TELEGRAM_WEBHOOK_URL && !values.TELEGRAM_BOT_TOKEN)
    problems.push('  - TELEGRAM_BOT_TOKEN: required when TELEGRAM_WEBHOOK_URL is set');
  return problems;
}

/** Defaults, then spine.config.yaml `metrics.minutesSaved`, then SPINE_TIME_SAVED_MINUTES. */
function parseMinutesSaved(
  list: string | undefined,
  fromFile: Record<string, number>,
): Record<string, number> {
  const table = { ...DEFAULT_MINUTES_SAVED, ...fromFile };
  for (const entry of list?.split(',') ?? []) {
    const [key, value] = entry.split('=').map((part) => part.trim());
    if (key && value) table[key] = Number(value);
  }
  return table;
}

/**
 * Parse the configuration from an environment. Throws `config.invalid` listing every problem at once.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = checkedEnvironmentSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  - ${issue.path.join('.')}: ${issue.message}`);
    throw new SpineError(
      'config.invalid',
      `Spine cannot start: the configuration has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
        `${problems.join('\n')}\nFix them in the environment or in .env (see the Configuration table in README.md).`,
      { category: 'user', details: { problems } },
    );
  }
  const values = parsed.data;
  const problems = [...chatProblems(values), ...inboundProblems(values)];
  if (problems.length > 0) {
    throw new SpineError(
      'config.invalid',
      `Spine cannot start: the configuration has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
        `${problems.join('\n')}\nFix them in the environment or in .env (see README.md, "Slack and Telegram", "Inbound e-mail (IMAP)").`,
      { category: 'user', details: { problems } },
    );
  }
  if (values.REDIS_URL && !values.DATABASE_URL) {
    throw new SpineError(
      'config.queue_needs_server_database',
      'Spine cannot start: REDIS_URL is set (queue mode) but DATABASE_URL is not. Queue mode runs ' +
        'several processes that share one database, so it needs a Postgres server: set DATABASE_URL ' +
        '(postgres://...), or unset REDIS_URL to run everything in one process.',
      { category: 'user' },
    );
  }
  const connectors = loadConnectorsConfig(values.SPINE_CONFIG ?? './spine.config.yaml', env, {
    required: values.SPINE_CONFIG !== undefined,
  });
  return {
    database: { url: values.DATABASE_URL, dataDir: values.SPINE_DATA_DIR, schema: values.SPINE_DB_SCHEMA },
    operator: {
      name: values.SPINE_OPERATOR_NAME,
      timezone: values.SPINE_TIMEZONE,
      probationDays: values.SPINE_PROBATION_DAYS,
    },
    email: {
      from: values.SPINE_EMAIL_FROM,
      outboxDir: `${values.SPINE_DATA_DIR.replace(/\/+$/, '')}/outbox`,
    },
    logLevel: values.LOG_LEVEL,
    port: values.PORT,
    publicUrl: (values.SPINE_PUBLIC_URL ?? `http://localhost:${values.PORT}`).replace(/\/+$/, ''),
    queue: values.REDIS_URL
      ? {
          redisUrl: values.REDIS_URL,
          prefix: values.SPINE_QUEUE_PREFIX,
          concurrency: values.SPINE_WORKER_CONCURRENCY,
          lockDurationMs: values.SPINE_QUEUE_LOCK_MS,
          stalledIntervalMs: values.SPINE_QUEUE_STALLED_INTERVAL_MS,
          maxStalledCount: values.SPINE_QUEUE_MAX_STALLED,
          groupLock: values.SPINE_GROUP_LOCK,
          recoveryIntervalMs: values.SPINE_RECOVERY_INTERVAL_MS,
          chatPollMs: values.SPINE_CHAT_POLL_MS,
          chatDeliveryAttempts: values.SPINE_CHAT_DELIVERY_ATTEMPTS,
          chatRetryMs: values.SPINE_CHAT_RETRY_MS,
          testHoldMs: values.SPINE_WORKER_TEST_HOLD_MS,
          testHoldStep: values.SPINE_WORKER_TEST_HOLD_STEP,
        }
      : undefined,
    jobs: {
      attempts: values.SPINE_JOB_ATTEMPTS,
      backoffMs: values.SPINE_JOB_BACKOFF_MS,
      progressAfterMs: values.SPINE_PROGRESS_AFTER_MS,
    },
    digest: {
      defaultTime: values.SPINE_DIGEST_TIME,
      checkIntervalMs: values.SPINE_DIGEST_CHECK_MS,
      minutesSaved: parseMinutesSaved(values.SPINE_TIME_SAVED_MINUTES, connectors.metrics.minutesSaved),
    },
    metrics: { token: values.SPINE_METRICS_TOKEN },
    connectors,
    owner: { identities: parseOwner(values.SPINE_OWNER) },
    chat: {
      slack: values.SLACK_BOT_TOKEN
        ? {
            botToken: values.SLACK_BOT_TOKEN,
            signingSecret: values.SLACK_SIGNING_SECRET,
            appToken: values.SLACK_APP_TOKEN,
            apiUrl: values.SLACK_API_URL.endsWith('/') ? values.SLACK_API_URL : `${values.SLACK_API_URL}/`,
          }
        : undefined,
      telegram: values.TELEGRAM_BOT_TOKEN
        ? {
            botToken: values.TELEGRAM_BOT_TOKEN,
            apiRoot: values.TELEGRAM_API_ROOT.replace(/\/+$/, ''),
            webhook:
              values.TELEGRAM_WEBHOOK_URL && values.TELEGRAM_WEBHOOK_SECRET
                ? { url: values.TELEGRAM_WEBHOOK_URL, secret: values.TELEGRAM_WEBHOOK_SECRET }
                : undefined,
          }
        : undefined,
    },
    models: modelsConfigFrom(values),
    inbound: inboundConfigFrom(values),
    memory: {
      embeddings: {
        provider: values.SPINE_EMBEDDINGS,
        model: values.SPINE_EMBEDDINGS_MODEL,
        baseUrl: values.SPINE_EMBEDDINGS_BASE_URL,
        apiKey: values.SPINE_EMBEDDINGS_API_KEY,
        dimensions: values.SPINE_EMBEDDINGS_DIMENSIONS,
      },
      signingKey: values.SPINE_SIGNING_KEY,
      signingKeyFile: `${values.SPINE_DATA_DIR.replace(/\/+$/, '')}/signing.key`,
    },
  };
}

/** The process environment with an optional `.env` file underneath it (real variables win). */
export function readEnvironment(envFile = '.env'): Record<string, string | undefined> {
  const fromFile = existsSync(envFile) ? parseDotenv(readFileSync(envFile)) : {};
  return { ...fromFile, ...process.env };
}

/** `slack:U123,telegram:456` → identities (the schema has checked the shape). */
function parseOwner(value: string | undefined): Config['owner']['identities'] {
  if (!value) return [];
  return value.split(',').map((pair) => {
    const [channel, externalId] = pair.trim().split(':') as ['slack' | 'telegram', string];
    return { channel, externalId };
  });
}
