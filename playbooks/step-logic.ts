import type { ProposedAction } from '../core/domain.ts';
import { addDays, localDateOf, parseLocalTime, zonedInstant } from '../core/local-time.ts';
import type { MemoryStore } from '../memory/memory-store.ts';
import {
  asList,
  type ExpressionScope,
  evaluate,
  type ForEachBinding,
  isTruthy,
  renderTemplate,
  resolveValue,
} from './expressions.ts';
import { durationMs, type PlaybookStep } from './playbook-format.ts';

/**
 * What each step kind computes, shared by the compiled graph (live runs) and shadow mode, so a
 * simulation evaluates exactly what a run would. Nothing here has a side-effect: actions come out
 * as proposals that the caller guards (live) or records as simulated (shadow).
 */

type StepOf<K extends string> = Extract<PlaybookStep, Record<K, unknown>>;

export interface StepContext {
  operatorId: number;
  /** The run's goal (live runs); shadow runs have none. */
  goalId: number | null;
  playbookName: string;
  memory: MemoryStore;
  now: Date;
  timezone: string;
  /** With a model configured: write a draft from a prompt. */
  draftWithModel?: ((prompt: string) => Promise<string>) | undefined;
}

/** The items of a forEach (or one pass without a binding). */
async function passes(
  step: { forEach?: string | undefined },
  scope: ExpressionScope,
): Promise<Array<ForEachBinding | undefined>> {
  if (!step.forEach) return [undefined];
  return asList(await evaluate(step.forEach, scope)).map((item, index) => ({ item, index }));
}

/** `recall`: memories matching the query, as a list and as cited text for templates. */
export async function runRecall(step: StepOf<'recall'>, scope: ExpressionScope, context: StepContext) {
  const query = await renderTemplate(step.recall.query, scope);
  const found = await context.memory.recall(query, {
    operatorId: context.operatorId,
    limit: step.recall.limit ?? 10,
    now: context.now,
    ...(step.recall.kinds ? { kinds: step.recall.kinds } : {}),
    ...(step.recall.since ? { since: new Date(context.now.getTime() - durationMs(step.recall.since)) } : {}),
  });
  const memories = found.map((memory) => ({
    id: memory.id,
    kind: memory.kind,
    text: memory.snippet,
    source: memory.source,
    at: memory.occurredAt,
  }));
  return { memories, count: memories.length, text: memories.map((memory) => `• ${memory.text}`).join('\n') };
}

/** `draft`: the prompt through the model when there is one, else the template; one per forEach item. */
export async function runDraft(step: StepOf<'draft'>, scope: ExpressionScope, context: StepContext) {
  const drafts: string[] = [];
  for (const each of await passes(step, scope)) {
    if (step.draft.prompt && context.draftWithModel) {
      drafts.push(await context.draftWithModel(await renderTemplate(step.draft.prompt, scope, each)));
    } else {
      // Without a model the template is the draft (the schema requires one of the two).
      drafts.push(await renderTemplate(step.draft.template ?? step.draft.prompt ?? '', scope, each));
    }
  }
  return step.forEach ? drafts : (drafts[0] ?? '');
}

/** `when`: the guard's value and what a false one skips (named steps, or every later one). */
export async function runWhen(
  step: StepOf<'when'>,
  scope: ExpressionScope,
): Promise<{ passed: boolean; skip: string[] | 'rest' }> {
  const passed = isTruthy(await evaluate(step.when, scope));
  return { passed, skip: passed ? [] : (step.skip ?? 'rest') };
}

/** `action`: the proposals (one per forEach item), parameters resolved from the scope. */
export async function actionProposals(
  step: StepOf<'action'>,
  scope: ExpressionScope,
  context: StepContext,
): Promise<ProposedAction[]> {
  const proposals: ProposedAction[] = [];
  for (const each of await passes(step, scope)) {
    const params = (await resolveValue(step.action.params, scope, each)) as Record<string, unknown>;
    proposals.push({
      connector: step.action.connector,
      operation: step.action.operation,
      params: withConnectorDefaults(step.action.connector, params, context),
      why: step.action.why
        ? await renderTemplate(step.action.why, scope, each)
        : `step “${step.id}” of the playbook ${context.playbookName}`,
    });
  }
  return proposals;
}

/** Spine's memory connector needs to know whose memory and from where: the run supplies it. */
function withConnectorDefaults(connector: string, params: Record<string, unknown>, context: StepContext) {
  if (connector !== 'memory') return params;
  return {
    operatorId: context.operatorId,
    ...(context.goalId === null ? {} : { goalId: context.goalId }),
    source: 'system',
    assertedBy: `playbook:${context.playbookName}`,
    ...params,
  };
}

/** `checkpoint`: the question and what to show with it. */
export async function checkpointContent(step: StepOf<'checkpoint'>, scope: ExpressionScope) {
  const message = await renderTemplate(step.checkpoint.message, scope);
  const shown = step.checkpoint.show ? await evaluate(step.checkpoint.show, scope) : undefined;
  return { message, shown: shown === undefined ? [] : asList(shown).map(asDisplay) };
}

function asDisplay(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

/** `wait`: when the run may continue (`for: 2h` from now; `until: "09:00"`, the next 09:00 local). */
export function wakeAt(step: StepOf<'wait'>, now: Date, timezone: string): Date {
  if ('for' in step.wait) return new Date(now.getTime() + durationMs(step.wait.for));
  const time = parseLocalTime(step.wait.until) ?? { hour: 9, minute: 0 };
  const today = localDateOf(now, timezone);
  const at = zonedInstant(today, time, timezone);
  return at.getTime() > now.getTime() ? at : zonedInstant(addDays(today, 1), time, timezone);
}
