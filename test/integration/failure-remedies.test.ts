import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Connector, defineOperation } from '../../connectors/connector.ts';
import type { Action, Goal } from '../../core/domain.ts';
import type { MessageBlock, OutboundMessage } from '../../core/message.ts';
import { executeAction } from '../../graphs/agents/executor.ts';
import type { GoalGraphDeps } from '../../graphs/goal/deps.ts';
import { DATABASE_KINDS } from '../support/databases.ts';
import { useTestSpines } from '../support/spine-suite.ts';
import type { TestSpine } from '../support/test-spine.ts';

const THREAD = { channel: 'console' as const, conversation: 'local' };

/** A small service with a reversible write (`put`, undone by restoring the old value) and a send that fails for a mistyped domain. */
class Vault {
  readonly data = new Map<string, string>();
  readonly sent: Array<{ to: string; subject: string }> = [];
  puts = 0;
  undos = 0;
  sendCalls = 0;
  /** The next sends fail however they are addressed (an outage). */
  outages = 0;

  connector(): Connector {
    const put = defineOperation({
      name: 'put',
      description: 'Store a value under a key',
      risk: 'write',
      reversible: true,
      external: true,
      retry: 'by_key',
      schema: z.object({ key: z.string(), value: z.string() }),
      simulate: (params) => ({
        title: `Store ${params.key}`,
        doing: `storing ${params.key}`,
        done: `stored ${params.key}`,
        fields: [{ label: 'Key', value: params.key }],
      }),
      execute: async (params) => {
        this.puts += 1;
        const previous = this.data.get(params.key) ?? null;
        this.data.set(params.key, params.value);
        return { previous };
      },
      undo: {
        simulate: (params) => ({
          title: `Restore ${params.key}`,
          doing: `restoring ${params.key}`,
          done: `restored ${params.key}`,
          fields: [],
        }),
        execute: async (params, result) => {
          this.undos += 1;
          const previous = (result as { previous: string | null }).previous;
          if (previous === null) this.data.delete(params.key);
          else this.data.set(params.key, previous);
          return { restored: previous };
        },
      },
    });
    const send = defineOperation({
      name: 'send',
      description: 'Send a note',
      risk: 'write',
      reversible: false,
      external: true,
      retry: 'by_key',
      schema: z.object({ to: z.string().email(), subject: z.string().min(1) }),
      simulate: (params) => ({
        title: `Send “${params.subject}” to ${params.to}`,
        doing: `sending “${params.subject}” to ${params.to}`,
        done: `sent “${params.subject}” to ${params.to}`,
        fields: [
          { label: 'To', value: params.to },
          { label: 'Subject', value: params.subject },
        ],
      }),
      target: (params) => params.to,
      execute: async (params) => {
        this.sendCalls += 1;
        if (this.outages > 0) {
          this.outages -= 1;
          throw new Error('the vault is down for maintenance');
        }
        if (params.to.endsWith('@exmaple.com')) throw new Error('there is no domain exmaple.com');
        this.sent.push({ to: params.to, subject: params.subject });
        return { delivered: true };
      },
    });
    return { name: 'vault', description: 'A test vault', operations: { put, send } };
  }
}

function buttonsOf(message: OutboundMessage | undefined): string[] {
  return ((message?.blocks ?? []) as MessageBlock[]).flatMap((block) =>
    block.type === 'buttons' ? block.buttons.map((button) => button.action) : [],
  );
}

describe.each(DATABASE_KINDS)('failures and their remedies on %s Postgres', (kind) => {
  const spines = useTestSpines(kind);

  async function setup(env: Record<string, string> = {}) {
    const test = await spines.fresh({ env });
    const vault = new Vault();
    test.spine.connectors.add(vault.connector());
    const goal = await test.spine.repos.goals.insert({
      operatorId: test.spine.operator.id,
      channel: 'console',
      thread: THREAD,
      text: 'store the lead and tell Dana',
      requestedBy: 'console:local',
    });
    return { test, vault, goal };
  }

  /** Store an approved action of the goal, as the guard would, and run it through the executor. */
  async function run(
    test: TestSpine,
    goal: Goal,
    operation: string,
    params: Record<string, unknown>,
    key: string,
  ) {
    const { spine } = test;
    const prepared = await spine.connectors.prepare({ connector: 'vault', operation, params, why: 'test' });
    const stored = await spine.connectors.record(prepared, {
      goalId: goal.id,
      operatorId: goal.operatorId,
      idempotencyKey: key,
      status: 'approved',
    });
    await spine.repos.connectorState.annotate(stored.action.id, {
      target: prepared.target,
      amount: prepared.amount,
      scheduledAt: null,
    });
    const action = (await spine.repos.actions.get(stored.action.id)) as Action;
    const deps = {
      repos: spine.repos,
      connectors: spine.connectors,
      clock: { now: () => new Date() },
      guardrails: spine.config.connectors.guardrails,
    } as unknown as GoalGraphDeps;
    const outcome = await executeAction(deps, action);
    if (outcome.failureId === undefined) return { outcome, failure: null };
    const failure = await spine.repos.failures.get(outcome.failureId);
    return { outcome, failure };
  }

  /** Send a note through the vault (it fails for the mistyped domain exmaple.com). */
  const send = (test: TestSpine, goal: Goal, to: string, subject: string, key: string) =>
    run(test, goal, 'send', { to, subject }, key);

  const press = (test: TestSpine, action: string) =>
    test.spine.intake.handleButton({ action, channel: 'console', userId: 'local', thread: THREAD });

  it('offers the remedies that fit: Retry, Undo (something reversible ran), Edit and retry, Dismiss', async () => {
    const { test, goal } = await setup();
    await run(test, goal, 'put', { key: 'lead', value: 'Finn' }, `g${goal.id}-1`);
    const { failure } = await send(test, goal, 'dana@exmaple.com', 'Lead', `g${goal.id}-2`);
    expect(failure?.kind).toBe('action_failed');
    expect(failure?.remediation).toEqual(['retry', 'undo', 'edit', 'dismiss']);
    expect(failure?.message).toBe(
      'I could not finish sending “Lead” to dana@exmaple.com: there is no domain exmaple.com',
    );

    const other = await setup();
    const alone = await send(other.test, other.goal, 'x@exmaple.com', 'Hi', 'alone-1');
    // Nothing ran before it: no Undo.
    expect(alone.failure?.remediation).toEqual(['retry', 'edit', 'dismiss']);
    await other.test.say(`undo failure #${alone.failure?.id}`);
    expect(other.test.chat.texts().at(-1)).toContain(
      `Failure #${alone.failure?.id} cannot be answered with “Undo what was done”`,
    );
    expect((await other.test.spine.repos.failures.get(alone.failure?.id ?? 0))?.status).toBe('open');
  });

  it('Retry runs the step once however many times it is tapped', async () => {
    const { test, vault, goal } = await setup();
    vault.outages = 1;
    const { failure } = await send(test, goal, 'dana@example.com', 'Lead', `g${goal.id}-1`);
    expect(vault.sendCalls).toBe(1);
    expect(failure?.remediation).toContain('retry');
    const taps = await Promise.all([1, 2, 3].map(() => press(test, `failure:retry:${failure?.id}`)));
    const outcomes = taps.map((tap) => ('outcome' in tap ? tap.outcome : tap.kind));
    expect(outcomes.filter((outcome) => outcome === 'retried')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === 'already_closed')).toHaveLength(2);
    expect(vault.sendCalls).toBe(2);
    expect(vault.sent).toEqual([{ to: 'dana@example.com', subject: 'Lead' }]);
    expect(test.chat.texts()).toContain('Done on retry: sent “Lead” to dana@example.com.');
    const closed = await test.spine.repos.failures.get(failure?.id ?? 0);
    expect(closed).toMatchObject({ status: 'resolved', remedy: 'retry', resolvedBy: 'console:local' });
    const events = await test.spine.repos.events.list({ operatorId: test.spine.operator.id });
    const remedyEvents = events.filter((event) => event.payload.remedy === 'retry');
    expect(remedyEvents).toHaveLength(1);
    expect(remedyEvents[0]).toMatchObject({
      actor: 'operator',
      verb: 'chose to retry after',
      object: `failure #${failure?.id}`,
    });
  });

  it('Undo reverts what the goal already did through its connector, once', async () => {
    const { test, vault, goal } = await setup();
    vault.data.set('lead', 'Old lead');
    await run(test, goal, 'put', { key: 'lead', value: 'Finn' }, `g${goal.id}-1`);
    expect(vault.data.get('lead')).toBe('Finn');
    const { failure } = await send(test, goal, 'dana@exmaple.com', 'Lead', `g${goal.id}-2`);
    await test.say(`undo failure #${failure?.id}`);
    expect(vault.data.get('lead')).toBe('Old lead');
    expect(vault.undos).toBe(1);
    expect(test.chat.texts().at(-1)).toBe('Undone: restored lead.');
    const compensations = (await test.spine.repos.actions.listForGoal(goal.id)).filter(
      (action) => action.undoOf,
    );
    expect(compensations).toHaveLength(1);
    expect(compensations[0]?.status).toBe('succeeded');

    await test.say(`undo failure #${failure?.id}`);
    expect(test.chat.texts().at(-1)).toBe(`Failure #${failure?.id} was already handled.`);
    expect(vault.undos).toBe(1);
    expect(await test.spine.intake.log(test.spine.operator.id, 10)).toContain(
      `You chose to undo what was done before failure #${failure?.id}`,
    );
  });

  it('Edit and retry runs the edited action through the guard and approval, with the new parameters', async () => {
    const { test, vault, goal } = await setup();
    const { failure } = await send(test, goal, 'dana@exmaple.com', 'Lead', `g${goal.id}-1`);
    const id = failure?.id ?? 0;

    await press(test, `failure:edit:${id}`);
    expect(test.chat.texts().at(-1)).toContain(`edit failure #${id} to="…"`);
    expect(test.chat.texts().at(-1)).toContain('• to = "dana@exmaple.com"');
    await test.say(`edit failure #${id} colour="red"`);
    expect(test.chat.texts().at(-1)).toContain('I cannot change colour');
    await test.say(`edit failure #${id} to="not an address"`);
    expect(test.chat.texts().at(-1)).toContain('The vault send request is not valid');
    expect((await test.spine.repos.failures.get(id))?.status).toBe('open');

    await test.say(`edit failure #${id} to="dana@example.com" subject="Lead: Finn"`);
    // Probation: an external write waits for approval, exactly as in a goal.
    const card = test.chat.posts.at(-1)?.message;
    expect(card?.text).toMatch(/^Approval #\d+ needed: Send “Lead: Finn” to dana@example\.com$/);
    expect(vault.sent).toEqual([]);
    expect((await test.spine.repos.failures.get(id))?.remedy).toBe('edit');

    await test.say('approve');
    expect(vault.sent).toEqual([{ to: 'dana@example.com', subject: 'Lead: Finn' }]);
    // (The test's goal never ran through the graph, so the resume after the approval also runs it.)
    expect(test.chat.texts()).toContain('Done after your edit: sent “Lead: Finn” to dana@example.com.');
    await test.spine.runDueActions();
    await test.say('approve');
    expect(vault.sent).toHaveLength(1);
    const edited = (await test.spine.repos.events.list({ operatorId: test.spine.operator.id })).find(
      (event) => event.payload.remedy === 'edit',
    );
    expect(edited?.payload).toMatchObject({
      before: { to: 'dana@exmaple.com', subject: 'Lead' },
      after: { to: 'dana@example.com', subject: 'Lead: Finn' },
    });
  });

  it('Edit and retry runs at once when the guard allows it (after probation, trusted target)', async () => {
    const { test, vault, goal } = await setup({ SPINE_PROBATION_DAYS: '0' });
    await test.say('trust vault send dana@example.com');
    const { failure } = await send(test, goal, 'dana@exmaple.com', 'Lead', `g${goal.id}-1`);
    await test.say(`edit failure #${failure?.id} to="dana@example.com"`);
    expect(vault.sent).toEqual([{ to: 'dana@example.com', subject: 'Lead' }]);
    expect(test.chat.texts().at(-1)).toBe('Done after your edit: sent “Lead” to dana@example.com.');
    expect(await test.spine.repos.approvals.listPending(test.spine.operator.id)).toEqual([]);
    // A different recipient is not trusted: the guard asks for approval again.
    const second = await send(test, goal, 'finn@exmaple.com', 'Lead', `g${goal.id}-2`);
    await test.say(`edit failure #${second.failure?.id} to="finn@example.com"`);
    expect(test.chat.texts().at(-1)).toMatch(/^Approval #\d+ needed: Send “Lead” to finn@example\.com$/);
    expect(vault.sent).toHaveLength(1);
  });

  it('Dismiss with a reason closes the failure and records who, what and why', async () => {
    const { test, goal } = await setup();
    const { failure } = await send(test, goal, 'dana@exmaple.com', 'Lead', `g${goal.id}-1`);
    const id = failure?.id ?? 0;
    await test.say(`dismiss #${id} because it was a duplicate`);
    expect(test.chat.texts().at(-1)).toBe(`Dismissed failure #${id} (it was a duplicate).`);
    expect(await test.spine.repos.failures.get(id)).toMatchObject({
      status: 'dismissed',
      remedy: 'dismiss',
      resolution: 'dismissed because it was a duplicate',
      resolvedBy: 'console:local',
    });
    const events = await test.spine.repos.events.list({ operatorId: test.spine.operator.id });
    expect(events.at(-1)).toMatchObject({
      actor: 'operator',
      verb: 'dismissed',
      object: `failure #${id}`,
      why: 'it was a duplicate',
      payload: { remedy: 'dismiss', reason: 'it was a duplicate', failureId: id },
    });
    expect(await test.spine.intake.log(test.spine.operator.id, 5)).toContain(
      `You dismissed failure #${id} because it was a duplicate`,
    );
    await test.say(`dismiss #${id} because I said so`);
    expect(test.chat.texts().at(-1)).toBe(`Failure #${id} was already handled.`);
    expect(events.filter((event) => event.payload.remedy === 'dismiss')).toHaveLength(1);
  });

  it('`failures` lists the open ones with their remedies, in chat and as text', async () => {
    const { test, goal } = await setup();
    await run(test, goal, 'put', { key: 'lead', value: 'Finn' }, `g${goal.id}-1`);
    const first = (await send(test, goal, 'a@exmaple.com', 'One', `g${goal.id}-2`)).failure;
    const second = (await send(test, goal, 'b@exmaple.com', 'Two', `g${goal.id}-3`)).failure;
    await test.say('failures');
    const list = test.chat.posts.at(-1)?.message;
    expect(list?.text).toContain('Open failures (2):');
    expect(list?.text).toContain(
      `retry #${first?.id} · undo failure #${first?.id} · edit failure #${first?.id} to="…" · dismiss #${first?.id} because …`,
    );
    expect(buttonsOf(list)).toEqual([
      `failure:retry:${first?.id}`,
      `failure:undo:${first?.id}`,
      `failure:edit:${first?.id}`,
      `failure:dismiss:${first?.id}`,
      `failure:retry:${second?.id}`,
      `failure:undo:${second?.id}`,
      `failure:edit:${second?.id}`,
      `failure:dismiss:${second?.id}`,
    ]);
    await test.say(`dismiss #${first?.id}`);
    const text = await test.spine.failures.listText(test.spine.operator.id);
    expect(text).toContain('Open failures (1):');
    expect(text).toContain(`#${second?.id} action failed`);
    expect(text).not.toContain(`#${first?.id} action failed`);
  });
});
