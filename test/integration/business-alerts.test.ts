import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectorResilience } from '../../connectors/resilience.ts';
import { ManualClock } from '../../core/clock.ts';
import { SpineError } from '../../core/errors.ts';
import type { Database } from '../../db/database.ts';
import { migrate } from '../../db/migrate.ts';
import { BusinessAlerts, reportCircuits } from '../../ledger/alerts.ts';
import { type AlertRules, DEFAULT_ALERT_RULES } from '../../ledger/alerts-config.ts';
import { PROCESS_NAME, startAlertLoop } from '../../ledger/alerts-loop.ts';
import { RecordingChat } from '../fakes/recording-chat.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { LedgerSeed } from '../support/ledger-seed.ts';
import { createTestSpine } from '../support/test-spine.ts';

const ALL_OFF: AlertRules = {
  intervalMs: 60_000,
  moneyActionFailed: false,
  failuresPerDay: null,
  digestUndeliveredMinutes: null,
  circuitOpenMinutes: null,
  spendOverBudget: null,
};

/** A Stripe refund that failed at 09:30 on 2 March, and its failure. */
async function failedRefund(seed: LedgerSeed, operatorId: number, goalId: number) {
  const at = '2026-03-02T09:30:00Z';
  const actionId = await seed.action({
    goalId,
    operatorId,
    connector: 'stripe',
    operation: 'refund',
    risk: 'money',
    status: 'failed',
    at,
  });
  return { actionId, failureId: await seed.failure(operatorId, { actionId, at }) };
}

describe.each(DATABASE_KINDS)('business alerts on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);

  afterAll(async () => {
    await databases.closeAll();
  });

  async function setup(
    rules: Partial<AlertRules>,
    options: { start: string; timezone?: string; budget?: number },
  ) {
    const db: Database = await databases.open();
    await migrate(db.pool, db.schema);
    const seed = new LedgerSeed(db.pool);
    const operatorId = await seed.operator(options.timezone ?? 'UTC');
    // The operator last talked to Spine in a Slack thread: alerts go there.
    const goalId = await seed.goal(operatorId, { channel: 'slack', conversation: 'C42' });
    const clock = new ManualClock(options.start);
    const chat = new RecordingChat();
    const alerts = new BusinessAlerts({
      db: db.pool,
      chat,
      clock,
      logger: pino({ level: 'silent' }),
      rules: { ...ALL_OFF, ...rules },
      dailyBudgetUsd: options.budget ?? null,
    });
    const alertEvents = async () =>
      (await db.pool.query(`SELECT * FROM events WHERE verb = 'alerted you' ORDER BY id`)).rows;
    return { db, seed, operatorId, goalId, clock, chat, alerts, alertEvents };
  }

  it('posts one alert when a money action fails, with Retry / Dismiss, however often the rules run', async () => {
    const { seed, operatorId, goalId, chat, alerts, alertEvents } = await setup(
      { moneyActionFailed: true },
      { start: '2026-03-02T10:00:00Z' },
    );
    // A failed write action is not a money alert.
    await seed.action({ goalId, operatorId, status: 'failed', at: '2026-03-02T09:00:00Z' });
    expect(await alerts.evaluate()).toEqual([]);
    const { actionId, failureId } = await failedRefund(seed, operatorId, goalId);

    const rounds = await Promise.all([alerts.evaluate(), alerts.evaluate(), alerts.evaluate()]);
    expect(rounds.flat()).toHaveLength(1);
    expect(await alerts.evaluate()).toEqual([]);

    expect(chat.posts).toHaveLength(1);
    const [post] = chat.posts;
    expect(post?.thread).toEqual({ channel: 'slack', conversation: 'C42' });
    expect(post?.message.text).toBe(
      `Alert: A money action failed: doing it (action #${actionId}). Check the service first. Retry runs it again ` +
        'under a new key (a payment that did go through is not repeated by the service); Dismiss if you settled it by hand.',
    );
    expect(post?.message.blocks).toContainEqual({
      type: 'buttons',
      buttons: [
        { action: `failure:retry:${failureId}`, label: 'Retry', style: 'primary' },
        { action: `failure:dismiss:${failureId}`, label: 'Dismiss' },
      ],
    });
    const events = await alertEvents();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: 'spine',
      verb: 'alerted you',
      operator_id: operatorId,
      channel: 'slack',
    });
  });

  it('posts an alert again when its post failed, once it gets through, and never twice', async () => {
    const { db, seed, operatorId, goalId, chat, alerts, alertEvents } = await setup(
      { moneyActionFailed: true },
      { start: '2026-03-02T10:00:00Z' },
    );
    const { actionId } = await failedRefund(seed, operatorId, goalId);
    // Slack is down when the rule fires: the alert is recorded (and logged), not posted.
    const post = chat.post.bind(chat);
    chat.post = async () => {
      throw new Error('slack is down');
    };
    expect(await alerts.evaluate()).toHaveLength(1);
    expect(chat.posts).toHaveLength(0);
    // Chat is back, but the failed attempt began less than a minute ago: nothing yet.
    chat.post = post;
    expect(await alerts.evaluate()).toEqual([]);
    expect(chat.posts).toHaveLength(0);
    // A minute later the next evaluation posts it, with its buttons; later ones do not repeat it.
    await db.pool.query(`UPDATE alerts SET posting_at = now() - interval '2 minutes'`);
    await Promise.all([alerts.evaluate(), alerts.evaluate()]);
    await alerts.evaluate();
    expect(chat.posts).toHaveLength(1);
    expect(chat.posts[0]?.message.text).toContain(`A money action failed: doing it (action #${actionId})`);
    expect(chat.posts[0]?.message.blocks).toContainEqual(expect.objectContaining({ type: 'buttons' }));
    expect(await alertEvents()).toHaveLength(1);
    const [row] = (await db.pool.query('SELECT message_ref, post_attempts FROM alerts')).rows;
    expect(row?.message_ref).not.toBeNull();
    expect(row?.post_attempts).toBe(2);
  });

  it('alerts once when failures in a local day pass the threshold, and again on another day', async () => {
    const { seed, operatorId, clock, chat, alerts } = await setup(
      { failuresPerDay: 2 },
      // 23:30 in Berlin on 2 March.
      { start: '2026-03-02T22:30:00Z', timezone: 'Europe/Berlin' },
    );
    // 00:30 Berlin on the 2nd: the same local day; 22:30 UTC on the 1st is the day before.
    await seed.failure(operatorId, { at: '2026-03-01T22:30:00Z' });
    await seed.failure(operatorId, { at: '2026-03-01T23:30:00Z' });
    await seed.failure(operatorId, { at: '2026-03-02T12:00:00Z' });
    expect(await alerts.evaluate()).toEqual([]);
    await seed.failure(operatorId, { at: '2026-03-02T22:00:00Z' });
    const [fired] = await alerts.evaluate();
    expect(fired?.dedupeKey).toBe(`failures_per_day:${operatorId}:2026-03-02`);
    expect(chat.texts()[0]).toMatch(
      /^Alert: 3 things failed today \(2026-03-02\), more than your alert threshold of 2; 3 still open\./,
    );
    await seed.failure(operatorId, { at: '2026-03-02T22:10:00Z' });
    expect(await alerts.evaluate()).toEqual([]);

    clock.set('2026-03-03T12:00:00Z');
    for (const at of ['2026-03-03T08:00:00Z', '2026-03-03T09:00:00Z', '2026-03-03T10:00:00Z'])
      await seed.failure(operatorId, { at });
    expect((await alerts.evaluate()).map((alert) => alert.dedupeKey)).toEqual([
      `failures_per_day:${operatorId}:2026-03-03`,
    ]);
    expect(chat.posts).toHaveLength(2);
  });

  it('alerts once when the digest is not delivered 15 minutes after its time', async () => {
    const { db, operatorId, clock, chat, alerts } = await setup(
      { digestUndeliveredMinutes: 15 },
      { start: '2026-03-02T08:10:00Z' },
    );
    expect(await alerts.evaluate()).toEqual([]);
    clock.set('2026-03-02T08:16:00Z');
    expect((await alerts.evaluate()).map((alert) => alert.rule)).toEqual(['digest_undelivered']);
    expect(chat.texts()[0]).toMatch(
      /^Alert: Today's digest was due at 08:00 and has not been delivered 15 minutes later\./,
    );
    clock.set('2026-03-02T09:00:00Z');
    expect(await alerts.evaluate()).toEqual([]);
    // The next day's digest goes out on time: no alert.
    await db.pool.query(
      `INSERT INTO digests (operator_id, local_date, status, due_at, sent_at) VALUES ($1, '2026-03-03', 'sent', $2, $2)`,
      [operatorId, '2026-03-03T08:00:00Z'],
    );
    clock.set('2026-03-03T09:00:00Z');
    expect(await alerts.evaluate()).toEqual([]);
    expect(chat.posts).toHaveLength(1);
  });

  it("alerts once when a connector's circuit has been open for 15 minutes", async () => {
    const { db, clock, chat, alerts } = await setup(
      { circuitOpenMinutes: 15 },
      { start: '2026-03-02T10:00:00Z' },
    );
    const resilience = new ConnectorResilience(
      { maxAttempts: 1, breakerThreshold: 2, halfOpenAfterMs: 3_600_000 },
      () => clock.now(),
    );
    const down = () =>
      resilience
        .run('crm', async () => {
          throw new SpineError('connector.unavailable', 'crm answered 503', {
            category: 'third_party',
            retryable: true,
          });
        })
        .catch(() => {});
    await down();
    await down();
    expect(resilience.health()[0]?.circuit).toBe('open');
    const report = () =>
      reportCircuits(db.pool, { process: 'worker-a', health: resilience.health(), now: clock.now() });

    await report();
    clock.advance(10 * 60_000);
    await report();
    expect(await alerts.evaluate()).toEqual([]);
    clock.advance(6 * 60_000);
    await report();
    const [fired] = await alerts.evaluate();
    expect(fired?.rule).toBe('circuit_open');
    expect(chat.texts()[0]).toMatch(
      /^Alert: crm has been failing for 16 minutes, so Spine stopped calling it \(last error: /,
    );
    clock.advance(60_000);
    await report();
    expect(await alerts.evaluate()).toEqual([]);
    expect(chat.posts).toHaveLength(1);

    // Once the circuit closes, the report is gone: nothing more to alert about.
    await reportCircuits(db.pool, {
      process: 'worker-a',
      health: resilience.health().map((entry) => ({ ...entry, circuit: 'closed' as const })),
      now: clock.now(),
    });
    expect((await db.pool.query('SELECT * FROM connector_circuits')).rows).toEqual([]);
  });

  it('ignores circuit reports of a process that stopped reporting', async () => {
    const { db, clock, alerts } = await setup({ circuitOpenMinutes: 15 }, { start: '2026-03-02T10:00:00Z' });
    const health = [
      {
        connector: 'crm',
        circuit: 'open' as const,
        consecutiveFailures: 5,
        lastError: 'down',
        lastErrorAt: null,
        lastSuccessAt: null,
      },
    ];
    await reportCircuits(db.pool, { process: 'gone', health, now: clock.now() });
    clock.advance(20 * 60_000);
    expect(await alerts.evaluate()).toEqual([]);
  });

  it('alerts once when model spend passes the daily budget', async () => {
    const { seed, operatorId, chat, alerts } = await setup(
      { spendOverBudget: 'model-budget' },
      { start: '2026-03-02T18:00:00Z', budget: 1 },
    );
    await seed.usage(operatorId, { costUsd: 0.6, at: '2026-03-02T09:00:00Z', day: '2026-03-02' });
    // Yesterday's spend does not count today.
    await seed.usage(operatorId, { costUsd: 5, at: '2026-03-01T09:00:00Z', day: '2026-03-01' });
    expect(await alerts.evaluate()).toEqual([]);
    await seed.usage(operatorId, { costUsd: 0.6, at: '2026-03-02T10:00:00Z', day: '2026-03-02' });
    expect((await alerts.evaluate()).map((alert) => alert.rule)).toEqual(['spend_over_budget']);
    expect(await alerts.evaluate()).toEqual([]);
    expect(chat.texts()).toEqual([
      'Alert: Model spend today is $1.20, above the daily budget of $1.00. Type `usage` to see which goals cost ' +
        'the most. To allow more, raise SPINE_DAILY_BUDGET_USD (or `alerts.spendOverBudget` in spine.config.yaml) ' +
        'and restart; the budget resets at midnight.',
    ]);
  });

  it("the alert loop's tick reports this process's circuits, then evaluates the rules", async () => {
    const { db, clock, chat, alerts } = await setup(
      { circuitOpenMinutes: 15 },
      { start: '2026-03-02T10:00:00Z' },
    );
    let circuit: 'open' | 'closed' = 'open';
    const loop = startAlertLoop({
      db: db.pool,
      clock,
      logger: pino({ level: 'silent' }),
      everyMs: 3_600_000,
      health: () => [
        {
          connector: 'crm',
          circuit,
          consecutiveFailures: 5,
          lastError: 'down',
          lastErrorAt: null,
          lastSuccessAt: null,
        },
      ],
      alerts,
    });
    try {
      await loop.tick();
      expect((await db.pool.query('SELECT process, state FROM connector_circuits')).rows).toEqual([
        { process: PROCESS_NAME, state: 'open' },
      ]);
      clock.advance(15 * 60_000);
      await loop.tick();
      await loop.tick();
      expect(chat.posts).toHaveLength(1);
      circuit = 'closed';
      await loop.tick();
      expect((await db.pool.query('SELECT * FROM connector_circuits')).rows).toEqual([]);
    } finally {
      loop.stop();
    }
  });

  it("is wired into Spine: rules from spine.config.yaml, the alert in the operator's chat and in the log", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spine-alerts-'));
    writeFileSync(join(dir, 'spine.config.yaml'), 'alerts:\n  failuresPerDay: 1\n');
    const test = await createTestSpine(await databases.open(), {
      clock: new ManualClock('2026-03-02T12:00:00Z'),
      env: { SPINE_CONFIG: join(dir, 'spine.config.yaml') },
    });
    try {
      const { spine } = test;
      const seed = new LedgerSeed(spine.db.pool);
      await seed.failure(spine.operator.id, { at: '2026-03-02T10:00:00Z' });
      await seed.failure(spine.operator.id, { at: '2026-03-02T11:00:00Z' });
      expect((await spine.alerts.evaluate()).map((alert) => alert.rule)).toEqual(['failures_per_day']);
      expect(test.chat.texts()).toHaveLength(1);
      expect(test.chat.posts[0]?.thread).toEqual({ channel: 'console', conversation: 'local' });
      const [event] = (await spine.repos.events.list({ operatorId: spine.operator.id })).filter(
        (entry) => entry.verb === 'alerted you',
      );
      expect(event?.ref).toMatch(/^alert #\d+$/);
    } finally {
      await test.spine.close();
    }
  });

  it('stays quiet when a rule is turned off', async () => {
    const { seed, operatorId, goalId, alerts } = await setup(
      { ...DEFAULT_ALERT_RULES, moneyActionFailed: false, failuresPerDay: null },
      { start: '2026-03-02T07:00:00Z' },
    );
    await seed.action({ goalId, operatorId, risk: 'money', status: 'failed', at: '2026-03-02T06:00:00Z' });
    for (let index = 0; index < 8; index += 1) await seed.failure(operatorId, { at: '2026-03-02T06:30:00Z' });
    expect(await alerts.evaluate()).toEqual([]);
  });
});
