import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, describe, expect, it } from 'vitest';
import type { Connector } from '../../connectors/connector.ts';
import { volatileCheckpoints } from '../../connectors/connector.ts';
import { connectMcpServer } from '../../connectors/mcp/mcp-connector.ts';
import { buildFakeHelpdesk } from '../fakes/fake-mcp-server.ts';

describe('MCP server as a connector (streamable HTTP)', () => {
  let http: Server | undefined;
  let connector: Connector | undefined;
  const authorizations: string[] = [];

  afterAll(async () => {
    await connector?.close?.();
    http?.closeAllConnections();
    await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
  });

  it('lists tools with their risk and calls one, sending the configured headers', async () => {
    // Stateless server: a fresh MCP server and transport per request.
    http = createServer(async (request, response) => {
      authorizations.push(String(request.headers.authorization ?? ''));
      const server = buildFakeHelpdesk();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      response.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(request, response);
    });
    await new Promise<void>((resolve) => http?.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    connector = await connectMcpServer({
      name: 'remote',
      transport: 'http',
      url: `http://127.0.0.1:${port}/mcp`,
      headers: { Authorization: 'Bearer test-token' },
      risk: {},
      trusted: true,
    });
    expect(connector.operations.lookup_customer?.risk).toBe('read');
    expect(connector.operations.delete_ticket?.risk).toBe('destructive');
    const result = (await connector.operations.lookup_customer?.execute(
      { email: 'dana@example.com' },
      { idempotencyKey: 'k', signal: new AbortController().signal, checkpoint: volatileCheckpoints() },
    )) as { text: string };
    expect(result.text).toBe('dana@example.com is a customer since 2024');
    expect(authorizations.length).toBeGreaterThan(0);
    expect(authorizations.every((value) => value === 'Bearer test-token')).toBe(true);
  });
});
