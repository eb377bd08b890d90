import { z } from 'zod';
import type { Connector, Operation } from '../../connectors/connector.ts';
import type { ProposedAction } from '../../core/domain.ts';
import type { MemoryStore } from '../../memory/memory-store.ts';
import type { PlanContext } from './offline-planner.ts';
import { isExternalMemory, quoteMemory, quoteToolResult } from './untrusted-content.ts';

/** A tool as the model sees it (the OpenAI function format; the Anthropic client converts it). */
export interface ToolDefinition {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

/** A tool whose call becomes a proposed action for the policy guard; it never runs during planning. */
export interface ProposingTool {
  kind: 'propose';
  definition: ToolDefinition;
  schema: z.ZodType;
  propose(args: Record<string, unknown>, context: PlanContext, why: string): ProposedAction;
}

/** What a read-only tool returns: quoted text, and whether it carries content from outside the operator. */
export interface ToolResult {
  content: string;
  untrusted: boolean;
}

/** A read-only tool that runs during planning; its result goes back to the model as quoted data. */
export interface ReadingTool {
  kind: 'read';
  definition: ToolDefinition;
  schema: z.ZodType;
  /**
   * Set for a read of a service outside Spine: after outside content entered the goal it does not
   * run during planning but is proposed (`propose`), and the operator approves it like a write.
   */
  external?: {
    propose(args: Record<string, unknown>, why: string): ProposedAction;
  };
  read(args: Record<string, unknown>, context: PlanContext): Promise<ToolResult>;
}

/**
 * Runs an external read during planning through the connector runtime, as an action of the goal
 * (graphs/agents/planning-reads.ts): never `operation.execute` directly.
 */
export type PlanningReader = (proposal: ProposedAction, context: PlanContext) => Promise<unknown>;

export type PlannerTool = ProposingTool | ReadingTool;

/** The longest tool result handed back to the model. */
const MAX_RESULT_CHARS = 6_000;
const RECALL_LIMIT = 5;

/** Tool names allowed by every provider: letters, digits, `_` and `-`, at most 64. */
export function toolName(connector: string, operation: string): string {
  return `${connector}__${operation}`.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
}

function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const { $schema: _ignored, ...rest } = json;
  return rest;
}

function definition(
  name: string,
  description: string,
  schema: z.ZodType,
  options: { withWhy?: boolean } = {},
): ToolDefinition {
  const parameters = jsonSchemaOf(schema);
  const properties = parameters.properties as Record<string, unknown> | undefined;
  if (options.withWhy && properties && !('why' in properties)) {
    parameters.properties = {
      ...properties,
      why: { type: 'string', description: 'one short sentence: why this step serves the request' },
    };
  }
  return { type: 'function', function: { name, description, parameters } };
}

/** A `why` the model may give with any proposing call; shown on the card as the reason. */
const whyField = z.string().trim().max(300).optional();

function truncate(text: string): string {
  return text.length <= MAX_RESULT_CHARS ? text : `${text.slice(0, MAX_RESULT_CHARS)}… [truncated]`;
}

function connectorTool(connector: Connector, operation: Operation, reader: PlanningReader): PlannerTool {
  const name = toolName(connector.name, operation.name);
  if (operation.risk === 'read') {
    const proposal = (args: Record<string, unknown>, why: string): ProposedAction => ({
      connector: connector.name,
      operation: operation.name,
      params: args,
      why,
    });
    return {
      kind: 'read',
      schema: operation.schema,
      definition: definition(
        name,
        `${operation.description} (${connector.description}; read-only: runs at once, or after the operator's ` +
          'approval once outside content entered the request)',
        operation.schema,
      ),
      external: { propose: (args, why) => ({ ...proposal(args, why), afterOutsideContent: true }) },
      async read(args, context) {
        const result = await reader(proposal(args, 'the model read it while planning'), context);
        return {
          content: quoteToolResult(name, truncate(JSON.stringify(result ?? null, null, 1))),
          untrusted: true,
        };
      },
    };
  }
  return {
    kind: 'propose',
    schema: operation.schema,
    definition: definition(
      name,
      `${operation.description} (${connector.description}; proposes a ${operation.risk} action that Spine ` +
        'checks and, where its policy says so, asks the operator to approve)',
      operation.schema,
      { withWhy: true },
    ),
    propose: (args, _context, why) => ({
      connector: connector.name,
      operation: operation.name,
      params: args,
      why,
    }),
  };
}

const recallArgs = z.object({ query: z.string().trim().min(1).max(500).describe('what to look up') });
const rememberArgs = z.object({
  text: z.string().trim().min(1).max(20_000).describe('the fact, in one or two plain sentences'),
});

/** memory_recall (reads, runs at once) and memory_remember (proposes a memory.remember action). */
function memoryTools(memory: MemoryStore): PlannerTool[] {
  return [
    {
      kind: 'read',
      schema: recallArgs,
      definition: definition(
        'memory_recall',
        "Search Spine's memory (facts, notes, documents). Returns quoted memories with their sources.",
        recallArgs,
      ),
      async read(args, context) {
        const { query } = recallArgs.parse(args);
        const found = await memory.recall(query, { operatorId: context.operatorId, limit: RECALL_LIMIT });
        if (found.length === 0) return { content: 'No memories match.', untrusted: false };
        return { content: found.map(quoteMemory).join('\n'), untrusted: found.some(isExternalMemory) };
      },
    },
    {
      kind: 'propose',
      schema: rememberArgs,
      definition: definition(
        'memory_remember',
        'Store a fact the operator asked Spine to remember (proposes a memory.remember action).',
        rememberArgs,
        { withWhy: true },
      ),
      propose: (args, context, why) => ({
        connector: 'memory',
        operation: 'remember',
        params: {
          operatorId: context.operatorId,
          goalId: context.goalId,
          text: String(args.text),
          source: context.channel,
          sourceRef: `goal #${context.goalId} (proposed by the model)`,
          assertedBy: context.requestedBy,
        },
        why,
      }),
    },
  ];
}

/**
 * The planner's tools, derived from whatever connectors are registered: every operation becomes a
 * tool (read-risk operations run during planning, all others only propose), plus the memory tools.
 * The memory connector's own operation is replaced by memory_remember, whose bookkeeping fields
 * (operator, goal, source) come from the goal, never from the model.
 */
export function plannerTools(
  connectors: readonly Connector[],
  memory: MemoryStore,
  reader: PlanningReader,
): PlannerTool[] {
  const tools = memoryTools(memory);
  for (const connector of connectors) {
    if (connector.name === 'memory') continue;
    for (const operation of Object.values(connector.operations))
      tools.push(connectorTool(connector, operation, reader));
  }
  return tools;
}

/** Validate a tool call's arguments; the `why` field is taken off before the operation's schema sees them. */
export function parseToolArgs(
  tool: PlannerTool,
  args: Record<string, unknown>,
): { ok: true; args: Record<string, unknown>; why: string | undefined } | { ok: false; problems: string[] } {
  const { why, ...rest } = args;
  const parsedWhy = whyField.safeParse(why);
  const parsed = tool.schema.safeParse(rest);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map(
        (issue) => `${issue.path.join('.') || 'arguments'}: ${issue.message}`,
      ),
    };
  }
  return {
    ok: true,
    args: parsed.data as Record<string, unknown>,
    why: parsedWhy.success ? parsedWhy.data : undefined,
  };
}
