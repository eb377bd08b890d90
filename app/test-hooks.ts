import type { Connector } from '../connectors/connector.ts';

/**
 * Crash-test hook (SPINE_WORKER_TEST_HOLD_STEP=connector in a worker): pause after every connector
 * call, after the effect and before Spine records it, so a test can kill the worker right there.
 */
export function holdAfterConnectorCalls(connectors: Connector[], ms: number): Connector[] {
  return connectors.map((connector) => ({
    ...connector,
    operations: Object.fromEntries(
      Object.entries(connector.operations).map(([name, operation]) => [
        name,
        {
          ...operation,
          execute: async (params: unknown, context: Parameters<typeof operation.execute>[1]) => {
            const result = await operation.execute(params, context);
            await new Promise((resolve) => setTimeout(resolve, ms));
            return result;
          },
        },
      ]),
    ),
  }));
}
