import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { SpineError } from '../core/errors.ts';

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

/** Spine's configuration, parsed once at boot. */
export interface Config {
  database: { url: string | undefined; dataDir: string; schema: string };
  operator: { name: string; timezone: string; probationDays: number };
  email: { from: string; outboxDir: string };
  logLevel: z.infer<typeof environmentSchema>['LOG_LEVEL'];
  port: number;
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

/**
 * Parse the configuration from an environment. Throws `config.invalid` listing every problem at once.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = environmentSchema.safeParse(env);
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
