import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultRig, freeze, type Proposed, thaw, WriteStall } from '../support/fault-kit.ts';
import type { WorkerProcess } from '../support/processes.ts';
import { deletePrefix, waitUntil } from '../support/queue-spine.ts';

// Issue #21, point 5: real `spine worker` processes killed (SIGKILL) or frozen (SIGSTOP past
// every lease) at each step of an action, the queue lost mid-call, an SMTP server that drops or
// delays its answer, ten approvals at once, two replicas' due-checks, and a database connection
// cut between an outcome and its failure. Every effect is counted where it lands (the SMTP sink,
// webhook receivers), never in Spine's own records. The promise each case checks
// (`FaultRig.brokenPromises`): at most one effect; the action ends succeeded (landed once),
// failed (nothing landed) or unknown (a failure card asked the operator); and nothing is left
// executing or running (`FaultRig.settled`).
//
// Starting a worker costs seconds of CPU, so two workers serve every case. Jobs go to whichever
// worker fetches first, so the standby stays frozen while a case is armed on the worker under
// test, and is thawed to take over once the fault is in place:
// - `standby`: no hold; takes over after each fault, and runs the cases that need no kill;
// - `victim`: pauses after every connector call, before Spine records its outcome.
// The main process (in the test) runs the due-check as `spine start` does: it settles actions
// whose executor's lease lapsed, so it takes over too. The queue's job lock (SPINE_QUEUE_LOCK_MS)
// is 2 s in every process (test/support/queue-spine.ts), like the action lease below.

/** The action lease in every process: a dead or frozen executor is taken over within seconds. */
const LEASE_SECONDS = 2;
/** The standby's per-attempt timeout (the late answer); the victim keeps the default 30 s. */
const STANDBY_TIMEOUT_SECONDS = 4;
/** How long the victim pauses after a connector call: time for the test to kill or freeze it there. */
const HOLD_MS = '4000';
const REFUSED = 'a stale execution’s outcome was refused';

// Generous per-test deadline: the machine may be shared, and a replica starts in one case.
describe('faults at every step of an action, counted at sinks that do not dedupe', {
  timeout: 120_000,
}, () => {
  let rig: FaultRig;
  let standby: WorkerProcess;
  let victim: WorkerProcess;

  beforeAll(async () => {
    rig = await FaultRig.open({ leaseSeconds: LEASE_SECONDS });
    standby = rig.worker({}, { timeoutSeconds: STANDBY_TIMEOUT_SECONDS });
    victim = rig.worker({ SPINE_WORKER_TEST_HOLD_STEP: 'connector', SPINE_WORKER_TEST_HOLD_MS: HOLD_MS });
    await Promise.all([standby.ready(), victim.ready()]);
    freeze(standby);
  }, 120_000);

  afterAll(async () => {
    await rig?.close();
  });

  /** Thaw the standby until every action and goal has ended, then freeze it again. */
  async function takeOver(actionIds: number[]): Promise<void> {
    thaw(standby);
    await rig.settled(actionIds);
    freeze(standby);
  }

  /** Messages the SMTP sink accepted for one recipient (every one, whatever its Message-ID). */
  function landed(recipient: string): number {
    return rig.sink.acceptedFor(recipient).length;
  }

  /** Requests that committed at a webhook receiver for one body. */
  function committed(receiver: 'crm' | 'ledger', body: string): number {
    return rig[receiver].committed.filter((effect) => effect.body === body).length;
  }

  describe('a worker frozen past every lease (SIGSTOP), then thawed', () => {
    it('after the call, before the outcome is recorded: sent once, and its stale outcome is refused', async () => {
      const proposed = await rig.propose('email frozen-after@example.com "Notes" Meeting notes.');
      await rig.approve(proposed);
      // It read the server's 250 (it said QUIT): the worker is paused before recording it.
      await waitUntil(() => rig.tap.answered('frozen-after@example.com'), 'the server’s answer to be read');
      freeze(victim);
      // The due-check (or the standby's re-run of the job) takes the lapsed claim. An e-mail is
      // not idempotent by key, so the takeover settles it as unknown instead of sending again.
      thaw(standby);
      await waitUntil(async () => rig.ended(proposed.actionId), 'the takeover');
      const mark = victim.output.length;
      thaw(victim);
      await waitUntil(() => victim.output.slice(mark).includes(REFUSED), 'the thawed worker’s outcome');
      await rig.settled([proposed.actionId]);
      freeze(standby);

      expect(landed('frozen-after@example.com')).toBe(1);
      // Its `succeeded` did not overwrite the takeover's `unknown`.
      expect(await rig.actionStatus(proposed.actionId)).toBe('unknown');
      expect(await rig.brokenPromises([{ actionId: proposed.actionId, effects: 1 }])).toEqual([]);
    });

    it('before any byte reached the sink: settled unknown meanwhile; thawed, at most one lands and its outcome is refused', async () => {
      rig.tap.script.push('hold');
      const proposed = await rig.propose('email frozen-before@example.com "Quote" The quote is attached.');
      await rig.approve(proposed);
      // Claimed, and inside its SMTP call: connected, waiting for a greeting the tap holds back.
      await waitUntil(() => rig.tap.holding(), 'the worker’s connection to be held');
      freeze(victim);
      thaw(standby);
      await waitUntil(async () => rig.ended(proposed.actionId), 'the takeover');
      // Thawed with the network back: its call may go on (its lease renewal then fails and aborts
      // it, racing the SMTP dialogue), so the message may land now, once. Its outcome is refused.
      const mark = victim.output.length;
      thaw(victim);
      rig.tap.release();
      await waitUntil(() => victim.output.slice(mark).includes(REFUSED), 'the thawed worker’s outcome');
      await rig.settled([proposed.actionId]);
      freeze(standby);

      expect(await rig.actionStatus(proposed.actionId)).toBe('unknown');
      expect(
        await rig.brokenPromises([
          { actionId: proposed.actionId, effects: landed('frozen-before@example.com') },
        ]),
      ).toEqual([]);
    });
  });

  describe('the queue lost while a worker is in its call (Redis restarted empty)', () => {
    it('the recovered job runs while the first executor lives: it waits for that outcome, sent once', async () => {
      const proposed = await rig.propose('email queue-lost@example.com "Plan" The plan.');
      await rig.approve(proposed);
      await waitUntil(() => rig.tap.answered('queue-lost@example.com'), 'the server’s answer to be read');
      // Every queue key goes (jobs, job locks, group locks): the main process's recovery enqueues
      // the goal again while the victim, paused after its call, still holds the action's claim.
      await deletePrefix(rig.prefix);
      thaw(standby);
      await rig.settled([proposed.actionId]);
      expect(landed('queue-lost@example.com')).toBe(1);
      // The second executor waited for the live claim instead of taking it over.
      expect(await rig.actionStatus(proposed.actionId)).toBe('succeeded');
      expect(await rig.attempts(proposed.actionId)).toBe(1);
      await waitUntil(
        () => rig.main.chat.texts().some((text) => text.startsWith('Done: sent an e-mail to queue-lost@')),
        'the reply',
      );
      freeze(standby);
      expect(
        rig.main.chat.texts().filter((text) => text.startsWith('Done: sent an e-mail to queue-lost@')),
      ).toHaveLength(1);
      expect(await rig.brokenPromises([{ actionId: proposed.actionId, effects: 1 }])).toEqual([]);
    });
  });

  describe('a worker killed (SIGKILL) with five actions in flight, each at another step', () => {
    const held = 'held@example.com';
    const slowAck = 'slow-ack@example.com';
    const answered = 'answered@example.com';
    const crmBody = '{"lead":"killed-after-commit"}';
    const ledgerBody = '{"entry":"killed-after-commit"}';
    const actions = {} as Record<'held' | 'slowAck' | 'answered' | 'crm' | 'ledger', Proposed>;

    beforeAll(async () => {
      actions.held = await rig.propose(`email ${held} "One" First.`);
      actions.slowAck = await rig.propose(`email ${slowAck} "Two" Second.`);
      actions.crm = await rig.propose(`call crm ${crmBody}`);
      actions.ledger = await rig.propose(`call ledger ${ledgerBody}`);
      actions.answered = await rig.propose(`email ${answered} "Three" Third.`);

      // Before the call reached the sink: connected, no greeting yet.
      rig.tap.script.push('hold');
      await rig.approve(actions.held);
      await waitUntil(() => rig.tap.holding(), 'the held connection');
      // While the sink holds the request: it accepted the message and delays its 250.
      rig.sink.script.push({ kind: 'ack_after_ms', ms: 120_000 });
      await rig.approve(actions.slowAck);
      await waitUntil(() => landed(slowAck) === 1, 'the sink to accept the message it then holds');
      // After the receiver committed, before it answered.
      rig.crm.script.push({ kind: 'commit_then_hang' });
      await rig.approve(actions.crm);
      await waitUntil(() => committed('crm', crmBody) === 1, 'the crm receiver to commit');
      rig.ledger.script.push({ kind: 'commit_then_hang' });
      await rig.approve(actions.ledger);
      await waitUntil(() => committed('ledger', ledgerBody) === 1, 'the ledger receiver to commit');
      // After the answer was read, before the outcome is recorded (the victim's hold).
      await rig.approve(actions.answered);
      await waitUntil(() => rig.tap.answered(answered), 'the server’s answer to be read');

      victim.kill('SIGKILL');
      expect(await victim.exited()).toBeNull();
      await takeOver(Object.values(actions).map((action) => action.actionId));
    }, 120_000);

    it('before the call reached the sink: nothing sent, outcome unknown, the operator asked', async () => {
      expect(landed(held)).toBe(0);
      expect(await rig.actionStatus(actions.held.actionId)).toBe('unknown');
      expect(await rig.brokenPromises([{ actionId: actions.held.actionId, effects: 0 }])).toEqual([]);
    });

    it('while the SMTP server held the message: accepted once, unknown, not sent again', async () => {
      expect(landed(slowAck)).toBe(1);
      expect(await rig.actionStatus(actions.slowAck.actionId)).toBe('unknown');
      expect(await rig.brokenPromises([{ actionId: actions.slowAck.actionId, effects: 1 }])).toEqual([]);
    });

    it('after a receiver that ignores the key committed, before it answered: one request, unknown', async () => {
      expect(rig.crm.requests.filter((request) => request.body === crmBody)).toHaveLength(1);
      expect(await rig.actionStatus(actions.crm.actionId)).toBe('unknown');
      expect(
        await rig.brokenPromises([{ actionId: actions.crm.actionId, effects: committed('crm', crmBody) }]),
      ).toEqual([]);
    });

    it('after a receiver that honours the key committed: called again under the same key, committed once', async () => {
      const requests = rig.ledger.requests.filter((request) => request.body === ledgerBody);
      expect(requests).toHaveLength(2);
      expect(new Set(requests.map((request) => request.key)).size).toBe(1);
      expect(committed('ledger', ledgerBody)).toBe(1);
      expect(await rig.actionStatus(actions.ledger.actionId)).toBe('succeeded');
      expect(await rig.brokenPromises([{ actionId: actions.ledger.actionId, effects: 1 }])).toEqual([]);
    });

    it('after the answer was read, before the outcome was recorded: accepted once, unknown', async () => {
      expect(landed(answered)).toBe(1);
      expect(await rig.actionStatus(actions.answered.actionId)).toBe('unknown');
      expect(await rig.brokenPromises([{ actionId: actions.answered.actionId, effects: 1 }])).toEqual([]);
    });
  });

  describe('faults without a kill (the standby alone)', () => {
    // The second main process (for the due-checks) starts only now, in the background: it has no
    // console adapter, so a takeover it made earlier would have logged its failure card as not
    // shown (console threads live in one process). No case from here on needs a takeover.
    let replica: ReturnType<FaultRig['replica']>;
    beforeAll(() => {
      thaw(standby);
      replica = rig.replica();
      // Awaited by its case; a failure before then is reported there.
      replica.catch(() => {});
    });

    it('the SMTP connection drops after DATA: unknown, the card says it may have happened, nothing re-sent', async () => {
      rig.sink.script.push({ kind: 'drop_after_data' });
      const proposed = await rig.propose('email dropped@example.com "Report" The report.');
      await rig.approve(proposed);
      await rig.settled([proposed.actionId]);
      expect(landed('dropped@example.com')).toBe(1);
      // One connection: not retried after DATA.
      expect(rig.tap.sessionsFor('dropped@example.com')).toHaveLength(1);
      expect(await rig.actionStatus(proposed.actionId)).toBe('unknown');
      expect(await rig.brokenPromises([{ actionId: proposed.actionId, effects: 1 }])).toEqual([]);
    });

    it('the SMTP server answers later than the per-attempt timeout: unknown, accepted once', async () => {
      rig.sink.script.push({ kind: 'ack_after_ms', ms: 3 * STANDBY_TIMEOUT_SECONDS * 1000 });
      const proposed = await rig.propose('email late@example.com "Minutes" The minutes.');
      await rig.approve(proposed);
      await rig.settled([proposed.actionId]);
      expect(landed('late@example.com')).toBe(1);
      expect(rig.tap.sessionsFor('late@example.com')).toHaveLength(1);
      expect(await rig.actionStatus(proposed.actionId)).toBe('unknown');
      expect(await rig.brokenPromises([{ actionId: proposed.actionId, effects: 1 }])).toEqual([]);
    });

    it('approve pressed ten times at once: one execution, one message', async () => {
      const proposed = await rig.propose('email ten-clicks@example.com "Offer" The offer.');
      const retried = randomUUID();
      await Promise.all([
        ...Array.from({ length: 4 }, () => rig.approve(proposed)),
        ...Array.from({ length: 4 }, () => rig.say(`approve #${proposed.approvalId}`)),
        // A platform's retries of one delivery.
        ...Array.from({ length: 2 }, () => rig.say(`approve #${proposed.approvalId}`, retried)),
      ]);
      await rig.settled([proposed.actionId]);
      await waitUntil(
        () => rig.main.chat.texts().some((text) => text.startsWith('Done: sent an e-mail to ten-clicks@')),
        'the reply',
      );
      expect(landed('ten-clicks@example.com')).toBe(1);
      expect(await rig.actionStatus(proposed.actionId)).toBe('succeeded');
      expect(await rig.attempts(proposed.actionId)).toBe(1);
      const decided = await rig.db.pool.query(
        `SELECT count(*)::int AS n FROM events WHERE verb = 'approved' AND action_id = $1`,
        [proposed.actionId],
      );
      expect(decided.rows[0].n).toBe(1);
      expect(
        rig.main.chat.texts().filter((text) => text.startsWith('Done: sent an e-mail to ten-clicks@')),
      ).toHaveLength(1);
      expect(await rig.brokenPromises([{ actionId: proposed.actionId, effects: 1 }])).toEqual([]);
    });

    it('two replicas’ due-checks on one database: each scheduled action runs once', async () => {
      const recipients = ['due-a@example.com', 'due-b@example.com', 'due-c@example.com'];
      const scheduled: Proposed[] = [];
      for (const recipient of recipients) {
        const proposed = await rig.propose(
          `at 9:00 tomorrow, email ${recipient} "Standup" See you at standup.`,
        );
        await rig.approve(proposed);
        scheduled.push(proposed);
      }
      const ids = scheduled.map((proposed) => proposed.actionId);
      await waitUntil(
        async () =>
          (await rig.db.pool.query(`SELECT 1 FROM actions WHERE id = ANY($1) AND status = 'approved'`, [ids]))
            .rows.length === ids.length,
        'the actions to wait for their time',
      );
      // A second main process: its due-check and the test's own both look every half second.
      await replica;
      // Tomorrow 9:00 comes now for all three at once (the processes run on the real clock).
      await rig.db.pool.query('UPDATE actions SET scheduled_at = now() WHERE id = ANY($1)', [ids]);
      await rig.settled(ids);
      for (const [index, recipient] of recipients.entries()) {
        const actionId = ids[index] as number;
        expect(landed(recipient)).toBe(1);
        expect(await rig.actionStatus(actionId)).toBe('succeeded');
        expect(await rig.attempts(actionId)).toBe(1);
      }
      expect(
        await rig.brokenPromises(
          ids.map((actionId, index) => ({ actionId, effects: landed(recipients[index] ?? '') })),
        ),
      ).toEqual([]);
    });
  });

  describe('the database connection lost between an outcome and its failure card', () => {
    // The worker records `unknown` and its connection is cut at the failure's INSERT (as when the
    // worker dies there); the retried job finds the outcome already recorded (replayed) and must
    // still record the failure, once, so a card offers “It happened” / “Do it again”.
    it('an unknown outcome whose failure was cut off is still put to the operator by the retried job', async () => {
      const proposed = await rig.propose('email lost-card@example.com "Terms" The terms.');
      const stall = await WriteStall.on(rig.db, 'failures');
      try {
        rig.sink.script.push({ kind: 'drop_after_data' });
        await rig.approve(proposed);
        const writer = await stall.writer(/^\s*INSERT INTO failures/);
        expect(await rig.actionStatus(proposed.actionId)).toBe('unknown');
        await stall.cut(writer);
      } finally {
        await stall.release();
      }
      await rig.settled([proposed.actionId]);
      expect(landed('lost-card@example.com')).toBe(1);
      expect(await rig.brokenPromises([{ actionId: proposed.actionId, effects: 1 }])).toEqual([]);
    });
  });

  it('left nothing stuck and nothing lost: every approved action ended, and nothing landed twice', async () => {
    const open = await rig.db.pool.query(
      `SELECT id, status FROM actions WHERE status IN ('approved', 'executing')
       UNION ALL SELECT id, status FROM goals WHERE status = 'running'`,
    );
    expect(open.rows).toEqual([]);
    expect(rig.sink.duplicates()).toEqual([]);
    expect([...rig.crm.requestCounts().values()].filter((count) => count > 1)).toEqual([]);
  });
});
