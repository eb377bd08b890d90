import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Connector, defineOperation, type RetrySafety } from '../../connectors/connector.ts';
import type { Action, Goal } from '../../core/domain.ts';
import { SpineError } from '../../core/errors.ts';
import type { MessageBlock, OutboundMessage } from '../../core/message.ts';
import { executeAction } from '../../graphs/agents/executor.ts';
import type { GoalGraphDeps } from '../../graphs/goal/deps.ts';
import { DATABASE_KINDS } from '../support/databases.ts';
import { useTestSpines } from '../support/spine-suite.ts';
import type { TestSpine } from '../support/test-spine.ts';

const THREAD = { channel: 'console' as const, conversation: 'local' };

/**
 * A service that counts every call and every effect it commits (it never deduplicates calls;
 * `honoursKey` makes it dedupe effects by idempotency key, as Stripe does). `hangAfterCommit`:
 * the next calls commit, then never answer (the answer is lost to a timeout).
 */
class Service {
  readonly calls: string[] = [];
  readonly effects: string[] = [];
  hangAfterCommit = 0;
  failBeforeCommit = 0;

  constructor(
    readonly retry: RetrySafety,
    readonly honoursKey: boolean,
  ) {}

  connector(): Connector {
    const post = defineOperation({
      name: 'post',
      description: 'Post a record',
      risk: 'write',
      reversible: true,
      external: true,
      retry: this.retry,
      schema: z.object({ text: z.string() }),
      simulate: (params) => ({
        title: `Post ${params.text}`,
        doing: `posting ${params.text}`,
        done: `posted ${params.text}`,
        fields: [{ label: 'Text', value: params.text }],
      }),
      execute: async (params, context) => {
        this.calls.push(context.idempotencyKey);
        if (this.failBeforeCommit > 0) {
          this.failBeforeCommit -= 1;
          // The service answered "no": nothing happened (a 4xx).
          throw new SpineError('service.refused', 'the service refused the record', {
            category: 'user',
            details: { delivery: 'refused' },
          });
        }
        if (!this.honoursKey || !this.effects.includes(context.idempotencyKey))
          this.effects.push(context.idempotencyKey);
        if (this.hangAfterCommit > 0) {
          this.hangAfterCommit -= 1;
          await new Promise((resolve) => setTimeout(resolve, 60_000).unref());
        }
        return { text: params.text };
      },
      undo: {
        simulate: (params) => ({
          title: `Remove ${params.text}`,
          doing: `removing ${params.text}`,
          done: `removed ${params.text}`,
          fields: [],
        }),
        execute: async () => ({ removed: true }),
      },
    });
    return { name: 'service', description: 'A counting service', operations: { post } };
  }
}

function buttonsOf(message: OutboundMessage | undefined): string[] {
  return ((message?.blocks ?? []) as MessageBlock[]).flatMap((block) =>
    block.type === 'buttons' ? block.buttons.map((button) => button.action) : [],
  );
}

describe.each(DATABASE_KINDS)('outcomes that may have happened, on %s Postgres', (kind) => {
  const spines = useTestSpines(kind);

  async function setup(service: Service) {
    const dir = mkdtempSync(join(tmpdir(), 'spine-unknown-'));
    const config = join(dir, 'spine.config.yaml');
    // One attempt of 300 ms: a hung call times out quickly, and the breaker stays closed.
    writeFileSync(config, 'resilience:\n  timeoutSeconds: 0.3\n  maxAttempts: 2\n  breakerThreshold: 50\n');
    const test = await spines.fresh({ env: { SPINE_CONFIG: config } });
    test.spine.connectors.add(service.connector());
    const goal = await test.spine.repos.goals.insert({
      operatorId: test.spine.operator.id,
      channel: 'console',
      thread: THREAD,
      text: 'post the record',
      requestedBy: 'console:local',
    });
    return { test, goal };
  }

  async function run(test: TestSpine, goal: Goal, key: string) {
    const { spine } = test;
    const prepared = await spine.connectors.prepare({
      connector: 'service',
      operation: 'post',
      params: { text: 'lead' },
      why: 'test',
    });
    const stored = await spine.connectors.record(prepared, {
      goalId: goal.id,
      operatorId: goal.operatorId,
      idempotencyKey: key,
      status: 'approved',
    });
    const action = (await spine.repos.actions.get(stored.action.id)) as Action;
    const deps = {
      repos: spine.repos,
      connectors: spine.connectors,
      clock: { now: () => new Date() },
      guardrails: spine.config.connectors.guardrails,
    } as unknown as GoalGraphDeps;
    const outcome = await executeAction(deps, action);
    const failure =
      outcome.failureId === undefined ? null : await spine.repos.failures.get(outcome.failureId);
    return { outcome, failure, action };
  }

  const press = (test: TestSpine, action: string) =>
    test.spine.intake.handleButton({ action, channel: 'console', userId: 'local', thread: THREAD });

  it('a call that may have happened at a service without keys is unknown: asked, never repeated on its own', async () => {
    const service = new Service('until_sent', false);
    service.hangAfterCommit = 1;
    const { test, goal } = await setup(service);
    const { outcome, failure, action } = await run(test, goal, 'unknown-1');
    expect(outcome.status).toBe('unknown');
    expect(outcome.summary).toContain('Not sure it happened');
    expect(service.calls).toHaveLength(1);
    expect(failure?.kind).toBe('action_unknown');
    expect(failure?.remediation).toEqual(['happened', 'again', 'dismiss']);
    expect(failure?.message).toContain("I can't tell whether posting lead happened");
    // It happened: marked done, never run again, Undo offered (the world allows it).
    await press(test, `failure:happened:${failure?.id}`);
    const reply = test.chat.posts.at(-1)?.message;
    expect(reply?.text).toBe('Marked as done: posted lead.');
    expect(buttonsOf(reply)).toEqual([`undo:${action.id}`]);
    expect((await test.spine.repos.actions.get(action.id))?.status).toBe('succeeded');
    expect(service.calls).toHaveLength(1);
    expect(service.effects).toHaveLength(1);
    expect(await test.spine.intake.log(test.spine.operator.id, 10)).toContain('you confirmed it happened');
  });

  it('“Do it again” runs it once more under a new key, only when tapped, once however many taps', async () => {
    const service = new Service('until_sent', false);
    service.hangAfterCommit = 1;
    const { test, goal } = await setup(service);
    const { failure } = await run(test, goal, 'unknown-2');
    expect(service.effects).toHaveLength(1);
    await Promise.all([1, 2, 3].map(() => press(test, `failure:again:${failure?.id}`)));
    expect(test.chat.texts()).toContain('Done again: posted lead.');
    expect(service.calls).toHaveLength(2);
    expect(new Set(service.calls).size).toBe(2);
    expect(service.effects).toHaveLength(2);
  });

  it('Retry after a timeout at a service that dedupes by key sends the original key: one effect', async () => {
    const service = new Service('by_key', true);
    // Both attempts of the action commit and hang: it fails, though it did happen.
    service.hangAfterCommit = 2;
    const { test, goal } = await setup(service);
    const { outcome, failure, action } = await run(test, goal, 'keyed-1');
    expect(outcome.status).toBe('failed');
    expect(failure?.remediation).toContain('retry');
    expect((await test.spine.repos.actions.get(action.id))?.error).toMatchObject({ mayHaveHappened: true });
    await press(test, `failure:retry:${failure?.id}`);
    expect(test.chat.texts()).toContain('Done on retry: posted lead.');
    expect(service.calls).toEqual(['keyed-1', 'keyed-1', 'keyed-1']);
    expect(service.effects).toEqual(['keyed-1']);
  });

  it('Retry after a refusal (nothing happened) uses a new key', async () => {
    const service = new Service('by_key', true);
    service.failBeforeCommit = 1;
    const { test, goal } = await setup(service);
    const { outcome, failure } = await run(test, goal, 'keyed-2');
    expect(outcome.status).toBe('failed');
    await press(test, `failure:retry:${failure?.id}`);
    expect(service.calls).toEqual(['keyed-2', 'keyed-2-retry-1']);
    expect(service.effects).toEqual(['keyed-2-retry-1']);
  });
});
