import { existsSync, readFileSync } from 'node:fs';
import { isMap, isNode, isScalar, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import type { GuardrailSettings } from '../connectors/guardrails.ts';
import type { ResilienceOptions } from '../connectors/resilience.ts';
import { RISK_CLASSES } from '../core/domain.ts';
import { SpineError } from '../core/errors.ts';
import {
  type AlertRules,
  alertRulesFrom,
  alertsSectionSchema,
  DEFAULT_ALERT_RULES,
  metricsSectionSchema,
} from '../ledger/alerts-config.ts';

const risk = z.enum(RISK_CLASSES as unknown as ['read', 'write', 'money', 'legal', 'destructive']);
const name = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,39}$/, 'must be lower-case letters, digits, - and _ (max 40)');
const httpUrl = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' });
const headers = z.record(z.string(), z.string()).default({});

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
            })
            .strict(),
          z.object({ url: httpUrl, headers, risk: z.record(z.string(), risk).default({}) }).strict(),
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
      })
      .strict()
      .default({ trustAfter: 5, undoWindowMinutes: 60, limits: {} }),
    resilience: z
      .object({
        timeoutSeconds: z.number().positive().max(600).optional(),
        maxAttempts: z.number().int().min(1).max(10).optional(),
        breakerThreshold: z.number().int().min(1).max(100).optional(),
        halfOpenAfterSeconds: z.number().positive().max(3600).optional(),
      })
      .strict()
      .default({}),
    // Business metrics and alerts (README.md, "Business metrics and alerts").
    metrics: metricsSectionSchema,
    alerts: alertsSectionSchema,
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
      }
    | {
        name: string;
        transport: 'http';
        url: string;
        headers: Record<string, string>;
        risk: Record<string, z.infer<typeof risk>>;
      }
  >;
  guardrails: GuardrailSettings;
  resilience: Partial<ResilienceOptions>;
  /** Manual minutes per `connector.operation` from the file (on top of the defaults). */
  metrics: { minutesSaved: Record<string, number> };
  alerts: AlertRules;
}

export const DEFAULT_CONNECTORS_CONFIG: ConnectorsConfig = {
  source: null,
  email: { from: undefined, transport: 'file' },
  webhooks: [],
  mcp: [],
  guardrails: { trustAfter: 5, undoWindowMs: 3_600_000, limits: {} },
  resilience: {},
  metrics: { minutesSaved: {} },
  alerts: DEFAULT_ALERT_RULES,
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
    resilience,
    metrics: value.metrics,
    alerts: alertRulesFrom(value.alerts),
  };
}
