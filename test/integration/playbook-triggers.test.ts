import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ImapFlow } from 'imapflow';
import pino from 'pino';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer } from '../../app/http-server.ts';
import { DovecotServer } from '../fakes/dovecot-server.ts';
import { SmtpSink } from '../fakes/smtp-sink.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { smtpEnv } from '../support/sink-config.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

const STRIPE_SECRET = 'whsec_playbook_trigger_test_0123456789';

const example = (name: string) =>
  readFileSync(new URL(`../../playbooks/examples/${name}.yaml`, import.meta.url), 'utf8');

const FAILED_PAYMENT = `name: failed-payment-follow-up
description: Tell the customer when a card payment for an invoice failed.
trigger:
  stripe: { events: [invoice.payment_failed] }
steps:
  - id: note
    draft:
      template: "The payment for invoice {{ trigger.data.object.number }} did not go through; please check your card."
  - id: tell
    action:
      connector: email
      operation: send_email
      params:
        to: "{{ trigger.data.object.customer_email }}"
        subject: "Your payment did not go through"
        body: "{{ steps.note }}"
`;

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.each(DATABASE_KINDS)(
  'playbooks triggered by real inbound e-mail and Stripe events on %s Postgres',
  (kind) => {
    const databases = new TestDatabases(kind);
    const dovecot = new DovecotServer();
    // Replies are counted at an SMTP server that keeps every message, so a second run of the
    // playbook for the same e-mail would show as a second message (the outbox would overwrite it).
    const smtp = new SmtpSink();
    let test: TestSpine;
    let server: Server;
    let stripeUrl: string;

    beforeAll(async () => {
      await dovecot.start();
      await smtp.start();
      test = await createTestSpine(await databases.open(), {
        env: smtpEnv(smtp, { IMAP_URL: dovecot.url, STRIPE_WEBHOOK_SECRET: STRIPE_SECRET }),
      });
      server = await startHttpServer({
        port: 0,
        db: test.spine.db,
        logger: pino({ level: 'silent' }),
        routes: test.spine.inbound.routes,
      });
      stripeUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stripe/webhook`;
    }, 180_000);

    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await test.spine.close();
      await dovecot.stop();
      await smtp.close();
      await databases.closeAll();
    });

    it('runs the lead-triage example for an e-mail delivered over IMAP, once, up to the reply you approve', async () => {
      const { say, chat, spine } = test;
      await say(`playbook add ${example('inbound-lead-triage')}`);
      await say('playbook enable inbound-lead-triage');
      spine.inbound.start();
      const client = new ImapFlow({
        host: dovecot.host,
        port: dovecot.port,
        secure: false,
        auth: { user: dovecot.user, pass: dovecot.password },
        logger: false,
      });
      await client.connect();
      const message = [
        'From: "Dana Scully" <dana@example.com>',
        'To: leads@spine.test',
        'Subject: Request for a quote: brand refresh',
        `Date: ${new Date().toUTCString()}`,
        'Message-ID: <lead-1@example.com>',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'We need a new logo and letterhead by March.',
        '',
      ].join('\r\n');
      await client.append('INBOX', message);
      await client.append('INBOX', message); // the same Message-ID again: no second run
      await client.logout();

      await until(async () => {
        await spine.runner.idle();
        return chat.texts().some((text) => text.includes('Reply to dana@example.com?'));
      }, 'the checkpoint card');
      const runs = await spine.db.pool.query('SELECT count(*)::int AS n FROM playbook_runs');
      expect(runs.rows[0].n).toBe(1);
      const lead = await spine.memory.recall('Dana Scully lead brand refresh', {
        operatorId: spine.operator.id,
      });
      expect(lead.map((pointer) => pointer.snippet).join(' ')).toContain('is a lead');

      await say('approve');
      await spine.runner.idle();
      await say('approve'); // the e-mail's own card (probation)
      await spine.runner.idle();
      const sent = smtp.accepted.map((accepted) => accepted.raw);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toContain('To: dana@example.com');
      expect(sent[0]).toContain('Subject: Re: Request for a quote: brand refresh');
    });

    it('runs a playbook for a signed Stripe event and ignores a forged one', async () => {
      const { say, chat, spine } = test;
      await say(`playbook add ${FAILED_PAYMENT}`);
      await say('playbook enable failed-payment-follow-up');
      const event = (id: string) =>
        JSON.stringify({
          id,
          object: 'event',
          type: 'invoice.payment_failed',
          created: Math.floor(Date.now() / 1000),
          data: {
            object: { id: 'in_1', object: 'invoice', number: 'A-2001', customer_email: 'fox@example.com' },
          },
        });
      const deliver = (body: string, secret: string) =>
        fetch(stripeUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret }),
          },
          body,
        });
      expect((await deliver(event('evt_forged'), 'whsec_not_the_secret_000000000')).status).toBe(400);
      const genuine = event('evt_genuine');
      expect((await deliver(genuine, STRIPE_SECRET)).status).toBe(200);
      expect((await deliver(genuine, STRIPE_SECRET)).status).toBe(200); // Stripe's retry
      await spine.runner.idle();
      await until(() => chat.texts().some((text) => text.includes('fox@example.com')), 'the e-mail card');
      const runs = await spine.db.pool.query(
        `SELECT count(*)::int AS n FROM playbook_runs r JOIN playbooks p ON p.id = r.playbook_id
       WHERE p.name = 'failed-payment-follow-up'`,
      );
      expect(runs.rows[0].n).toBe(1);
    });
  },
);
