// A tiny MCP server over stdio for the connector tests: a read-only lookup, an unannotated write that
// dedupes on the idempotency key in _meta, a destructive delete, and a count to observe effects.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const tickets = new Map<string, string>();

/** The fake helpdesk's tools on a fresh server (tickets are shared by every server of this process). */
export function buildFakeHelpdesk(): McpServer {
  const server = new McpServer({ name: 'fake-helpdesk', version: '1.0.0' });

  server.registerTool(
    'lookup_customer',
    {
      description: 'Find a customer by e-mail',
      inputSchema: { email: z.string() },
      annotations: { readOnlyHint: true },
    },
    async ({ email }) => ({ content: [{ type: 'text', text: `${email} is a customer since 2024` }] }),
  );

  server.registerTool(
    'create_ticket',
    { description: 'Open a support ticket', inputSchema: { title: z.string().min(1) } },
    async ({ title }, extra) => {
      const key = String((extra._meta as Record<string, unknown> | undefined)?.idempotencyKey ?? title);
      if (!tickets.has(key)) tickets.set(key, title);
      return {
        content: [{ type: 'text', text: `ticket ${[...tickets.keys()].indexOf(key) + 1}: ${title}` }],
      };
    },
  );

  server.registerTool(
    'delete_ticket',
    {
      description: 'Delete a ticket',
      inputSchema: { id: z.number() },
      annotations: { destructiveHint: true },
    },
    async ({ id }) => ({ content: [{ type: 'text', text: `deleted ${id}` }] }),
  );

  server.registerTool(
    'count_tickets',
    { description: 'How many tickets exist', annotations: { readOnlyHint: true } },
    async () => ({ content: [{ type: 'text', text: String(tickets.size) }] }),
  );

  server.registerTool('always_fails', { description: 'Fails on purpose', inputSchema: {} }, async () => ({
    isError: true,
    content: [{ type: 'text', text: 'the helpdesk is read-only today' }],
  }));

  return server;
}

// Run as a script (stdio): `node --import tsx test/fakes/fake-mcp-server.ts`.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '\0')) {
  await buildFakeHelpdesk().connect(new StdioServerTransport());
}
