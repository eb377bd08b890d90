import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer } from '../../app/http-server.ts';
import type { InboundEvent } from '../../core/inbound.ts';
import { InboundDeliveryRepository } from '../../db/repositories/inbound-deliveries.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

const SECRET = 'whsec_test_secret_for_spine';

function stripeEvent(id: string, type = 'invoice.payment_failed') {
  return JSON.stringify({
    id,
    object: 'event',
    type,
    created: 1_795_500_000,
    api_version: '2026-10-28.endive',
    data: {
      object: { id: 'in_123', object: 'invoice', amount_due: 12_050, customer_email: 'dana@example.com' },
    },
  });
}

describe.each(DATABASE_KINDS)('Stripe webhooks on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);
  let test: TestSpine;
  let server: Server;
  let url: string;
  const events: InboundEvent[] = [];
  let failNext = false;

  const deliver = (body: string, signature: string | undefined) =>
    fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(signature ? { 'stripe-signature': signature } : {}),
      },
      body,
    });
  const sign = (payload: string, options: { secret?: string; timestamp?: number } = {}) =>
    Stripe.webhooks.generateTestHeaderString({
      payload,
      secret: options.secret ?? SECRET,
      ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp }),
    });

  beforeAll(async () => {
    const db = await databases.open();
    test = await createTestSpine(db, { env: { STRIPE_WEBHOOK_SECRET: SECRET } });
    test.spine.inbound.setSink(async (event) => {
      if (failNext) {
        failNext = false;
        throw new Error('the consumer is down');
      }
      events.push(event);
    });
    server = await startHttpServer({
      port: 0,
      db,
      logger: pino({ level: 'silent' }),
      routes: test.spine.inbound.routes,
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stripe/webhook`;
  }, 180_000);
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await test.spine.close();
    await databases.closeAll();
  });

  it('hands a validly signed event to the sink and acknowledges it', async () => {
    const body = stripeEvent('evt_valid');
    const response = await deliver(body, sign(body));
    expect(response.status).toBe(200);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      source: 'stripe',
      id: 'evt_valid',
      type: 'invoice.payment_failed',
      operatorId: test.spine.operator.id,
      occurredAt: new Date(1_795_500_000_000),
      payload: { id: 'evt_valid', data: { object: { id: 'in_123', amount_due: 12_050 } } },
    });
  });

  it('refuses forged, stale and unsigned deliveries with 400 and no side effect', async () => {
    const before = events.length;
    const deliveries = new InboundDeliveryRepository(test.spine.db.pool);
    const counted = await deliveries.count('stripe');
    const body = stripeEvent('evt_forged');
    expect((await deliver(body, sign(body, { secret: 'whsec_someone_else' }))).status).toBe(400);
    const tampered = stripeEvent('evt_forged', 'charge.refunded');
    expect((await deliver(tampered, sign(body))).status).toBe(400);
    const stale = Math.floor(Date.now() / 1000) - 3600;
    expect((await deliver(body, sign(body, { timestamp: stale }))).status).toBe(400);
    const unsigned = await deliver(body, undefined);
    expect(unsigned.status).toBe(400);
    expect(await unsigned.json()).toMatchObject({ error: 'invalid_signature' });
    expect(events).toHaveLength(before);
    expect(await deliveries.count('stripe')).toBe(counted);
  });

  it('accepts a duplicate delivery once, and answers 500 until the sink took the event', async () => {
    const body = stripeEvent('evt_dup', 'invoice.paid');
    failNext = true;
    expect((await deliver(body, sign(body))).status).toBe(500);
    expect(events.filter((event) => event.id === 'evt_dup')).toHaveLength(0);
    // Stripe retries: now the sink takes it.
    expect((await deliver(body, sign(body))).status).toBe(200);
    // A second delivery of the same event is acknowledged without handing it on again.
    const again = await deliver(body, sign(body));
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ duplicate: true });
    expect(events.filter((event) => event.id === 'evt_dup')).toHaveLength(1);
  });
});
