import { existsSync, readFileSync } from 'node:fs';
import { isMap, isNode, isScalar, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import type { GuardrailSettings } from '../connectors/guardrails.ts';
import type { ResilienceOptions } from '../connectors/resilience.ts';
import { RISK_CLASSES } from '../core/domain.ts';
import { SpineError } from '../core/errors.ts';
import { type ApprovalExpiry, DEFAULT_APPROVAL_EXPIRY } from '../core/policy.ts';
import {
  type AlertRules,
  alertRulesFrom,
  alertsSectionSchema,
  DEFAULT_ALERT_RULES,
  metricsSectionSchema,
} from '../ledger/alerts-config.ts';
import {
  DEFAULT_RETENTION,
  type RetentionSettings,
  retentionSectionSchema,
  retentionSettingsFrom,
} from './retention-config.ts';

const risk = z.enum(RISK_CLASSES as unknown as ['read', 'write', 'money', 'legal', 'destructive']);
const name = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,39}$/, 'must be lower-case letters, digits, - and _ (max 40)');
const httpUrl = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' });
const headers = z.record(z.string(), z.string()).default({});

/** "90m", "1h", "2d": how long a pending approval lasts (at least a minute, at most 30 days). */
const expiryDuration = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(m|min|h|d)$/, 'must be a duration such as "90m", "1h" or "2d"')
  .transform((text) => {
    const [, amount, unit] = /^(\d+(?:\.\d+)?)\s*(m|min|h|d)$/.exec(text) ?? [];
    const unitMs = unit === 'd' ? 86_400_000 : unit === 'h' ? 3_600_000 : 60_000;
    return Math.round(Number(amount) * unitMs);
  })
  .refine((ms) => ms >= 60_000 && ms <= 30 * 86_400_000, 'must be between 1 minute and 30 days');

/**
 * `guardrails.approvalExpiry`: `default` for the risk classes not listed; money keeps its own
 * 1 h unless `money:` is set (a wider `default` must not stretch how long a payment card lives).
 */
const approvalExpirySchema = z
  .object({
    default: expiryDuration.optional(),
    read: expiryDuration.optional(),
    write: expiryDuration.optional(),
    money: expiryDuration.optional(),
    legal: expiryDuration.optional(),
    destructive: expiryDuration.optional(),
  })
  .strict();

const request = z.object({
  url: httpUrl,
  method: z.enum(['POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
  headers,
});

const fileSchema = z
  .object({
    email: z
      .object({
        from: z.string().min(3).optional(),
        transport: z.enum(['file', 'smtp']).default('file'),
        smtp: z
          .object({
            host: z.string().min(1),
            port: z.number().int().min(1).max(65_535).default(587),
            secure: z.boolean().default(false),
            user: z.string().optional(),
            password: z.string().optional(),
            requireTls: z.boolean().default(false),
            allowSelfSigned: z.boolean().default(false),
          })
          .strict()
          .optional(),
      })
      .strict()
      .refine((email) => email.transport !== 'smtp' || email.smtp, {
        message: 'transport: smtp needs an smtp: section (host, port, user, password)',
        path: ['smtp'],
      })
      .optional(),
    calendar: z
      .object({
        url: httpUrl,
        username: z.string().min(1),
        password: z.string(),
        calendar: z.string().optional(),
      })
      .strict()
      .optional(),
    webhooks: z
      .record(
        name,
        z
          .object({
            url: httpUrl,
            method: z.enum(['POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
            headers,
            secret: z
              .string()
              .min(16, 'must be at least 16 characters (reference an environment variable, e.g. CRM_SECRET)'),
            risk: risk.default('write'),
            description: z.string().default('Call a webhook'),
            /**
             * The receiver dedupes on the Idempotency-Key header Spine always sends: a call whose
             * answer was lost can be repeated. Without it, a lost answer makes the outcome unknown.
             */
            idempotent: z.boolean().default(false),
            undo: request.optional(),
          })
          .strict(),
      )
      .default({}),
    mcp: z
      .record(
        name,
        z.union([
          z
            .object({
              command: z.string().min(1),
              args: z.array(z.string()).default([]),
              env: z.record(z.string(), z.string()).default({}),
              cwd: z.string().optional(),
              risk: z.record(z.string(), risk).default({}),
              // Trust the server's readOnlyHint annotations (otherwise its tools count as writes).
              trusted: z.boolean().default(false),
            })
            .strict(),
          z
            .object({
              url: httpUrl,
              headers,
              risk: z.record(z.string(), risk).default({}),
              trusted: z.boolean().default(false),
            })
            .strict(),
        ]),
      )
      .default({}),
    guardrails: z
      .object({
        trustAfter: z.number().int().min(1).max(100).default(5),
        undoWindowMinutes: z.number().min(0).max(10_080).default(60),
        limits: z
          .record(
            z.string(),
            z
              .object({
                dailyCount: z.number().int().min(0).optional(),
                dailyAmount: z.number().min(0).optional(),
              })
              .strict(),
          )
          .default({}),
        approvalExpiry: approvalExpirySchema.default({}),
      })
      .strict()
      .default({ trustAfter: 5, undoWindowMinutes: 60, limits: {}, approvalExpiry: {} }),
    resilience: z
      .object({
        timeoutSeconds: z.number().positive().max(600).optional(),
        maxAttempts: z.number().int().min(1).max(10).optional(),
        breakerThreshold: z.number().int().min(1).max(100).optional(),
        halfOpenAfterSeconds: z.number().positive().max(3600).optional(),
        /**
         * How long an execution's claim on an action holds without renewal: an action whose
         * executor died is settled within about twice this. Renewed every third of it.
         */
        leaseSeconds: z.number().min(0.3).max(300).optional(),
      })
      .strict()
      .default({}),
    // Business metrics and alerts (README.md, "Business metrics and alerts").
    metrics: metricsSectionSchema,
    alerts: alertsSectionSchema,
    // How long dedupe rows, model usage and finished goals' checkpoints are kept (README.md, "Retention").
    retention: retentionSectionSchema,
  })
  .strict();

/** The connectors part of Spine's configuration, from spine.config.yaml (or the defaults). */
export interface ConnectorsConfig {
  /** The file read, or null when there is none (defaults: file e-mail transport). */
  source: string | null;
  email: {
    from: string | undefined;
    transport: 'file' | 'smtp';
    smtp?: {
      host: string;
      port: number;
      secure: boolean;
      user?: string | undefined;
      password?: string | undefined;
      requireTls: boolean;
      allowSelfSigned: boolean;
    };
  };
  calendar?: { url: string; username: string; password: string; calendar?: string | undefined };
  webhooks: Array<{
    name: string;
    url: string;
    method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
    headers: Record<string, string>;
    secret: string;
    risk: z.infer<typeof risk>;
    description: string;
    idempotent: boolean;
    undo?:
      | { url: string; method: 'POST' | 'PUT' | 'PATCH' | 'DELETE'; headers: Record<string, string> }
      | undefined;
  }>;
  mcp: Array<
    | {
        name: string;
        transport: 'stdio';
        command: string;
        args: string[];
        env: Record<string, string>;
        cwd?: string | undefined;
        risk: Record<string, z.infer<typeof risk>>;
        trusted: boolean;
      }
    | {
        name: string;
        transport: 'http';
        url: string;
        headers: Record<string, string>;
        risk: Record<string, z.infer<typeof risk>>;
        trusted: boolean;
      }
  >;
  guardrails: GuardrailSettings;
  /** How long a pending approval lasts per risk class (`guardrails.approvalExpiry`). */
  approvalExpiry: ApprovalExpiry;
  resilience: Partial<ResilienceOptions>;
  /** The claim lease of an action's execution (ConnectorRuntime's `leaseMs`); unset: a minute. */
  actionLeaseMs?: number | undefined;
  /** Manual minutes per `connector.operation` from the file (on top of the defaults). */
  metrics: { minutesSaved: Record<string, number> };
  alerts: AlertRules;
  /** Retention windows (`retention:`; app/retention-config.ts). */
  retention: RetentionSettings;
}

export const DEFAULT_CONNECTORS_CONFIG: ConnectorsConfig = {
  source: null,
  email: { from: undefined, transport: 'file' },
  webhooks: [],
  mcp: [],
  guardrails: { trustAfter: 5, undoWindowMs: 3_600_000, limits: {} },
  approvalExpiry: DEFAULT_APPROVAL_EXPIRY,
  resilience: {},
  metrics: { minutesSaved: {} },
  alerts: DEFAULT_ALERT_RULES,
  retention: DEFAULT_RETENTION,
};

const RESERVED = new Set(['memory', 'email', 'calendar', 'payments']);

/** Replace `${NAME}` with the environment's value; every missing name is reported with its place. */
function substitute(
  value: unknown,
  env: Record<string, string | undefined>,
  path: (string | number)[],
  missing: Array<{ path: (string | number)[]; variable: string }>,
): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (_match, variable: string) => {
      const found = env[variable];
      if (found === undefined || found === '') {
        missing.push({ path, variable });
        return '';
      }
      return found;
    });
  }
  if (Array.isArray(value))
    return value.map((item, index) => substitute(item, env, [...path, index], missing));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, substitute(inner, env, [...path, key], missing)]),
    );
  }
  return value;
}

/**
 * Read and validate the connectors file. Every problem is listed at once with its field and line
 * (`webhooks.crm.url (line 12): must be an http(s) URL`); secrets come from `${VARIABLE}`
 * references to the environment, so the file itself can be committed.
 */
export function loadConnectorsConfig(
  path: string,
  env: Record<string, string | undefined>,
  options: { required: boolean },
): ConnectorsConfig {
  if (!existsSync(path)) {
    if (options.required) {
      throw new SpineError('config.file_missing', `SPINE_CONFIG points at ${path}, which does not exist.`, {
        category: 'user',
      });
    }
    return DEFAULT_CONNECTORS_CONFIG;
  }
  const text = readFileSync(path, 'utf8');
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: true });
  const problems: string[] = [];
  for (const error of document.errors) {
    const at = error.linePos?.[0];
    problems.push(`line ${at?.line ?? '?'}: ${error.message.split('\n')[0]}`);
  }
  const lineOf = (fieldPath: (string | number)[]): string => {
    for (let length = fieldPath.length; length >= 0; length -= 1) {
      // Point at the key ("  email:") rather than its value, which may start on the next line.
      const parent = length > 0 ? document.getIn(fieldPath.slice(0, length - 1), true) : undefined;
      if (isMap(parent)) {
        const pair = parent.items.find(
          (item) => isScalar(item.key) && item.key.value === fieldPath[length - 1],
        );
        if (pair && isNode(pair.key) && pair.key.range)
          return ` (line ${lineCounter.linePos(pair.key.range[0]).line})`;
      }
      const node = document.getIn(fieldPath.slice(0, length), true);
      if (isNode(node) && node.range) return ` (line ${lineCounter.linePos(node.range[0]).line})`;
    }
    return '';
  };
  if (problems.length === 0) {
    const missing: Array<{ path: (string | number)[]; variable: string }> = [];
    const raw = substitute(document.toJS() ?? {}, env, [], missing);
    for (const entry of missing) {
      problems.push(
        `${entry.path.join('.')}${lineOf(entry.path)}: the environment variable ${entry.variable} is not set`,
      );
    }
    const parsed = fileSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const fieldPath = issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part));
        problems.push(`${fieldPath.join('.') || '(top level)'}${lineOf(fieldPath)}: ${issue.message}`);
      }
    }
    if (parsed.success && problems.length === 0) {
      const value = parsed.data;
      const names = [...Object.keys(value.webhooks), ...Object.keys(value.mcp)];
      for (const connectorName of names) {
        const section = connectorName in value.webhooks ? 'webhooks' : 'mcp';
        if (RESERVED.has(connectorName)) {
          problems.push(
            `${section}.${connectorName}${lineOf([section, connectorName])}: "${connectorName}" is a built-in connector's name; pick another`,
          );
        } else if (names.filter((other) => other === connectorName).length > 1) {
          problems.push(
            `${section}.${connectorName}${lineOf([section, connectorName])}: the name is used by both a webhook and an MCP server`,
          );
        }
      }
      if (problems.length === 0) return toConfig(path, value);
    }
  }
  throw new SpineError(
    'config.file_invalid',
    `Spine cannot start: ${path} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
      `${problems.map((problem) => `  - ${problem}`).join('\n')}\nSee README.md, "Connectors and guardrails" for the format.`,
    { category: 'user', details: { problems } },
  );
}

function toConfig(source: string, value: z.infer<typeof fileSchema>): ConnectorsConfig {
  const resilience: Partial<ResilienceOptions> = {};
  if (value.resilience.timeoutSeconds !== undefined)
    resilience.timeoutMs = value.resilience.timeoutSeconds * 1000;
  if (value.resilience.maxAttempts !== undefined) resilience.maxAttempts = value.resilience.maxAttempts;
  if (value.resilience.breakerThreshold !== undefined)
    resilience.breakerThreshold = value.resilience.breakerThreshold;
  if (value.resilience.halfOpenAfterSeconds !== undefined)
    resilience.halfOpenAfterMs = value.resilience.halfOpenAfterSeconds * 1000;
  return {
    source,
    email: {
      from: value.email?.from,
      transport: value.email?.transport ?? 'file',
      ...(value.email?.smtp ? { smtp: value.email.smtp } : {}),
    },
    ...(value.calendar ? { calendar: value.calendar } : {}),
    webhooks: Object.entries(value.webhooks).map(([webhookName, webhook]) => ({
      name: webhookName,
      ...webhook,
    })),
    mcp: Object.entries(value.mcp).map(([serverName, server]) =>
      'command' in server
        ? { name: serverName, transport: 'stdio' as const, ...server }
        : { name: serverName, transport: 'http' as const, ...server },
    ),
    guardrails: {
      trustAfter: value.guardrails.trustAfter,
      undoWindowMs: value.guardrails.undoWindowMinutes * 60_000,
      limits: value.guardrails.limits,
    },
    approvalExpiry: approvalExpiryFrom(value.guardrails.approvalExpiry),
    resilience,
    actionLeaseMs:
      value.resilience.leaseSeconds === undefined
        ? undefined
        : Math.round(value.resilience.leaseSeconds * 1000),
    metrics: value.metrics,
    alerts: alertRulesFrom(value.alerts),
    retention: retentionSettingsFrom(value.retention),
  };
}

function approvalExpiryFrom(value: z.infer<typeof approvalExpirySchema>): ApprovalExpiry {
  const fallback = (risk: keyof ApprovalExpiry) =>
    risk === 'money' ? DEFAULT_APPROVAL_EXPIRY.money : (value.default ?? DEFAULT_APPROVAL_EXPIRY[risk]);
  return {
    read: value.read ?? fallback('read'),
    write: value.write ?? fallback('write'),
    money: value.money ?? fallback('money'),
    legal: value.legal ?? fallback('legal'),
    destructive: value.destructive ?? fallback('destructive'),
  };
}
