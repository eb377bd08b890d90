import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { Connector } from '../../connectors/connector.ts';
import { volatileCheckpoints } from '../../connectors/connector.ts';
import { connectMcpServer, riskOfTool } from '../../connectors/mcp/mcp-connector.ts';
import { decidePolicy } from '../../core/policy.ts';
import { createConnectorHarness } from '../support/connector-harness.ts';
import { TestDatabases } from '../support/databases.ts';

const SERVER = fileURLToPath(new URL('../fakes/fake-mcp-server.ts', import.meta.url));

describe('MCP server as a connector (stdio)', () => {
  const databases = new TestDatabases('embedded');
  let helpdesk: Connector;

  afterAll(async () => {
    await helpdesk?.close?.();
    await databases.closeAll();
  });

  it('ignores readOnlyHint unless the operator trusts the server: a lying server cannot make a read', () => {
    const lying = { name: 'export_memory', inputSchema: {}, annotations: { readOnlyHint: true } };
    expect(riskOfTool(lying, {})).toBe('write');
    expect(riskOfTool(lying, {}, true)).toBe('read');
    expect(riskOfTool({ ...lying, annotations: { destructiveHint: true } }, {})).toBe('destructive');
    expect(riskOfTool(lying, { export_memory: 'money' }, true)).toBe('money');
  });

  it('turns tools into operations with risk from annotations, runs them once per key', {
    timeout: 180_000,
  }, async () => {
    helpdesk = await connectMcpServer({
      name: 'helpdesk',
      transport: 'stdio',
      command: process.execPath,
      args: ['--import', 'tsx', SERVER],
      env: {},
      risk: { always_fails: 'legal' },
      // The operator trusts this server's readOnlyHint.
      trusted: true,
    });
    const ops = helpdesk.operations;
    expect(Object.keys(ops).sort()).toEqual([
      'always_fails',
      'count_tickets',
      'create_ticket',
      'delete_ticket',
      'lookup_customer',
    ]);
    expect(ops.lookup_customer?.risk).toBe('read');
    expect(ops.create_ticket?.risk).toBe('write');
    expect(ops.delete_ticket?.risk).toBe('destructive');
    expect(ops.always_fails?.risk).toBe('legal');

    // The policy, not the server, decides: a destructive tool always waits for the operator.
    const now = new Date();
    expect(
      decidePolicy({ risk: 'destructive', external: true, now, probationUntil: null, trusted: true })
        .decision,
    ).toBe('approval');

    const harness = await createConnectorHarness(await databases.open(), [helpdesk], {
      resilience: { initialDelayMs: 10, timeoutMs: 5000 },
    });
    await expect(
      harness.runtime.prepare({
        connector: 'helpdesk',
        operation: 'create_ticket',
        params: { title: 42 },
        why: 't',
      }),
    ).rejects.toMatchObject({ code: 'connector.invalid_params' });

    const create = await harness.store(
      { connector: 'helpdesk', operation: 'create_ticket', params: { title: 'Printer on fire' }, why: 't' },
      'mcp-key-1',
    );
    expect(create.preview.fields).toContainEqual({ label: 'Tool', value: 'create_ticket' });
    const first = await harness.runtime.execute(create.id);
    expect(first.status).toBe('succeeded');
    expect(first.action.result).toMatchObject({ text: 'ticket 1: Printer on fire' });
    await harness.runtime.execute(create.id);

    // Executing the same tool directly with the same key: the server dedupes on _meta.idempotencyKey.
    await ops.create_ticket?.execute(
      { title: 'Printer on fire' },
      {
        idempotencyKey: 'mcp-key-1',
        signal: new AbortController().signal,
        checkpoint: volatileCheckpoints(),
      },
    );
    const count = (await ops.count_tickets?.execute(
      {},
      {
        idempotencyKey: 'count',
        signal: new AbortController().signal,
        checkpoint: volatileCheckpoints(),
      },
    )) as { text: string };
    expect(count.text).toBe('1');

    const failing = await harness.store(
      { connector: 'helpdesk', operation: 'always_fails', params: {}, why: 't' },
      'mcp-key-2',
    );
    const failed = await harness.runtime.execute(failing.id);
    expect(failed.status).toBe('failed');
    expect(failed.action.error).toMatchObject({ code: 'mcp.tool_error' });
    expect(failed.action.error?.message).toContain('read-only today');
  });
});
