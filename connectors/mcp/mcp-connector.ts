import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { z } from 'zod';
import type { RiskClass } from '../../core/domain.ts';
import { describeError, SpineError } from '../../core/errors.ts';
import type { Connector, Operation } from '../connector.ts';

/** How to reach an operator-configured MCP server. */
export type McpServerConfig =
  | {
      name: string;
      transport: 'stdio';
      command: string;
      args: string[];
      env: Record<string, string>;
      cwd?: string | undefined;
      /** Per-tool risk overrides, which win over the server's own hints. */
      risk: Record<string, RiskClass>;
      /** The operator trusts the server's `readOnlyHint` annotations (see riskOfTool). */
      trusted?: boolean | undefined;
    }
  | {
      name: string;
      transport: 'http';
      url: string;
      headers: Record<string, string>;
      risk: Record<string, RiskClass>;
      trusted?: boolean | undefined;
    };

/** The subset of an MCP tool description Spine uses. */
export interface McpToolInfo {
  name: string;
  description?: string | undefined;
  inputSchema: Record<string, unknown>;
  annotations?: { readOnlyHint?: boolean; destructiveHint?: boolean; title?: string } | undefined;
}

/**
 * The risk of an MCP tool: the operator's override, else the server's hints, else write. Hints
 * come from the server and are only hints: `destructiveHint` is always honoured (it only asks for
 * more care), but `readOnlyHint` makes a tool a `read` — one that runs without approval — only
 * when the operator marked the server `trusted` in spine.config.yaml. A lying server cannot
 * make a POST with model-chosen arguments run at once.
 */
export function riskOfTool(
  tool: McpToolInfo,
  overrides: Record<string, RiskClass>,
  trusted = false,
): RiskClass {
  const override = overrides[tool.name];
  if (override) return override;
  if (tool.annotations?.destructiveHint === true) return 'destructive';
  if (tool.annotations?.readOnlyHint === true && trusted) return 'read';
  return 'write';
}

/** The tool's JSON Schema as zod, so Spine validates arguments before anything runs. */
function schemaOf(tool: McpToolInfo): z.ZodType {
  try {
    return z.fromJSONSchema(tool.inputSchema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    // A schema zod cannot express: the server validates; Spine still shows the exact arguments.
    return z.record(z.string(), z.unknown());
  }
}

interface CallToolResult {
  content?: unknown;
  structuredContent?: unknown;
  isError?: boolean;
}

function textOf(result: CallToolResult): string {
  const content = Array.isArray(result.content) ? result.content : [];
  return content
    .map((part: { type?: string; text?: string }) =>
      part.type === 'text' ? (part.text ?? '') : `[${part.type}]`,
    )
    .join('\n');
}

/** Turn one MCP tool into an operation of the server's connector. */
export function toolOperation(
  serverName: string,
  tool: McpToolInfo,
  risk: RiskClass,
  call: (
    name: string,
    args: Record<string, unknown>,
    key: string,
    signal: AbortSignal,
  ) => Promise<CallToolResult>,
): Operation {
  const title = tool.annotations?.title ?? tool.name;
  return {
    name: tool.name,
    description: tool.description ?? title,
    risk,
    reversible: false,
    external: true,
    // An MCP tool has no idempotency guarantee: only a read may be repeated after a lost answer.
    retry: risk === 'read' ? 'by_key' : 'until_sent',
    schema: schemaOf(tool),
    target: () => `${serverName}/${tool.name}`,
    simulate: (params: unknown) => {
      const args = JSON.stringify(params ?? {}, null, 2);
      return {
        title: `Run ${title} on ${serverName}`,
        doing: `running ${tool.name} on the ${serverName} MCP server`,
        done: `ran ${tool.name} on the ${serverName} MCP server`,
        fields: [
          { label: 'Server', value: serverName },
          { label: 'Tool', value: tool.name },
          { label: 'Arguments', value: args },
        ],
        body: `tools/call ${tool.name}\n${args}`,
      };
    },
    async execute(params: unknown, context) {
      const result = await call(
        tool.name,
        (params ?? {}) as Record<string, unknown>,
        context.idempotencyKey,
        context.signal,
      );
      if (result.isError) {
        throw new SpineError(
          'mcp.tool_error',
          `${serverName}/${tool.name} reported an error: ${textOf(result)}`,
          {
            category: 'third_party',
            // The tool ran and answered with its error: nothing was done.
            details: { server: serverName, tool: tool.name, delivery: 'refused' },
          },
        );
      }
      return { text: textOf(result), structured: result.structuredContent ?? null };
    },
  };
}

/**
 * Connect to an MCP server (stdio child process or streamable HTTP) and expose its tools as a
 * connector. The idempotency key travels in the request's `_meta` so a server that supports it can
 * dedupe a retried call.
 */
export async function connectMcpServer(config: McpServerConfig): Promise<Connector> {
  const client = new Client({ name: 'spine', version: '0.1.0' });
  const transport =
    config.transport === 'stdio'
      ? new StdioClientTransport({
          command: config.command,
          args: config.args,
          // The SDK's safe default (PATH, HOME, …) plus what the operator configured: Spine's own
          // secrets are not handed to a third-party server.
          env: { ...getDefaultEnvironment(), ...config.env },
          stderr: 'ignore',
          ...(config.cwd ? { cwd: config.cwd } : {}),
        })
      : new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers: config.headers } });
  try {
    await client.connect(transport);
  } catch (error) {
    throw new SpineError(
      'mcp.connect_failed',
      `Spine could not start or reach the MCP server "${config.name}": ${describeError(error)}. ` +
        'Check its command or URL in spine.config.yaml.',
      { category: 'user', retryable: true, details: { server: config.name } },
    );
  }
  const listed = await client.listTools();
  const call = async (name: string, args: Record<string, unknown>, key: string, signal: AbortSignal) =>
    (await client.callTool({ name, arguments: args, _meta: { idempotencyKey: key } }, undefined, {
      signal,
    })) as CallToolResult;
  const operations: Record<string, Operation> = {};
  for (const tool of listed.tools as McpToolInfo[]) {
    operations[tool.name] = toolOperation(
      config.name,
      tool,
      riskOfTool(tool, config.risk, config.trusted === true),
      call,
    );
  }
  return {
    name: config.name,
    description: `MCP server ${config.name}`,
    operations,
    close: () => client.close(),
  };
}
