import { afterEach, describe, expect, it } from 'vitest';
import { createStripeClient } from '../../connectors/payments/stripe-client.ts';
import {
  IDEMPOTENCY_HEADER,
  SIGNATURE_HEADER,
  signWebhook,
  TIMESTAMP_HEADER,
} from '../../connectors/webhook/webhook-signature.ts';
import { FakeStripeApi, type FakeStripeOptions, parseStripeSearch } from '../fakes/fake-stripe-api.ts';
import { type FakeWebhookOptions, FakeWebhookServer } from '../fakes/fake-webhook-server.ts';

const KEY = 'sk_test_counting_fakes_0123456789';
const SECRET = 'whsec-counting-fakes-secret';

/**
 * The fakes' counts are what once-ness tests rely on, so their own semantics are pinned here: what
 * a replay creates (nothing), what an expired key creates (again), what a receiver that ignores
 * Idempotency-Key counts (every request).
 */
describe('the fake Stripe API counts objects created, not requests', () => {
  const running: FakeStripeApi[] = [];
  afterEach(async () => {
    for (const fake of running.splice(0)) await fake.stop();
  });

  async function start(options: FakeStripeOptions = {}) {
    const fake = new FakeStripeApi(KEY, options);
    running.push(fake);
    const stripe = createStripeClient({ secretKey: KEY, apiUrl: await fake.start() });
    return { fake, stripe };
  }

  it('creates once for a repeated Idempotency-Key, and again once the key has expired', async () => {
    const { fake, stripe } = await start({ keyTtlMs: 86_400_000 });
    let now = 1_790_000_000;
    fake.now = () => now;
    const create = () =>
      stripe.customers.create(
        { email: 'dana@example.com', metadata: { spine_key: 'goal-1-action-1' } },
        { idempotencyKey: 'spine:goal-1-action-1:customer' },
      );
    const first = await create();
    const replayed = await create();
    expect(replayed.id).toBe(first.id);
    expect(fake.created.customer).toBe(1);
    expect(fake.requests.map((request) => request.replayed)).toEqual([false, true]);

    now += 86_400; // a day later Stripe has forgotten the key: the same request creates again.
    const afterExpiry = await create();
    expect(afterExpiry.id).not.toBe(first.id);
    expect(fake.created.customer).toBe(2);
    expect(fake.createdWithMetadata('spine_key', 'goal-1-action-1', 'customer')).toBe(2);
  });

  it('forgets every key at once on request, as if a day had passed', async () => {
    const { fake, stripe } = await start();
    const price = () =>
      stripe.prices.create(
        { currency: 'eur', unit_amount: 5000, product_data: { name: 'Workshop' } },
        { idempotencyKey: 'spine:goal-2-action-1:price' },
      );
    await price();
    await price();
    expect(fake.created).toMatchObject({ price: 1, product: 1 });
    fake.expireIdempotencyKeys();
    await price();
    expect(fake.created).toMatchObject({ price: 2, product: 2 });
  });

  it('finds objects by the key in their metadata through Stripe search', async () => {
    const { fake, stripe } = await start();
    const customer = await stripe.customers.create({
      email: 'dana@example.com',
      metadata: { spine_action_key: 'goal-3-action-1' },
    });
    const invoice = await stripe.invoices.create({
      customer: customer.id,
      currency: 'eur',
      collection_method: 'send_invoice',
      days_until_due: 14,
      metadata: { spine_action_key: 'goal-3-action-1' },
    });
    await stripe.invoices.create({
      customer: customer.id,
      currency: 'eur',
      collection_method: 'send_invoice',
      days_until_due: 14,
      metadata: { spine_action_key: 'goal-4-action-1' },
    });
    const price = await stripe.prices.create({
      currency: 'eur',
      unit_amount: 100,
      product_data: { name: 'Call' },
      metadata: { spine_action_key: 'goal-5-action-1' },
    });

    const invoices = await stripe.invoices.search({
      query: "metadata['spine_action_key']:'goal-3-action-1'",
    });
    expect(invoices.data.map((found) => found.id)).toEqual([invoice.id]);
    const customers = await stripe.customers.search({
      query: `metadata["spine_action_key"]:"goal-3-action-1" AND email:'dana@example.com'`,
    });
    expect(customers.data.map((found) => found.id)).toEqual([customer.id]);
    const prices = await stripe.prices.search({ query: "metadata['spine_action_key']:'goal-5-action-1'" });
    expect(prices.data.map((found) => found.id)).toEqual([price.id]);
    const none = await stripe.invoices.search({ query: "metadata['spine_action_key']:'goal-9-action-1'" });
    expect(none.data).toEqual([]);
    await expect(stripe.invoices.search({ query: 'anything at all' })).rejects.toMatchObject({
      statusCode: 400,
    });
    expect(fake.created).toMatchObject({ customer: 1, invoice: 2, price: 1, product: 1 });
  });

  it('lists refunds of a payment and payment links with their metadata (Stripe has no search for them)', async () => {
    const { stripe } = await start();
    const refund = await stripe.refunds.create({
      payment_intent: 'pi_123',
      amount: 500,
      metadata: { spine_action_key: 'goal-6-action-1' },
    });
    await stripe.refunds.create({ payment_intent: 'pi_other', amount: 100 });
    const refunds = await stripe.refunds.list({ payment_intent: 'pi_123' });
    expect(refunds.data.map((found) => [found.id, found.metadata])).toEqual([
      [refund.id, { spine_action_key: 'goal-6-action-1' }],
    ]);
    const price = await stripe.prices.create({
      currency: 'eur',
      unit_amount: 100,
      product_data: { name: 'X' },
    });
    const link = await stripe.paymentLinks.create({
      line_items: [{ price: price.id, quantity: 1 }],
      metadata: { spine_action_key: 'goal-7-action-1' },
    });
    const links = await stripe.paymentLinks.list({ active: true });
    expect(links.data.map((found) => [found.id, found.metadata])).toEqual([
      [link.id, { spine_action_key: 'goal-7-action-1' }],
    ]);
  });

  it('parses only the search language it supports', () => {
    expect(parseStripeSearch("metadata['k']:'v' OR status:'open'")).toEqual({
      join: 'OR',
      clauses: [
        { field: 'metadata', metadataKey: 'k', operator: ':', value: 'v' },
        { field: 'status', metadataKey: null, operator: ':', value: 'open' },
      ],
    });
    expect(parseStripeSearch("email~'example' AND status:'open' OR status:'draft'")).toBeNull();
    // Escaped quotes stay in the value, and an AND inside quotes is not a join.
    expect(parseStripeSearch(String.raw`metadata['spine_key']:'it\'s A AND B'`)?.clauses).toEqual([
      { field: 'metadata', metadataKey: 'spine_key', operator: ':', value: "it's A AND B" },
    ]);
    expect(parseStripeSearch("metadata['k']:'v' AND")).toBeNull();
  });
});

describe('the fake webhook receiver counts every request', () => {
  const running: FakeWebhookServer[] = [];
  afterEach(async () => {
    for (const server of running.splice(0)) await server.stop();
  });

  async function start(options: FakeWebhookOptions = {}) {
    const server = new FakeWebhookServer(SECRET, options);
    running.push(server);
    return { server, base: await server.start() };
  }

  function call(base: string, key: string, body = '{"name":"Dana"}') {
    const timestamp = Math.floor(Date.now() / 1000);
    return fetch(`${base}/leads`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [IDEMPOTENCY_HEADER]: key,
        [SIGNATURE_HEADER]: signWebhook(SECRET, timestamp, body),
        [TIMESTAMP_HEADER]: String(timestamp),
      },
      body,
    });
  }

  it('honouring Idempotency-Key: one effect per key, every request still counted', async () => {
    const { server, base } = await start();
    await call(base, 'k1');
    await call(base, 'k1');
    expect(server.requestsFor('k1')).toBe(2);
    expect(server.committedFor('k1')).toBe(1);
    expect(server.effects.size).toBe(1);
  });

  it('ignoring Idempotency-Key: every request is an effect', async () => {
    const { server, base } = await start({ honoursIdempotencyKey: false });
    await call(base, 'k1');
    await call(base, 'k1');
    server.script.push({ kind: 'fail_500' });
    await call(base, 'k1');
    expect(server.requestsFor('k1')).toBe(3);
    // The 500 before the commit made nothing happen; the two others did, key or no key.
    expect(server.committedFor('k1')).toBe(2);
    expect(server.effects.size).toBe(1);
    expect(server.requestCounts()).toEqual(new Map([['k1', 3]]));
  });
});
