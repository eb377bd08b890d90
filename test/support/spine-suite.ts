import { afterAll, beforeAll } from 'vitest';
import { type DatabaseKind, TestDatabases } from './databases.ts';
import { createTestSpine, type TestSpine } from './test-spine.ts';

/**
 * Test Spines of one database kind for a describe block: each `fresh()` gets its own schema; all
 * are closed after the block. The first database is opened up front so no test pays for start-up.
 */
export function useTestSpines(kind: DatabaseKind): {
  fresh(options?: Parameters<typeof createTestSpine>[1]): Promise<TestSpine>;
} {
  const databases = new TestDatabases(kind);
  const running: TestSpine[] = [];
  beforeAll(async () => {
    await databases.open();
  }, 180_000);
  afterAll(async () => {
    for (const test of running) await test.spine.close();
    await databases.closeAll();
  });
  return {
    async fresh(options = {}) {
      const test = await createTestSpine(await databases.open(), options);
      running.push(test);
      return test;
    },
  };
}
