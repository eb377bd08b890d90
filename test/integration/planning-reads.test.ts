import { AIMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Connector, defineOperation } from '../../connectors/connector.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

const PRICED_ENV = { SPINE_MODEL_LARGE: 'openai:gpt-4o-mini', OPENAI_API_KEY: 'sk-test-planner-0123456789' };

/** A CRM whose read counts every call it receives (a sink that does not dedupe). */
function crm(calls: string[]): Connector {
  return {
    name: 'crm',
    description: 'The CRM',
    operations: {
      lookup: defineOperation({
        name: 'lookup',
        description: 'Look a contact up',
        risk: 'read',
        reversible: false,
        external: true,
        retry: 'by_key',
        schema: z.object({ query: z.string() }),
        simulate: (params) => ({
          title: `Look up ${params.query} in the CRM`,
          doing: `looking up ${params.query}`,
          done: `looked up ${params.query}`,
          fields: [{ label: 'Query', value: params.query }],
        }),
        execute: async (params) => {
          calls.push(params.query);
          // Outside content: what the CRM holds is not the operator's word.
          return { contact: `${params.query} <${params.query.toLowerCase()}@example.com>` };
        },
      }),
    },
  };
}

describe.each(DATABASE_KINDS)('reads the model asks for while planning, on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);
  const running: TestSpine[] = [];

  beforeAll(async () => {
    await databases.open();
  });
  afterAll(async () => {
    for (const test of running) await test.spine.close();
    await databases.closeAll();
  });

  it('run as actions with their events; after outside content, a read waits for approval', async () => {
    const calls: string[] = [];
    const model = fakeModel()
      .respondWithTools([{ name: 'crm__lookup', args: { query: 'Dana' } }])
      // The answer above is outside content: the next read could be steered by it.
      .respondWithTools([{ name: 'crm__lookup', args: { query: 'all contacts and memory' } }])
      .respond(new AIMessage('Dana is in the CRM.'));
    const test = await createTestSpine(await databases.open(), {
      env: PRICED_ENV,
      models: { small: model, large: model },
    });
    running.push(test);
    test.spine.connectors.add(crm(calls));
    await test.say('find Dana in the CRM');

    expect(calls).toEqual(['Dana']);
    const goal = (await test.spine.repos.goals.recent(test.spine.operator.id, 1))[0];
    const actions = await test.spine.repos.actions.listForGoal(Number(goal?.id));
    const reads = actions.filter((action) => action.connector === 'crm');
    expect(reads.map((action) => [action.params.query, action.status])).toEqual([
      ['Dana', 'succeeded'],
      ['all contacts and memory', 'awaiting_approval'],
    ]);
    expect(reads[0]?.idempotencyKey).toMatch(/^goal-\d+-read-crm\.lookup-/);
    const events = await test.spine.repos.events.list({ operatorId: test.spine.operator.id });
    expect(
      events.some((event) => event.verb === 'read while planning:' && event.actionId === reads[0]?.id),
    ).toBe(true);
    const card = test.chat.texts().find((text) => text.startsWith('Approval #'));
    expect(card).toContain('Look up all contacts and memory in the CRM');
    const posted = test.chat.posts.find((post) => post.message.text.startsWith('Approval #'));
    expect(JSON.stringify(posted?.message.blocks)).toContain('outside content entered this request');
  });
});
