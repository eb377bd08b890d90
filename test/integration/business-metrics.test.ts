import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MINUTES_SAVED } from '../../app/config.ts';
import { migrate } from '../../db/migrate.ts';
import { BusinessMetrics, describeBusinessDay } from '../../ledger/business-metrics.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { LedgerSeed, seedTwoDays } from '../support/ledger-seed.ts';

describe.each(DATABASE_KINDS)('business metrics on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);

  afterAll(async () => {
    await databases.closeAll();
  });

  async function metricsWithSeed() {
    const db = await databases.open();
    await migrate(db.pool, db.schema);
    const operatorId = await seedTwoDays(new LedgerSeed(db.pool));
    return { db, operatorId, metrics: new BusinessMetrics(db.pool, { minutesSaved: DEFAULT_MINUTES_SAVED }) };
  }

  it('computes time saved, errors introduced, corrective actions, approvals and spend per local day', async () => {
    const { metrics, operatorId } = await metricsWithSeed();
    const daily = await metrics.daily(operatorId, { days: 3, now: new Date('2026-02-11T23:00:00Z') });
    expect(daily).toEqual([
      {
        day: '2026-02-09',
        minutesSaved: 0,
        actionsExecuted: 0,
        errorsIntroduced: 0,
        correctiveActions: 0,
        approvalsApproved: 0,
        approvalsEdited: 0,
        approvalsRejected: 0,
        modelSpendUsd: 0,
      },
      {
        day: '2026-02-10',
        minutesSaved: 5,
        actionsExecuted: 1,
        errorsIntroduced: 0,
        correctiveActions: 0,
        approvalsApproved: 0,
        approvalsEdited: 0,
        approvalsRejected: 1,
        modelSpendUsd: 0.25,
      },
      {
        day: '2026-02-11',
        // e-mail 5 + retried webhook 3 + edited e-mail 5 + answered goal 2; the undone event saved nothing.
        minutesSaved: 15,
        actionsExecuted: 4,
        // undone calendar event, failed webhook, edited e-mail
        errorsIntroduced: 3,
        // the undo and the retry
        correctiveActions: 2,
        approvalsApproved: 1,
        approvalsEdited: 1,
        approvalsRejected: 0,
        modelSpendUsd: 0.5,
      },
    ]);
  });

  it('adds the days up with approval rates, and reads one day for the digest', async () => {
    const { metrics, operatorId } = await metricsWithSeed();
    const totals = await metrics.totals(operatorId, { days: 2, now: new Date('2026-02-12T03:00:00Z') });
    expect(totals).toMatchObject({
      from: '2026-02-10',
      to: '2026-02-11',
      minutesSaved: 20,
      actionsExecuted: 5,
      errorsIntroduced: 3,
      correctiveActions: 2,
      approvalsApproved: 1,
      approvalsEdited: 1,
      approvalsRejected: 1,
      modelSpendUsd: 0.75,
    });
    expect(totals.approvalRates?.approved).toBeCloseTo(1 / 3);
    expect(totals.approvalRates?.edited).toBeCloseTo(1 / 3);
    expect(totals.approvalRates?.rejected).toBeCloseTo(1 / 3);
    const day = await metrics.day(operatorId, '2026-02-11');
    expect(describeBusinessDay(day)).toBe(
      'Yesterday (2026-02-11): about 15 min saved, 4 actions executed, 3 errors introduced, 2 corrective actions; ' +
        'approvals: 1 approved, 1 edited, 0 rejected.',
    );
  });

  it('uses the configured minutes per operation', async () => {
    const { db, operatorId } = await metricsWithSeed();
    const metrics = new BusinessMetrics(db.pool, { minutesSaved: { 'email.send_email': 10 } });
    const [day] = await metrics.daily(operatorId, { days: 1, now: new Date('2026-02-11T06:00:00Z') });
    expect(day?.minutesSaved).toBe(20);
  });

  it("estimates the time saved since an instant (the digest's figure since the last digest)", async () => {
    const { metrics, operatorId } = await metricsWithSeed();
    // Everything of the 11th but the e-mail sent at 04:30 UTC.
    expect(await metrics.minutesSavedSince(operatorId, new Date('2026-02-11T05:00:00Z'))).toBe(15);
    expect(await metrics.minutesSavedSince(operatorId, new Date('2026-02-11T04:00:00Z'))).toBe(20);
  });

  it('gives lifetime totals of every operator for /metrics', async () => {
    const { metrics } = await metricsWithSeed();
    const snapshot = await metrics.snapshot();
    expect(snapshot).toMatchObject({
      minutesSaved: 20,
      errorsIntroduced: 3,
      correctiveActions: 2,
      approvals: { approved: 1, edited: 1, rejected: 1 },
      modelSpendUsd: 0.75,
      openFailures: 0,
      goalsByStatus: { done: 2 },
    });
    expect(snapshot.executed).toEqual(
      expect.arrayContaining([
        { connector: 'email', operation: 'send_email', count: 3 },
        { connector: 'calendar', operation: 'create_event', count: 1 },
        { connector: 'webhook', operation: 'post', count: 1 },
      ]),
    );
    expect(snapshot.executed).toHaveLength(3);
  });
});
