import { readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashParams } from '../../connectors/connector-runtime.ts';
import { ManualClock } from '../../core/clock.ts';
import type { MessageBlock, OutboundMessage } from '../../core/message.ts';
import { isExpired } from '../../db/repositories/approvals.ts';
import { FakeWebhookServer } from '../fakes/fake-webhook-server.ts';
import { DATABASE_KINDS, uniqueSchema } from '../support/databases.ts';
import { useTestSpines } from '../support/spine-suite.ts';
import type { TestSpine } from '../support/test-spine.ts';

// Issue #22, point 2: approvals bound (to their thread, to an explicit choice for money, to the
// parameters their card showed) and bounded (they expire, per risk class).

const SECRET = 'whsec-approval-binding-secret';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function outboxCount(dir: string): number {
  try {
    return readdirSync(dir).filter((file) => file.endsWith('.eml')).length;
  } catch {
    return 0;
  }
}

function buttonsOf(message: OutboundMessage | undefined): string[] {
  const blocks = (message?.blocks ?? []) as MessageBlock[];
  return blocks.flatMap((block) =>
    block.type === 'buttons' ? block.buttons.map((button) => button.action) : [],
  );
}

/** A `pay` webhook of risk class money (a money card), and `crm`, a plain write. */
function moneyConfig(base: string): string {
  const path = join(tmpdir(), `${uniqueSchema('approval-binding')}.yaml`);
  writeFileSync(
    path,
    [
      'webhooks:',
      '  pay:',
      `    url: ${base}/pay`,
      `    secret: ${SECRET}`,
      '    risk: money',
      '    description: Pay an invoice',
      '  crm:',
      `    url: ${base}/leads`,
      `    secret: ${SECRET}`,
    ].join('\n'),
  );
  return path;
}

describe.each(DATABASE_KINDS)('approvals bound and bounded on %s Postgres', (kind) => {
  const spines = useTestSpines(kind);
  const servers: FakeWebhookServer[] = [];

  afterEach(async () => {
    for (const server of servers.splice(0)) await server.stop();
  });

  async function withMoney(options: Parameters<typeof spines.fresh>[0] = {}) {
    const server = new FakeWebhookServer(SECRET);
    servers.push(server);
    const base = await server.start();
    const test = await spines.fresh({ ...options, env: { SPINE_CONFIG: moneyConfig(base), ...options.env } });
    return { test, server };
  }

  async function pendingIn(test: TestSpine) {
    return test.spine.repos.approvals.listPending(test.spine.operator.id);
  }

  async function press(test: TestSpine, action: string, conversation = 'local'): Promise<void> {
    await test.spine.intake.press({
      action,
      channel: 'console',
      userId: 'local',
      thread: { channel: 'console', conversation },
    });
    await test.spine.runner.idle();
  }

  it('"yes" typed in a thread decides only its own card, not one that arrived meanwhile in another thread', async () => {
    const test = await spines.fresh();
    await test.say('email dana@example.com "Tuesday" Tuesday works.', 'thread-a');
    const [mine] = await pendingIn(test);
    // While the operator reads card A, card B arrives in another thread.
    await test.say('email erin@example.com "Later" Later works.', 'thread-b');
    const [, other] = await pendingIn(test);
    await test.say('yes', 'thread-a');
    expect((await test.spine.repos.approvals.get(mine?.id ?? 0))?.status).toBe('approved');
    expect((await test.spine.repos.approvals.get(other?.id ?? 0))?.status).toBe('pending');
    expect(outboxCount(test.outboxDir)).toBe(1);

    // A bare word typed where no card waits decides nothing and says where the cards are.
    await test.say('ok', 'thread-c');
    expect((await test.spine.repos.approvals.get(other?.id ?? 0))?.status).toBe('pending');
    const reply = test.chat.texts().at(-1) ?? '';
    expect(reply).toContain('Nothing waits for your approval in this thread, so I decided nothing');
    expect(reply).toContain(`approve #${other?.id}`);
    await test.say('1', 'thread-b');
    expect((await test.spine.repos.approvals.get(other?.id ?? 0))?.status).toBe('approved');
    expect(outboxCount(test.outboxDir)).toBe(2);
  });

  it('two pending cards in one thread and a bare "yes": nothing decided, both listed with how to pick', async () => {
    const test = await spines.fresh();
    await test.say('email dana@example.com "One" First.');
    await test.say('email erin@example.com "Two" Second.');
    const [first, second] = await pendingIn(test);
    await test.say('yes');
    expect(await pendingIn(test)).toHaveLength(2);
    const reply = test.chat.texts().at(-1) ?? '';
    expect(reply).toContain('2 approvals wait in this thread, so I decided nothing');
    expect(reply).toContain(`• approval #${first?.id}: Send an e-mail to dana@example.com`);
    expect(reply).toContain(`approve #${first?.id}`);
    expect(reply).toContain(`approve #${second?.id}`);
    expect(outboxCount(test.outboxDir)).toBe(0);

    await test.say(`approve #${second?.id}`);
    expect((await test.spine.repos.approvals.get(second?.id ?? 0))?.status).toBe('approved');
    // One card left in the thread: a bare word now decides it.
    await test.say('no');
    expect((await test.spine.repos.approvals.get(first?.id ?? 0))?.status).toBe('rejected');
    expect(outboxCount(test.outboxDir)).toBe(1);
  });

  it('a money card is not approved by a bare word; its button or `approve #id` approves it', async () => {
    const { test, server } = await withMoney();
    await test.say('call pay {"invoice":"INV-7","amount":120}');
    const card = test.chat.posts.at(-1)?.message;
    const [approval] = await pendingIn(test);
    const title = (await test.spine.repos.actions.get(approval?.actionId ?? 0))?.preview.title;
    expect(card?.text).toBe(`Approval #${approval?.id} needed: ${title}`);
    expect(JSON.stringify(card?.blocks)).toContain(`type \`approve #${approval?.id}\``);
    for (const word of ['yes', 'ok', 'approve', '1']) {
      await test.say(word);
      expect(test.chat.texts().at(-1)).toBe(
        `Approval #${approval?.id} is a money action (${title}): a bare word does not approve it. ` +
          `Press its Approve button or type \`approve #${approval?.id}\`.`,
      );
    }
    expect((await test.spine.repos.approvals.get(approval?.id ?? 0))?.status).toBe('pending');
    expect(server.requests).toHaveLength(0);

    await test.say(`approve #${approval?.id}`);
    expect((await test.spine.repos.approvals.get(approval?.id ?? 0))?.status).toBe('approved');
    expect(server.requests.filter((request) => request.path === '/pay')).toHaveLength(1);

    // The button works as well, and a bare "no" may still reject a money card.
    await test.say('call pay {"invoice":"INV-8","amount":80}');
    const [byButton] = await pendingIn(test);
    await press(test, buttonsOf(test.chat.posts.at(-1)?.message)[0] ?? '');
    expect((await test.spine.repos.approvals.get(byButton?.id ?? 0))?.status).toBe('approved');
    await test.say('call pay {"invoice":"INV-9","amount":999}');
    const [rejected] = await pendingIn(test);
    await test.say('no');
    expect((await test.spine.repos.approvals.get(rejected?.id ?? 0))?.status).toBe('rejected');
    expect(server.requests.filter((request) => request.path === '/pay')).toHaveLength(2);
  });

  it('refuses to approve a card whose action changed after it was shown; the card expires and nothing runs', async () => {
    const test = await spines.fresh();
    await test.say('email dana@example.com "Invoice" Here is your invoice.');
    const [approval] = await pendingIn(test);
    const actionId = approval?.actionId ?? 0;
    // Changed behind the card's back (not through the edit flow, which re-binds and re-renders).
    const tampered = { to: 'mallory@example.com', subject: 'Invoice', body: 'Here is your invoice.' };
    await test.spine.db.pool.query('UPDATE actions SET params = $2, params_hash = $3 WHERE id = $1', [
      actionId,
      JSON.stringify(tampered),
      hashParams(tampered),
    ]);
    await test.say('approve');
    expect(test.chat.texts()).toContain(
      `I did not approve #${approval?.id}: the action changed after its card was shown, so the card has expired and nothing was done. Ask again to see a new card.`,
    );
    const after = await test.spine.repos.approvals.get(approval?.id ?? 0);
    expect(after?.expiryReason).toBe('params_changed');
    expect(after && isExpired(after)).toBe(true);
    expect((await test.spine.repos.actions.get(actionId))?.status).toBe('refused');
    expect(outboxCount(test.outboxDir)).toBe(0);
    const expiredCard = test.chat.updates.find((update) => update.message.text.startsWith('Expired:'));
    expect(expiredCard?.ref).toEqual(after?.cards[0]);
    expect(buttonsOf(expiredCard?.message)).toEqual([]);
    const goal = await test.spine.repos.goals.get(approval?.goalId ?? 0);
    expect(goal?.status).toBe('done');
    const story = (await test.spine.repos.events.list({ operatorId: test.spine.operator.id })).filter(
      (event) => event.goalId === goal?.id,
    );
    expect(story.map((event) => event.verb)).toContain('refused');
    expect(story.at(-1)?.verb).toBe('finished');
    // A second try is told the card expired; still nothing runs.
    await test.say(`approve #${approval?.id}`);
    expect(test.chat.texts().at(-1)).toBe(`Approval #${approval?.id} has expired; nothing was done.`);
    expect(outboxCount(test.outboxDir)).toBe(0);
  });

  it('does not run an approved action whose parameters changed before the goal carried the decision', async () => {
    const test = await spines.fresh();
    await test.say('email dana@example.com "Invoice" Here is your invoice.');
    const [approval] = await pendingIn(test);
    const id = approval?.id ?? 0;
    // Only `params` changed (the stored hash still matches the card), and the approval was decided
    // in between: the goal's graph is the last gate before the runtime, which runs what the row says.
    await test.spine.db.pool.query(
      `UPDATE actions SET params = jsonb_set(params, '{to}', '"mallory@example.com"') WHERE id = $1`,
      [approval?.actionId],
    );
    const decided = await test.spine.repos.approvals.decide(
      id,
      'approved',
      'console:local',
      'console',
      new Date(),
    );
    expect(decided.kind).toBe('decided');
    await test.spine.jobs.enqueue({
      name: 'resume-goal',
      data: { goalId: approval?.goalId ?? 0, approvalId: id },
    });
    await test.spine.runner.idle();
    expect((await test.spine.repos.actions.get(approval?.actionId ?? 0))?.status).toBe('refused');
    expect(outboxCount(test.outboxDir)).toBe(0);
    expect(test.chat.texts().at(-1)).toContain(
      `Approval #${id} was for other parameters than the action now has: nothing was done.`,
    );
  });

  it('expires pending approvals per risk class (money after 1 h, others after 24 h): card updated, nothing runs, goal ends with the story', async () => {
    const clock = new ManualClock('2026-04-01T09:00:00Z');
    const { test, server } = await withMoney({ clock });
    await test.say('call pay {"invoice":"INV-1","amount":50}', 'pay-thread');
    await test.say('call crm {"name":"Dana"}', 'crm-thread');
    const [money, write] = await pendingIn(test);

    clock.advance(59 * MINUTE);
    expect(await test.spine.expireApprovals()).toBe(0);
    clock.advance(2 * MINUTE);
    expect(await test.spine.expireApprovals()).toBe(1);
    await test.spine.runner.idle();
    const expired = await test.spine.repos.approvals.get(money?.id ?? 0);
    expect(expired?.expiryReason).toBe('timeout');
    expect((await test.spine.repos.approvals.get(write?.id ?? 0))?.status).toBe('pending');
    const title = (await test.spine.repos.actions.get(money?.actionId ?? 0))?.preview.title;
    const card = test.chat.updates.find((update) => update.message.text === `Expired: ${title}`);
    expect(card?.ref).toEqual(expired?.cards[0]);
    expect(card?.message.blocks).toContainEqual({
      type: 'context',
      text: 'Expired: nobody decided within 1 h. Nothing was done; ask again if it is still needed.',
    });
    expect(buttonsOf(card?.message)).toEqual([]);
    expect((await test.spine.repos.actions.get(money?.actionId ?? 0))?.status).toBe('refused');
    const goal = await test.spine.repos.goals.get(money?.goalId ?? 0);
    expect(goal?.status).toBe('done');
    const story = (await test.spine.repos.events.list({ operatorId: test.spine.operator.id })).filter(
      (event) => event.goalId === goal?.id,
    );
    expect(story).toContainEqual(
      expect.objectContaining({
        actor: 'spine',
        verb: 'gave up on',
        why: `nobody decided approval #${money?.id} within 1 h; nothing was done`,
      }),
    );
    expect(story.at(-1)?.verb).toBe('finished');
    const reply = test.chat.posts.filter((post) => post.thread.conversation === 'pay-thread').at(-1);
    expect(reply?.message.text).toContain(
      `Approval #${money?.id} expired before anyone decided: nothing was done.`,
    );

    // A late button press is told so; a second sweep changes nothing.
    await press(test, `approval:approve:${money?.id}`, 'pay-thread');
    expect(test.chat.texts().at(-1)).toBe(`Approval #${money?.id} has expired; nothing was done.`);
    expect(await test.spine.expireApprovals()).toBe(0);
    expect(server.requests).toHaveLength(0);

    // Past its 24 h, the write card is refused at the click itself, before any sweep ran.
    clock.advance(23 * HOUR);
    await press(test, `approval:approve:${write?.id}`, 'crm-thread');
    expect(test.chat.texts()).toContain(
      `Approval #${write?.id} expired (nobody decided within 24 h); nothing was done. Ask again if it is still needed.`,
    );
    expect((await test.spine.repos.approvals.get(write?.id ?? 0))?.expiryReason).toBe('timeout');
    expect(server.requests).toHaveLength(0);
    expect(await test.spine.expireApprovals()).toBe(0);
  });

  it('reads guardrails.approvalExpiry from spine.config.yaml', async () => {
    const path = join(tmpdir(), `${uniqueSchema('approval-expiry')}.yaml`);
    writeFileSync(path, ['guardrails:', '  approvalExpiry:', '    default: 2h', '    money: 15m'].join('\n'));
    const clock = new ManualClock('2026-04-01T09:00:00Z');
    const test = await spines.fresh({ clock, env: { SPINE_CONFIG: path } });
    expect(test.spine.config.connectors.approvalExpiry).toEqual({
      read: 2 * HOUR,
      write: 2 * HOUR,
      money: 15 * MINUTE,
      legal: 2 * HOUR,
      destructive: 2 * HOUR,
    });
    await test.say('email dana@example.com "Hi" Hello.');
    clock.advance(2 * HOUR + MINUTE);
    expect(await test.spine.expireApprovals()).toBe(1);
  });
});
