import jsonata from 'jsonata';
import { SpineError } from '../core/errors.ts';

/**
 * Playbook expressions: JSONata (a well-kept query language), never `eval`. Templates embed
 * expressions as `{{ expr }}`; a string that is exactly one `{{ expr }}` keeps the value's type
 * (a number, a list), so `params: { limit: "{{ inputs.limit }}" }` passes a number.
 */

/** What expressions see: `trigger`, `inputs`, `steps.<id>`, plus `$item` and `$index` in a forEach. */
export interface ExpressionScope {
  trigger: Record<string, unknown>;
  inputs: Record<string, unknown>;
  steps: Record<string, unknown>;
  /** The playbook's name and the run's start time (ISO), for templates. */
  playbook: { name: string; now: string };
}

export interface ForEachBinding {
  item: unknown;
  index: number;
}

const TEMPLATE = /\{\{\s*([\s\S]+?)\s*\}\}/g;
const WHOLE = /^\{\{\s*([\s\S]+?)\s*\}\}$/;

/**
 * Guardrails on every evaluation (JSONata's own, checked at each step): an expression that loops or
 * recurses without end fails the step with a clear error instead of holding a worker.
 */
export const EXPRESSION_LIMITS = {
  /** Longest an expression may run. */
  timeoutMs: 1_000,
  /** Deepest nesting of evaluation (non-tail recursion). */
  stack: 500,
  /** Largest sequence an expression may build (e.g. a range). */
  sequence: 100_000,
} as const;

/** JSONata's codes for a guardrail that stopped an expression. */
const GUARDRAIL_CODES = new Set(['D1011', 'D1012', 'D2014', 'D2015']);

const compiled = new Map<string, ReturnType<typeof jsonata>>();

function compile(expression: string): ReturnType<typeof jsonata> {
  let expr = compiled.get(expression);
  if (!expr) {
    try {
      expr = jsonata(expression, {
        timeout: EXPRESSION_LIMITS.timeoutMs,
        stack: EXPRESSION_LIMITS.stack,
        sequence: EXPRESSION_LIMITS.sequence,
      });
    } catch (error) {
      throw expressionError(expression, error);
    }
    if (compiled.size > 2000) compiled.clear();
    compiled.set(expression, expr);
  }
  return expr;
}

/** A syntax problem in an expression, in words; null when it compiles. */
export function expressionProblem(expression: string): string | null {
  try {
    jsonata(stripBraces(expression));
    return null;
  } catch (error) {
    return describeJsonataError(error);
  }
}

/** Every `{{ expr }}` inside a template string. */
export function templateExpressions(text: string): string[] {
  return [...text.matchAll(TEMPLATE)].map((match) => match[1] ?? '');
}

/** `{{ expr }}` → `expr`; a bare expression is returned as it is. */
export function stripBraces(expression: string): string {
  return WHOLE.exec(expression.trim())?.[1] ?? expression.trim();
}

/** Evaluate one JSONata expression (braces optional) over the scope. */
export async function evaluate(
  expression: string,
  scope: ExpressionScope,
  each?: ForEachBinding,
): Promise<unknown> {
  const source = stripBraces(expression);
  const bindings = each ? { item: each.item, index: each.index } : {};
  try {
    const value = await compile(source).evaluate({ ...scope, ...(each ?? {}) }, bindings);
    return normalise(value);
  } catch (error) {
    throw expressionError(source, error);
  }
}

/** Render a template: each `{{ expr }}` replaced by its value as text. */
export async function renderTemplate(
  text: string,
  scope: ExpressionScope,
  each?: ForEachBinding,
): Promise<string> {
  const parts: string[] = [];
  let last = 0;
  for (const match of text.matchAll(TEMPLATE)) {
    parts.push(text.slice(last, match.index));
    parts.push(asText(await evaluate(match[1] ?? '', scope, each)));
    last = (match.index ?? 0) + match[0].length;
  }
  parts.push(text.slice(last));
  return parts.join('');
}

/**
 * Resolve parameters: strings are templates (a whole-string `{{ expr }}` keeps its type), lists and
 * objects are resolved inside, anything else is kept.
 */
export async function resolveValue(
  value: unknown,
  scope: ExpressionScope,
  each?: ForEachBinding,
): Promise<unknown> {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value.trim());
    if (whole && templateExpressions(value).length === 1) return evaluate(whole[1] ?? '', scope, each);
    return value.includes('{{') ? renderTemplate(value, scope, each) : value;
  }
  if (Array.isArray(value)) return Promise.all(value.map((inner) => resolveValue(inner, scope, each)));
  if (value && typeof value === 'object') {
    const entries = await Promise.all(
      Object.entries(value as Record<string, unknown>).map(
        async ([key, inner]) => [key, await resolveValue(inner, scope, each)] as const,
      ),
    );
    return Object.fromEntries(entries.filter(([, inner]) => inner !== undefined));
  }
  return value;
}

/** JSONata's truthiness is JavaScript's, except that an empty list is false. */
export function isTruthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return Boolean(value);
}

/** A forEach's value as a list: a single value is a list of one, nothing is an empty list. */
export function asList(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function asText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** JSONata returns sequences with extra markers; plain JSON values are what steps store. */
function normalise(value: unknown): unknown {
  if (value === undefined) return undefined;
  return JSON.parse(JSON.stringify(value)) as unknown;
}

function describeJsonataError(error: unknown): string {
  const detail = error as { message?: string; position?: number };
  const where = typeof detail.position === 'number' ? ` (at character ${detail.position})` : '';
  return `${detail.message ?? String(error)}${where}`;
}

function expressionError(expression: string, error: unknown): SpineError {
  const code = (error as { code?: unknown }).code;
  const stopped = typeof code === 'string' && GUARDRAIL_CODES.has(code);
  const advice = stopped
    ? `Expressions may run for ${EXPRESSION_LIMITS.timeoutMs / 1000} s, nest ${EXPRESSION_LIMITS.stack} deep and build ${EXPRESSION_LIMITS.sequence.toLocaleString('en')} items: simplify it (a loop or recursion that never ends?)`
    : 'Check its spelling and the step ids it refers to';
  return new SpineError(
    'playbook.expression_failed',
    `The expression “${expression}” failed: ${describeJsonataError(error)}. ${advice}.`,
    { category: 'user', details: { expression, ...(typeof code === 'string' ? { code } : {}) } },
  );
}
