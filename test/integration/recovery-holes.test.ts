import { describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../support/databases.ts';
import { outboxFiles } from '../support/outbox.ts';
import { useTestSpines } from '../support/spine-suite.ts';
import type { TestSpine } from '../support/test-spine.ts';

/** A goal parked at its approval (the graph waits at `interrupt()`), with its approval and action. */
async function parkedGoal(test: TestSpine, to: string) {
  await test.say(`email ${to} "Parked" Sent once, whatever the row said.`);
  const [approval] = await test.spine.repos.approvals.listPending(test.spine.operator.id);
  expect(approval).toBeDefined();
  expect((await test.spine.repos.goals.get(approval!.goalId))?.status).toBe('awaiting_approval');
  return { goalId: approval!.goalId, approvalId: approval!.id, actionId: approval!.actionId };
}

async function setGoalRow(test: TestSpine, goalId: number, status: string): Promise<void> {
  await test.spine.db.pool.query('UPDATE goals SET status = $2 WHERE id = $1', [goalId, status]);
}

/** The compare-and-set of a decision, without the resume a crash prevented. */
async function decideWithoutResume(test: TestSpine, approvalId: number): Promise<void> {
  const result = await test.spine.repos.approvals.decide(
    approvalId,
    'approved',
    'console:local',
    'console',
    new Date(),
  );
  expect(result.kind).toBe('decided');
}

async function sentEvents(test: TestSpine): Promise<number> {
  const result = await test.spine.db.pool.query(`SELECT count(*)::int AS n FROM events WHERE verb = 'sent'`);
  return Number(result.rows[0]?.n);
}

describe.each(DATABASE_KINDS)(
  'recovery finds goals parked at an approval whatever their row says, on %s Postgres',
  (kind) => {
    const spines = useTestSpines(kind);

    it('resumes a decided approval whose goal row says running, executes once, and finishes the goal', async () => {
      const test = await spines.fresh();
      const { goalId, approvalId, actionId } = await parkedGoal(test, 'erin@example.com');
      await setGoalRow(test, goalId, 'running');
      await decideWithoutResume(test, approvalId);

      expect(await test.spine.recover()).toBeGreaterThan(0);
      await test.spine.runner.idle();
      expect(outboxFiles(test.outboxDir)).toHaveLength(1);
      expect(await sentEvents(test)).toBe(1);
      expect((await test.spine.repos.actions.get(actionId))?.status).toBe('succeeded');
      expect((await test.spine.repos.goals.get(goalId))?.status).toBe('done');
      expect(test.chat.texts().at(-1)).toContain('Done: sent an e-mail to erin@example.com');
      // Nothing is left to recover, and a second sweep sends nothing.
      expect(await test.spine.recover()).toBe(0);
      await test.spine.runner.idle();
      expect(outboxFiles(test.outboxDir)).toHaveLength(1);
    });

    it('lists a decided approval whose goal row says received as awaiting its resume', async () => {
      const test = await spines.fresh();
      const { goalId, approvalId } = await parkedGoal(test, 'fay@example.com');
      await setGoalRow(test, goalId, 'received');
      await decideWithoutResume(test, approvalId);
      const listed = await test.spine.repos.approvals.listDecidedAwaitingResume();
      expect(listed.map((approval) => approval.id)).toEqual([approvalId]);
    });

    it('resumes from a run-goal job alone when the graph waits and the decision was never carried', async () => {
      const test = await spines.fresh();
      const { goalId, approvalId, actionId } = await parkedGoal(test, 'gus@example.com');
      await setGoalRow(test, goalId, 'running');
      await decideWithoutResume(test, approvalId);

      await test.spine.jobs.enqueue({ name: 'run-goal', data: { goalId } });
      await test.spine.runner.idle();
      expect(outboxFiles(test.outboxDir)).toHaveLength(1);
      expect((await test.spine.repos.actions.get(actionId))?.status).toBe('succeeded');
      expect((await test.spine.repos.goals.get(goalId))?.status).toBe('done');
    });

    it('corrects the row of a goal still waiting for its operator, and executes nothing until approved', async () => {
      const test = await spines.fresh();
      const { goalId } = await parkedGoal(test, 'hal@example.com');
      await setGoalRow(test, goalId, 'running');

      expect(await test.spine.recover()).toBe(1);
      await test.spine.runner.idle();
      expect((await test.spine.repos.goals.get(goalId))?.status).toBe('awaiting_approval');
      expect(outboxFiles(test.outboxDir)).toHaveLength(0);
      expect(await test.spine.recover()).toBe(0);

      await test.say('approve');
      expect(outboxFiles(test.outboxDir)).toHaveLength(1);
      expect((await test.spine.repos.goals.get(goalId))?.status).toBe('done');
    });

    it('still resumes a goal whose decision was carried onto its action before a crash inside the resume', async () => {
      const test = await spines.fresh();
      const { goalId, approvalId, actionId } = await parkedGoal(test, 'ida@example.com');
      await decideWithoutResume(test, approvalId);
      // The resume carried the decision onto the action, then the process died before the checkpoint.
      await test.spine.db.pool.query(`UPDATE actions SET status = 'approved' WHERE id = $1`, [actionId]);

      expect(await test.spine.recover()).toBe(1);
      await test.spine.runner.idle();
      expect(outboxFiles(test.outboxDir)).toHaveLength(1);
      expect((await test.spine.repos.goals.get(goalId))?.status).toBe('done');
      expect(await test.spine.recover()).toBe(0);
    });
  },
);
