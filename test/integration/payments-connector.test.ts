import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { recordCompensation } from '../../connectors/compensation.ts';
import { volatileCheckpoints } from '../../connectors/connector.ts';
import { hashParams } from '../../connectors/connector-runtime.ts';
import { checkGuardrails } from '../../connectors/guardrails.ts';
import { createPaymentsConnector, type UnpaidInvoice } from '../../connectors/payments/payments-connector.ts';
import { createStripeClient } from '../../connectors/payments/stripe-client.ts';
import { ManualClock } from '../../core/clock.ts';
import { decidePolicy } from '../../core/policy.ts';
import { FakeStripeApi } from '../fakes/fake-stripe-api.ts';
import { createConnectorHarness } from '../support/connector-harness.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { createTestSpine } from '../support/test-spine.ts';

const KEY = 'sk_test_fake_key_123';
const NOW = new Date('2026-11-25T10:00:00Z');
const DAY = 86_400_000;

describe.each(DATABASE_KINDS)('payments connector (Stripe) on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);
  let stripe: FakeStripeApi;

  async function setup(secretKey = KEY) {
    stripe = new FakeStripeApi(KEY);
    stripe.now = () => Math.floor(NOW.getTime() / 1000);
    const apiUrl = await stripe.start();
    const clock = new ManualClock(NOW);
    const connector = createPaymentsConnector({ stripe: createStripeClient({ secretKey, apiUrl }), clock });
    const db = await databases.open();
    const harness = await createConnectorHarness(db, [connector], {
      resilience: { initialDelayMs: 10, maxDelayMs: 50, timeoutMs: 5000 },
    });
    return { harness, clock, db };
  }

  const invoiceProposal = (email: string, amounts: number[], extra: Record<string, unknown> = {}) => ({
    connector: 'payments',
    operation: 'create_invoice',
    params: {
      customerEmail: email,
      customerName: 'Dana Scully',
      items: amounts.map((amount, index) => ({ description: `Consulting ${index + 1}`, amount })),
      currency: 'EUR',
      dueDays: 14,
      ...extra,
    },
    why: 'test',
  });

  beforeAll(async () => {
    await databases.open();
  }, 180_000);
  afterEach(async () => {
    await stripe?.stop();
  });
  afterAll(async () => {
    await databases.closeAll();
  });

  it('lists unpaid invoices overdue by some days, in the documented shape', async () => {
    const { harness } = await setup();
    const old = stripe.seedInvoice({
      customerName: 'Old Co',
      customerEmail: 'ap@old.example',
      amountDue: 12_050,
      dueDate: new Date(NOW.getTime() - 20 * DAY),
    });
    stripe.seedInvoice({
      customerName: 'Recent Co',
      customerEmail: 'ap@recent.example',
      amountDue: 5_000,
      dueDate: new Date(NOW.getTime() - 2 * DAY),
    });
    stripe.seedInvoice({
      customerName: 'Paid Co',
      customerEmail: 'ap@paid.example',
      amountDue: 0,
      dueDate: new Date(NOW.getTime() - 30 * DAY),
      status: 'paid',
    });
    const action = await harness.store(
      { connector: 'payments', operation: 'list_unpaid_invoices', params: { olderThanDays: 7 }, why: 'test' },
      'k-list',
    );
    expect(action.risk).toBe('read');
    const outcome = await harness.runtime.execute(action.id);
    expect(outcome.status).toBe('succeeded');
    const invoices = (outcome.action.result as { invoices: UnpaidInvoice[] }).invoices;
    expect(invoices).toEqual([
      {
        id: old.id,
        number: old.number,
        customerName: 'Old Co',
        customerEmail: 'ap@old.example',
        amountDue: 120.5,
        currency: 'eur',
        dueDate: new Date(NOW.getTime() - 20 * DAY).toISOString(),
        hostedInvoiceUrl: `https://invoice.stripe.test/${old.id}`,
      },
    ]);
    expect(stripe.requests[0]?.authorization).toBe(`Bearer ${KEY}`);
    expect(stripe.requests[0]?.params).toMatchObject({ status: 'open', limit: '25' });
  });

  it('creates and sends an invoice only after approval, with the amount and customer on the card', async () => {
    const { harness } = await setup();
    const prepared = await harness.runtime.prepare(invoiceProposal('dana@example.com', [100, 20.5]));
    expect(prepared.risk).toBe('money');
    expect(prepared.amount).toBe(120.5);
    expect(prepared.preview.title).toBe('Send an invoice of 120.50 EUR to dana@example.com');
    expect(prepared.preview.fields).toContainEqual({
      label: 'Customer',
      value: 'Dana Scully <dana@example.com>',
    });
    expect(prepared.preview.fields).toContainEqual({ label: 'Total', value: '120.50 EUR' });
    // Money is always approved: even trusted and past probation.
    const verdict = decidePolicy({
      risk: prepared.risk,
      external: true,
      now: NOW,
      probationUntil: null,
      trusted: true,
      limitExceeded: null,
    });
    expect(verdict.decision).toBe('approval');
    const waiting = await harness.store(
      invoiceProposal('dana@example.com', [100, 20.5]),
      'k-inv',
      'awaiting_approval',
    );
    await expect(harness.runtime.execute(waiting.id)).rejects.toMatchObject({
      code: 'action.not_executable',
    });
    expect(stripe.requests).toHaveLength(0);

    expect(await harness.repos.actions.transition(waiting.id, ['awaiting_approval'], 'approved')).toBe(true);
    const outcome = await harness.runtime.execute(waiting.id);
    expect(outcome.status).toBe('succeeded');
    const invoice = [...stripe.invoices.values()][0];
    expect(invoice).toMatchObject({
      status: 'open',
      amount_due: 12_050,
      customer_email: 'dana@example.com',
      sent: 1,
    });
    expect(outcome.action.result).toMatchObject({ id: invoice?.id, status: 'open', amountDue: 120.5 });
    // Every write carries a key derived from the action's key.
    for (const write of stripe.writes())
      expect(write.idempotencyKey).toMatch(/^spine:k-inv:(customer|invoice|item-\d|finalize|send)$/);
  });

  it('sends the same Idempotency-Key when a lost response is retried, and creates one invoice', async () => {
    const { harness } = await setup();
    stripe.faults.push({ match: 'POST /v1/invoices', fault: { kind: 'drop_after_effect' } });
    stripe.faults.push({ match: 'POST /v1/invoiceitems', fault: { kind: 'status', status: 503 } });
    const action = await harness.store(invoiceProposal('fox@example.com', [75]), 'k-retry');
    const outcome = await harness.runtime.execute(action.id);
    expect(outcome.status).toBe('succeeded');
    expect(stripe.invoices.size).toBe(1);
    expect(stripe.customers.size).toBe(1);
    expect(stripe.invoiceItems.size).toBe(1);
    const invoiceCreates = stripe.requests.filter(
      (request) => request.method === 'POST' && request.path === '/v1/invoices',
    );
    expect(invoiceCreates.length).toBeGreaterThanOrEqual(2);
    expect(new Set(invoiceCreates.map((request) => request.idempotencyKey))).toEqual(
      new Set(['spine:k-retry:invoice']),
    );
    expect(invoiceCreates.at(-1)?.replayed).toBe(true);
    // Executing the stored action again replays Spine's stored outcome: no new request.
    const before = stripe.requests.length;
    expect((await harness.runtime.execute(action.id)).replayed).toBe(true);
    expect(stripe.requests).toHaveLength(before);
  });

  it('voids a sent invoice as its undo', async () => {
    const { harness } = await setup();
    const action = await harness.store(invoiceProposal('mulder@example.com', [50]), 'k-undo');
    const done = await harness.runtime.execute(action.id);
    expect(done.status).toBe('succeeded');
    const compensation = await recordCompensation(
      harness.runtime,
      harness.repos.connectorState,
      done.action,
      'oops',
    );
    expect(compensation.action.preview.title).toMatch(/^Void invoice FAKE-/);
    const undone = await harness.runtime.execute(compensation.action.id);
    expect(undone.status).toBe('succeeded');
    expect([...stripe.invoices.values()][0]?.status).toBe('void');
    expect(stripe.writes().at(-1)?.idempotencyKey).toBe(`spine:${compensation.action.idempotencyKey}:void`);
  });

  it('refunds as its own action that cannot be undone, and maps Stripe errors', async () => {
    const { harness } = await setup();
    const refund = await harness.store(
      {
        connector: 'payments',
        operation: 'refund',
        params: { payment: 'pi_123', amount: 30, currency: 'eur', reason: 'requested_by_customer' },
        why: 'test',
      },
      'k-refund',
    );
    expect(refund.reversible).toBe(false);
    expect(refund.preview.fields.find((field) => field.label === 'Undo')?.value).toMatch(/Not possible/);
    const outcome = await harness.runtime.execute(refund.id);
    expect(outcome.status).toBe('succeeded');
    expect(outcome.action.result).toMatchObject({ status: 'succeeded', amount: 30 });
    expect(stripe.writes()[0]).toMatchObject({
      path: '/v1/refunds',
      idempotencyKey: 'spine:k-refund:refund',
      params: { payment_intent: 'pi_123', amount: '3000' },
    });
    await expect(
      recordCompensation(harness.runtime, harness.repos.connectorState, outcome.action, 'no'),
    ).rejects.toMatchObject({
      code: 'connector.not_reversible',
    });
    // A 4xx is permanent with Stripe's message; nothing is retried.
    const send = await harness.store(
      { connector: 'payments', operation: 'send_invoice', params: { invoiceId: 'in_missing' }, why: 'test' },
      'k-missing',
    );
    const failed = await harness.runtime.execute(send.id);
    expect(failed.status).toBe('failed');
    expect(failed.action.error).toMatchObject({ code: 'connector.rejected' });
    expect(failed.action.error?.message).toContain('No such invoice');
  });

  it("retries a 429 after Stripe's Retry-After and refuses a wrong key permanently", async () => {
    const { harness } = await setup();
    stripe.faults.push({
      match: 'POST /v1/prices',
      fault: { kind: 'status', status: 429, retryAfterSeconds: 0 },
    });
    const link = await harness.store(
      {
        connector: 'payments',
        operation: 'create_payment_link',
        params: { description: 'Workshop seat', amount: 99, currency: 'eur', quantity: 2 },
        why: 'test',
      },
      'k-link',
    );
    const outcome = await harness.runtime.execute(link.id);
    expect(outcome.status).toBe('succeeded');
    expect(outcome.action.result).toMatchObject({
      active: true,
      url: expect.stringContaining('https://buy.stripe.test/'),
    });
    expect(stripe.paymentLinks.size).toBe(1);
    const prices = stripe.requests.filter((request) => request.path === '/v1/prices');
    expect(prices.map((request) => request.idempotencyKey)).toEqual([
      'spine:k-link:price',
      'spine:k-link:price',
    ]);
    // Undo deactivates the link.
    const undo = await recordCompensation(
      harness.runtime,
      harness.repos.connectorState,
      outcome.action,
      'no',
    );
    expect((await harness.runtime.execute(undo.action.id)).status).toBe('succeeded');
    expect([...stripe.paymentLinks.values()][0]?.active).toBe(false);

    await stripe.stop();
    const wrong = await setup('sk_test_wrong');
    const list = await wrong.harness.store(
      { connector: 'payments', operation: 'list_unpaid_invoices', params: {}, why: 'test' },
      'k-wrong',
    );
    const refused = await wrong.harness.runtime.execute(list.id);
    expect(refused.action.error).toMatchObject({ code: 'connector.rejected' });
    expect(refused.action.error?.message).toContain('Invalid API Key');
    expect(stripe.requests).toHaveLength(1);
  });

  it('is built from STRIPE_SECRET_KEY and STRIPE_API_URL', async () => {
    stripe = new FakeStripeApi(KEY);
    const apiUrl = await stripe.start();
    stripe.seedInvoice({ customerName: 'Co', customerEmail: 'ap@co.example', amountDue: 100, dueDate: NOW });
    const test = await createTestSpine(await databases.open(), {
      env: { STRIPE_SECRET_KEY: KEY, STRIPE_API_URL: apiUrl },
    });
    try {
      const operation = test.spine.connectors.operation('payments', 'list_unpaid_invoices');
      const result = await operation.execute(
        {},
        {
          idempotencyKey: 'k-wired',
          signal: new AbortController().signal,
          checkpoint: volatileCheckpoints(),
        },
      );
      expect(result).toMatchObject({ invoices: [{ customerEmail: 'ap@co.example', amountDue: 1 }] });
      expect(stripe.requests[0]?.authorization).toBe(`Bearer ${KEY}`);
    } finally {
      await test.spine.close();
    }
  });

  it('refuses a money action over the daily amount limit', async () => {
    const { harness } = await setup();
    await harness.store(invoiceProposal('a@example.com', [300]), 'k-first');
    const settings = { trustAfter: 5, undoWindowMs: 3_600_000, limits: { payments: { dailyAmount: 500 } } };
    const within = await harness.runtime.prepare(invoiceProposal('b@example.com', [150]));
    const check = (prepared: typeof within, key: string) =>
      checkGuardrails(harness.repos.connectorState, settings, {
        operatorId: harness.operatorId,
        prepared,
        now: new Date(),
        timezone: 'UTC',
        idempotencyKey: key,
      });
    expect((await check(within, 'k-second')).limitExceeded).toBeNull();
    const over = await harness.runtime.prepare(invoiceProposal('b@example.com', [250]));
    const result = await check(over, 'k-second');
    expect(result.limitExceeded).toContain(
      'payments may move at most 500 a day; 300 is already used and this is 250',
    );
    const verdict = decidePolicy({
      risk: over.risk,
      external: true,
      now: NOW,
      probationUntil: null,
      trusted: false,
      limitExceeded: result.limitExceeded,
    });
    expect(verdict.decision).toBe('refuse');
  });
  it('a create repeated after Stripe forgot its key finds the first invoice by its metadata: one invoice', async () => {
    const { harness, db } = await setup();
    // The first execution creates the invoice but never hears back, and its items keep failing.
    stripe.faults.push({ match: 'POST /v1/invoices', fault: { kind: 'drop_after_effect' } });
    for (let i = 0; i < 4; i += 1)
      stripe.faults.push({ match: 'POST /v1/invoiceitems', fault: { kind: 'status', status: 503 } });
    const action = await harness.store(
      invoiceProposal('gus@example.com', [40], { send: false }),
      'k-expired',
    );
    const failed = await harness.runtime.execute(action.id);
    expect(failed.status).toBe('failed');
    expect(failed.action.error).toMatchObject({ mayHaveHappened: true });
    expect(stripe.created.invoice).toBe(1);
    // More than a day later Stripe has forgotten the key; the Retry reuses it (the call may have happened).
    stripe.expireIdempotencyKeys();
    await db.pool.query(`UPDATE actions SET first_claimed_at = $2 WHERE id = $1`, [
      action.id,
      new Date(NOW.getTime() - 25 * 3_600_000),
    ]);
    const retry = await harness.repos.connectorState.insertRetry(
      failed.action,
      hashParams(failed.action.params),
      {
        effectKey: 'k-expired',
      },
    );
    const outcome = await harness.runtime.execute(retry.id);
    expect(outcome.status).toBe('succeeded');
    expect(stripe.created.invoice).toBe(1);
    expect(stripe.created.invoiceitem).toBe(1);
    expect((outcome.action.result as { id: string }).id).toBe([...stripe.invoices.keys()][0]);
  });

  it('an invoice whose send started more than a day ago is unknown, never e-mailed again', async () => {
    const { harness, db } = await setup();
    const open = stripe.seedInvoice({
      customerName: 'Hal Co',
      customerEmail: 'ap@hal.example',
      amountDue: 9_900,
      dueDate: new Date(NOW.getTime() + 10 * DAY),
      status: 'open',
    });
    const action = await harness.store(
      { connector: 'payments', operation: 'send_invoice', params: { invoiceId: open.id }, why: 'test' },
      'k-send-late',
    );
    // An executor claimed it a day ago and died; nothing tells whether Stripe sent it then.
    await harness.repos.actions.claimForExecution(action.id, 'the-dead-executor', 60_000);
    await db.pool.query(
      `UPDATE actions SET first_claimed_at = $2, lease_until = now() - interval '1 second' WHERE id = $1`,
      [action.id, new Date(NOW.getTime() - 25 * 3_600_000)],
    );
    const outcome = await harness.runtime.execute(action.id);
    expect(outcome.status).toBe('unknown');
    expect(outcome.action.error?.message).toContain('no longer tells whether it went out');
    expect(stripe.requests.filter((request) => request.path.endsWith('/send'))).toHaveLength(0);
  });
});
