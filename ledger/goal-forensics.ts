import type { BaseCheckpointSaver, CheckpointTuple } from '@langchain/langgraph';
import type { Action, Approval, Goal } from '../core/domain.ts';
import { SpineError } from '../core/errors.ts';
import { channelLabel, formatEventTime } from '../core/narrative.ts';
import type { Queryable } from '../db/database.ts';
import { toAction } from '../db/repositories/actions.ts';
import { toApproval } from '../db/repositories/approvals.ts';
import { toGoal } from '../db/repositories/goals.ts';
import type { NewLlmUsage } from '../db/repositories/llm-usage.ts';
import { readForensicsSummary } from '../db/repositories/retention.ts';
import { toDate } from '../db/repositories/rows.ts';

/** A memory the goal read, as a pointer (never the whole document). */
export interface MemoryReference {
  id: number;
  kind: string;
  /** The first words of the memory, for recognition. */
  snippet: string;
  source: string | null;
}

/** One language-model call made for the goal (table `llm_usage`). */
export type ModelCall = Pick<
  NewLlmUsage,
  'at' | 'purpose' | 'model' | 'inputTokens' | 'outputTokens' | 'costUsd' | 'cached'
>;

/** One node run of the goal graph, from one checkpoint to the next. */
export interface ForensicStep {
  /** LangGraph's step number (0 is the first node). */
  step: number;
  node: string;
  /** When the step started (the checkpoint it ran from). */
  at: Date;
  /** What the node read, summarised: the message, memory pointers, the plan, action ids. */
  inputs: string[];
  memories: MemoryReference[];
  /** What the node wrote, summarised per state field. */
  outputs: Array<{ field: string; summary: string }>;
  /** Set when the node paused for the operator (LangGraph interrupt) and, if so, how it resumed. */
  interrupted: { waitingFor: string; resumedWith: string | null } | null;
  /** Set when the node threw. */
  error: string | null;
  /** Model calls made while this step ran. */
  modelCalls: ModelCall[];
}

/** An approval of one of the goal's actions: who decided, when, via which channel. */
export type ForensicApproval = Pick<
  Approval,
  'id' | 'actionId' | 'status' | 'decidedBy' | 'decidedVia' | 'decidedAt' | 'createdAt'
>;

export interface ForensicAction {
  id: number;
  connector: string;
  operation: string;
  risk: string;
  doing: string;
  status: string;
  attempts: number;
  executedAt: Date | null;
  /** The connector's result, summarised. */
  result: string | null;
  error: string | null;
  undoOf: number | null;
}

/** A goal step by step: the typed form the CLI, chat and a web console render. */
export interface GoalForensics {
  goal: Pick<Goal, 'id' | 'text' | 'status' | 'channel' | 'requestedBy' | 'createdAt' | 'updatedAt'>;
  steps: ForensicStep[];
  approvals: ForensicApproval[];
  actions: ForensicAction[];
  modelCalls: ModelCall[];
  totalCostUsd: number;
  /** Checkpoints of the graph run; 0 when the goal never started. */
  checkpoints: number;
  /**
   * Set when the checkpoints were pruned (retention): the steps are the summary kept then;
   * `redacted` when its texts were removed since (a memory it read expired or was forgotten).
   */
  pruned?: { at: Date; redacted: boolean } | undefined;
}

export interface ForensicsDeps {
  db: Queryable;
  /** The goal graph's checkpointer (thread id = goal id). */
  checkpointer: BaseCheckpointSaver;
}

const BRANCH_PREFIX = 'branch:to:';
const KNOWN_NODES = new Set([
  'retrieve',
  'plan',
  'guard',
  'requestApproval',
  'awaitApproval',
  'execute',
  'report',
  'remember',
]);
const SUMMARY_LENGTH = 140;

/**
 * Read a goal's story from its checkpoints and the tables around it. Throws `ledger.goal_not_found`
 * when there is no such goal of this operator.
 */
export async function goalForensics(
  deps: ForensicsDeps,
  operatorId: number,
  goalId: number,
): Promise<GoalForensics> {
  const goalRow = (
    await deps.db.query('SELECT * FROM goals WHERE id = $1 AND operator_id = $2', [goalId, operatorId])
  ).rows[0];
  if (!goalRow)
    throw new SpineError(
      'ledger.goal_not_found',
      `There is no goal #${goalId}. Say \`log\` to see recent goals.`,
      {
        category: 'user',
        details: { goalId },
      },
    );
  const goal = toGoal(goalRow);
  const tuples: CheckpointTuple[] = [];
  for await (const tuple of deps.checkpointer.list({ configurable: { thread_id: String(goalId) } }))
    tuples.push(tuple);
  // `list` is newest first; the story is told oldest first.
  tuples.sort(
    (a, b) =>
      (a.metadata?.step ?? 0) - (b.metadata?.step ?? 0) || a.checkpoint.ts.localeCompare(b.checkpoint.ts),
  );

  const modelCalls = (
    await deps.db.query('SELECT * FROM llm_usage WHERE goal_id = $1 ORDER BY at, id', [goalId])
  ).rows.map(toModelCall);
  let steps = stepsOf(tuples, modelCalls);
  let checkpoints = tuples.length;
  let pruned: GoalForensics['pruned'];
  // Retention prunes a finished goal's checkpoints and keeps what they told (jobs/retention.ts).
  const kept = tuples.length === 0 ? await readForensicsSummary(deps.db, goalId) : null;
  if (kept) {
    steps = (kept.steps as ForensicStep[]).map(revivedStep);
    checkpoints = kept.checkpoints;
    pruned = { at: kept.prunedAt, redacted: kept.redacted };
  }
  const actions = (
    await deps.db.query('SELECT * FROM actions WHERE goal_id = $1 ORDER BY id', [goalId])
  ).rows.map((row) => toForensicAction(toAction(row), Number(row.attempts ?? 0)));
  const approvals = (
    await deps.db.query('SELECT * FROM approvals WHERE goal_id = $1 ORDER BY id', [goalId])
  ).rows.map((row) => {
    const { id, actionId, status, decidedBy, decidedVia, decidedAt, createdAt } = toApproval(row);
    return { id, actionId, status, decidedBy, decidedVia, decidedAt, createdAt };
  });
  return {
    goal: {
      id: goal.id,
      text: goal.text,
      status: goal.status,
      channel: goal.channel,
      requestedBy: goal.requestedBy,
      createdAt: goal.createdAt,
      updatedAt: goal.updatedAt,
    },
    steps,
    approvals,
    actions,
    modelCalls,
    totalCostUsd: modelCalls.reduce((sum, call) => sum + call.costUsd, 0),
    checkpoints,
    ...(pruned ? { pruned } : {}),
  };
}

/** A stored step read back: its dates were ISO strings in JSON. */
function revivedStep(step: ForensicStep): ForensicStep {
  return {
    ...step,
    at: new Date(step.at),
    modelCalls: (step.modelCalls ?? []).map((call) => ({ ...call, at: new Date(call.at) })),
  };
}

const REMOVED = '[removed: it may quote a memory that expired or was forgotten]';
// Inputs made only of ids, counts and statuses (see inputsOf); the others may quote a memory.
const PLAIN_INPUT = /^(message “|actions |\d+ memory pointers$|\d+ approval\(s\) undecided$|outcomes: )/;
const PLAIN_OUTPUTS = new Set([
  'memories',
  'actionIds',
  'pendingApprovals',
  'outcomes',
  'goalId',
  'operatorId',
]);

/**
 * Steps without any text a memory could have been copied into: memory snippets, the plan's answer,
 * the reply, other fields' values, errors. What stays: nodes, times, the operator's message (the
 * goal's own text), memory ids, action and approval ids, statuses, model calls.
 */
export function redactForensicSteps(steps: ForensicStep[]): ForensicStep[] {
  return steps.map((step) => ({
    ...step,
    inputs: step.inputs.map((input) =>
      PLAIN_INPUT.test(input) ? input : `${input.split(':')[0]?.slice(0, 40) ?? 'input'}: ${REMOVED}`,
    ),
    memories: step.memories.map((memory) => ({ ...memory, snippet: '' })),
    outputs: step.outputs.map((output) =>
      PLAIN_OUTPUTS.has(output.field) ? output : { field: output.field, summary: REMOVED },
    ),
    interrupted: step.interrupted && {
      waitingFor: /^approval #[\d, #]+$/.test(step.interrupted.waitingFor)
        ? step.interrupted.waitingFor
        : REMOVED,
      // A decision resumes with the approval's id only; anything else may carry text.
      resumedWith:
        step.interrupted.resumedWith === null || /^\{"approvalId":\d+\}$/.test(step.interrupted.resumedWith)
          ? step.interrupted.resumedWith
          : REMOVED,
    },
    error: step.error === null ? null : REMOVED,
  }));
}

/**
 * Each checkpoint names the nodes it triggers (`branch:to:<node>` channels) and holds their writes
 * as pending writes, so one checkpoint with its writes is one step, even when the node paused.
 * The goal graph runs one node per step; were two to run in parallel, each would be shown with
 * the writes of both (a write names its task id, not its node).
 */
function stepsOf(tuples: CheckpointTuple[], modelCalls: ModelCall[]): ForensicStep[] {
  const steps: ForensicStep[] = [];
  tuples.forEach((tuple, index) => {
    const step = tuple.metadata?.step ?? -1;
    if (step < 0) return;
    const state = tuple.checkpoint.channel_values as Record<string, unknown>;
    const nodes = Object.keys(state)
      .filter((channel) => channel.startsWith(BRANCH_PREFIX))
      .map((channel) => channel.slice(BRANCH_PREFIX.length));
    const at = new Date(tuple.checkpoint.ts);
    const next = tuples[index + 1];
    const until = next ? new Date(next.checkpoint.ts) : null;
    const writes = tuple.pendingWrites ?? [];
    for (const node of nodes) {
      const outputs: ForensicStep['outputs'] = [];
      let interrupt: unknown;
      let resume: unknown;
      let error: string | null = null;
      for (const [, channel, value] of writes) {
        if (channel === '__interrupt__') interrupt = value;
        else if (channel === '__resume__') resume = value;
        else if (channel === '__error__') error = summarise(value);
        else if (!channel.startsWith(BRANCH_PREFIX) && !channel.startsWith('__'))
          outputs.push({ field: channel, summary: summariseField(channel, value) });
      }
      steps.push({
        step,
        node,
        at,
        inputs: inputsOf(node, state),
        // The planner is the node that reads memory; the other nodes carry the pointers along.
        memories: node === 'plan' || !KNOWN_NODES.has(node) ? memoryPointers(state.memories) : [],
        outputs,
        interrupted:
          interrupt === undefined
            ? null
            : {
                waitingFor: summariseInterrupt(interrupt),
                resumedWith: resume === undefined ? null : summarise(resume),
              },
        error,
        modelCalls: modelCalls.filter(
          (call) =>
            call.at.getTime() >= at.getTime() && (until === null || call.at.getTime() < until.getTime()),
        ),
      });
    }
  });
  return steps;
}

/** What a node of the goal graph reads, in a reader's words; unknown nodes show the state's fields. */
function inputsOf(node: string, state: Record<string, unknown>): string[] {
  const actionIds = Array.isArray(state.actionIds) ? state.actionIds.map((id) => `#${id}`).join(', ') : '';
  switch (node) {
    case 'retrieve':
      return [`message “${truncate(String(state.text ?? ''))}”`];
    case 'plan':
      return [
        `message “${truncate(String(state.text ?? ''))}”`,
        `${memoryPointers(state.memories).length} memory pointers`,
      ];
    case 'guard':
      return [`plan: ${summariseField('planned', state.planned)}`];
    case 'requestApproval':
    case 'execute':
      return [`actions ${actionIds || 'none'}`];
    case 'awaitApproval':
      return [`${Number(state.pendingApprovals ?? 0)} approval(s) undecided`];
    case 'report':
      return [`outcomes: ${summariseField('outcomes', state.outcomes)}`];
    case 'remember':
      return [`reply: ${summariseField('reply', state.reply)}`];
    default:
      return Object.keys(state)
        .filter((key) => !key.startsWith(BRANCH_PREFIX) && !key.startsWith('__'))
        .map((key) => `${key}: ${summariseField(key, state[key])}`);
  }
}

function memoryPointers(value: unknown): MemoryReference[] {
  if (!Array.isArray(value)) return [];
  return value.map((item) => {
    const memory = item as Record<string, unknown>;
    return {
      id: Number(memory.id),
      kind: String(memory.kind ?? 'memory'),
      snippet: truncate(String(memory.snippet ?? ''), 80),
      source: memory.source === undefined || memory.source === null ? null : String(memory.source),
    };
  });
}

/** A state field's value in one line: pointers for memories, connector.operation for plans. */
function summariseField(field: string, value: unknown): string {
  if (field === 'memories') {
    const pointers = memoryPointers(value);
    return pointers.length === 0
      ? 'no memories'
      : pointers.map((memory) => `memory #${memory.id}`).join(', ');
  }
  if (field === 'planned' && value && typeof value === 'object') {
    const plan = value as { answer?: unknown; actions?: Array<{ connector?: string; operation?: string }> };
    const actions = (plan.actions ?? []).map((action) => `${action.connector}.${action.operation}`);
    const parts = [];
    if (plan.answer) parts.push(`answer “${truncate(String(plan.answer), 80)}”`);
    parts.push(actions.length === 0 ? 'no actions' : `actions ${actions.join(', ')}`);
    return parts.join('; ');
  }
  if (field === 'outcomes' && Array.isArray(value))
    return value.length === 0
      ? 'none'
      : value.map((outcome) => `#${outcome.actionId} ${outcome.status}`).join(', ');
  return summarise(value);
}

function summariseInterrupt(value: unknown): string {
  const first = Array.isArray(value) ? (value[0] as { value?: unknown } | undefined)?.value : value;
  const approvalIds = (first as { approvalIds?: unknown } | undefined)?.approvalIds;
  if (Array.isArray(approvalIds)) return `approval ${approvalIds.map((id) => `#${id}`).join(', ')}`;
  return summarise(first);
}

function summarise(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return `“${truncate(value)}”`;
  if (Array.isArray(value) && value.length > 3) return `${value.length} items`;
  if (value instanceof Error) return truncate(value.message);
  return truncate(JSON.stringify(value) ?? String(value));
}

function truncate(text: string, length = SUMMARY_LENGTH): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= length ? flat : `${flat.slice(0, length - 1)}…`;
}

function toModelCall(row: Record<string, unknown>): ModelCall {
  return {
    at: toDate(row.at),
    purpose: String(row.purpose),
    model: String(row.model),
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    costUsd: Number(row.cost_usd),
    cached: Boolean(row.cached),
  };
}

function toForensicAction(action: Action, attempts: number): ForensicAction {
  return {
    id: action.id,
    connector: action.connector,
    operation: action.operation,
    risk: action.risk,
    doing: action.preview.doing,
    status: action.status,
    attempts,
    executedAt: action.executedAt,
    result: action.result === null ? null : summarise(action.result),
    error: action.error ? `${action.error.code}: ${action.error.message}` : null,
    undoOf: action.undoOf ?? null,
  };
}

/** Who decided: only the operator's own chat accounts may decide, so it is "you" and the account. */
function decider(decidedBy: string | null): string {
  return decidedBy === null ? 'you' : `you (${decidedBy})`;
}

/** The forensics as plain text for the CLI and chat. */
export function renderGoalForensics(forensics: GoalForensics, timezone: string): string {
  const time = (at: Date) => formatEventTime(at, timezone, true);
  const { goal } = forensics;
  const lines = [
    `Goal #${goal.id} (${goal.status}): “${truncate(goal.text)}”`,
    `  asked ${time(goal.createdAt)} via ${channelLabel(goal.channel)} by ${goal.requestedBy}`,
  ];
  if (forensics.pruned)
    lines.push(
      `Its checkpoints were pruned ${time(forensics.pruned.at)} (retention); the steps are the summary kept then` +
        `${forensics.pruned.redacted ? ', with texts removed because a memory it read expired or was forgotten' : ''}.`,
    );
  if (forensics.steps.length === 0) lines.push('No graph steps were recorded for this goal.');
  else lines.push('', 'Steps:');
  for (const step of forensics.steps) {
    lines.push(`${step.step}. ${step.node} — ${time(step.at)}`);
    for (const input of step.inputs) lines.push(`   in:  ${input}`);
    for (const memory of step.memories)
      lines.push(
        `   memory #${memory.id} (${memory.kind}${memory.source ? `, from ${memory.source}` : ''})${memory.snippet ? `: “${memory.snippet}”` : ''}`,
      );
    for (const output of step.outputs) lines.push(`   out: ${output.field} = ${output.summary}`);
    if (step.interrupted)
      lines.push(
        `   paused for ${step.interrupted.waitingFor}${step.interrupted.resumedWith ? `; resumed with ${step.interrupted.resumedWith}` : ''}`,
      );
    if (step.error) lines.push(`   error: ${step.error}`);
    for (const call of step.modelCalls) lines.push(`   model: ${describeCall(call)}`);
  }
  if (forensics.approvals.length > 0) lines.push('', 'Approvals:');
  for (const approval of forensics.approvals) {
    const decided =
      approval.status === 'pending'
        ? 'still waiting'
        : `${approval.status} by ${decider(approval.decidedBy)}${approval.decidedVia ? ` via ${channelLabel(approval.decidedVia)}` : ''}${approval.decidedAt ? ` at ${time(approval.decidedAt)}` : ''}`;
    lines.push(
      `• approval #${approval.id} for action #${approval.actionId}: ${decided} (asked ${time(approval.createdAt)})`,
    );
  }
  if (forensics.actions.length > 0) lines.push('', 'Connector calls:');
  for (const action of forensics.actions) {
    const outcome = action.error ?? action.result ?? 'no result';
    lines.push(
      `• action #${action.id} ${action.connector}.${action.operation} (${action.risk}): ${action.doing} — ${action.status}` +
        `${action.executedAt ? ` at ${time(action.executedAt)}` : ''}${action.undoOf ? `, undoing action #${action.undoOf}` : ''}`,
      `  result: ${outcome}`,
    );
  }
  lines.push(
    '',
    forensics.modelCalls.length === 0
      ? 'Model calls: none (offline rules).'
      : `Model calls: ${forensics.modelCalls.length}, cost $${forensics.totalCostUsd.toFixed(4)}`,
  );
  return lines.join('\n');
}

function describeCall(call: ModelCall): string {
  return `${call.purpose} on ${call.model}, ${call.inputTokens}+${call.outputTokens} tokens, $${call.costUsd.toFixed(4)}${call.cached ? ' (cached)' : ''}`;
}

/** The `goal <id>` answer in chat: the rendered forensics, or what to do when there is no such goal. */
export async function answerGoalCommand(
  deps: ForensicsDeps,
  operator: { id: number; timezone: string },
  goalId: number,
): Promise<string> {
  try {
    return renderGoalForensics(await goalForensics(deps, operator.id, goalId), operator.timezone);
  } catch (error) {
    if (error instanceof SpineError && error.code === 'ledger.goal_not_found') return error.message;
    throw error;
  }
}
