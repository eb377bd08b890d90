import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer } from '../../app/http-server.ts';
import { ManualClock } from '../../core/clock.ts';
import { playbookSignature } from '../../playbooks/webhook-signature.ts';
import { ConsoleClient } from '../support/console-client.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

const PLAYBOOK = `name: new-signup
description: Greet a new signup
trigger:
  webhook: {}
steps:
  - id: greeting
    draft: { template: "Welcome {{ trigger.body.name }}" }
`;

const MINUTE = 60_000;
const BODY = JSON.stringify({ name: 'Dana' });

/** One delivery as it goes over the wire: every header explicit, so a test can replay it altered. */
interface Delivery {
  timestamp: number;
  delivery: string;
  body: string;
  signature: string;
}

describe.each(DATABASE_KINDS)(
  'replay-proof playbook webhooks on %s Postgres',
  { timeout: 180_000 },
  (kind) => {
    const databases = new TestDatabases(kind);
    const running: Array<{ test: TestSpine; server: Server }> = [];

    beforeAll(async () => {
      await databases.open();
    }, 180_000);

    afterAll(async () => {
      for (const { test, server } of running) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await test.spine.close();
      }
      await databases.closeAll();
    });

    async function start() {
      const clock = new ManualClock('2026-01-05T10:00:00Z');
      const test = await createTestSpine(await databases.open(), { clock });
      const server = await startHttpServer({
        port: 0,
        db: test.spine.db,
        logger: pino({ level: 'silent' }),
        routes: test.spine.playbooks.routes,
        mounts: [test.spine.webConsole],
      });
      running.push({ test, server });
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await test.say(`playbook add ${PLAYBOOK}`);
      await test.say('playbook enable new-signup');
      const { spine } = test;
      const playbook = async () => {
        const found = await spine.playbooks.store.get(spine.operator.id, 'new-signup');
        if (!found) throw new Error('the playbook was not added');
        return found;
      };
      const nowSeconds = () => Math.floor(clock.now().getTime() / 1000);
      return {
        test,
        clock,
        base,
        playbook,
        nowSeconds,
        /** A delivery signed now (or at `timestamp`) with `secret`. */
        signed(secret: string, delivery: string, overrides: Partial<Delivery> = {}): Delivery {
          const timestamp = overrides.timestamp ?? nowSeconds();
          const body = overrides.body ?? BODY;
          return {
            timestamp,
            delivery,
            body,
            signature: playbookSignature(secret, timestamp, delivery, body),
          };
        },
        async post(delivery: Delivery): Promise<{ status: number; answer: Record<string, unknown> }> {
          const response = await fetch(`${base}/playbooks/new-signup/webhook`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'x-spine-timestamp': String(delivery.timestamp),
              'x-spine-delivery': delivery.delivery,
              'x-spine-signature': delivery.signature,
            },
            body: delivery.body,
          });
          const answer = (await response.json()) as Record<string, unknown>;
          await spine.runner.idle();
          return { status: response.status, answer };
        },
        async runs(): Promise<number> {
          return (await spine.playbooks.store.recentRuns((await playbook()).id, 50)).length;
        },
        async storedEvents(): Promise<number> {
          const result = await spine.db.pool.query('SELECT count(*)::int AS n FROM trigger_events');
          return Number(result.rows[0]?.n ?? 0);
        },
      };
    }

    it('runs a fresh delivery once; a repeat, an altered replay, a changed body or a stale timestamp starts nothing', async () => {
      const hook = await start();
      const secret = (await hook.playbook()).webhookSecret;

      const captured = hook.signed(secret, 'd-1');
      expect(await hook.post(captured)).toEqual({
        status: 202,
        answer: { accepted: true, duplicate: false, enabled: true },
      });
      expect(await hook.runs()).toBe(1);

      // The same request again (within the window): recognised by its delivery id, no second run.
      expect(await hook.post(captured)).toEqual({ status: 200, answer: { accepted: true, duplicate: true } });
      expect(await hook.runs()).toBe(1);

      // Re-timestamped with the old signature: the timestamp is signed.
      const retimed = await hook.post({ ...captured, timestamp: captured.timestamp + 30 });
      expect(retimed.status).toBe(401);
      expect(retimed.answer.error).toBe('bad_signature');
      // Under a new delivery id with the old signature: the id is signed.
      expect((await hook.post({ ...captured, delivery: 'd-2' })).answer.error).toBe('bad_signature');
      // Another body under a fresh, otherwise valid signature of the original body.
      const changed = { ...hook.signed(secret, 'd-3'), body: JSON.stringify({ name: 'Mallory' }) };
      expect(await hook.post(changed)).toMatchObject({ status: 401, answer: { error: 'bad_signature' } });

      // Validly signed, but 6 minutes old or 6 minutes ahead.
      for (const [delivery, skew] of [
        ['d-4', -6 * 60],
        ['d-5', 6 * 60],
      ] as const) {
        const stale = await hook.post(hook.signed(secret, delivery, { timestamp: hook.nowSeconds() + skew }));
        expect(stale).toMatchObject({ status: 401, answer: { error: 'stale_timestamp' } });
        expect(String(stale.answer.message)).toContain('5 minutes');
      }

      // Six minutes later the captured request is refused outright.
      hook.clock.advance(6 * MINUTE);
      expect(await hook.post(captured)).toMatchObject({ status: 401, answer: { error: 'stale_timestamp' } });
      expect([await hook.runs(), await hook.storedEvents()]).toEqual([1, 1]);

      // A new, valid delivery still runs.
      expect((await hook.post(hook.signed(secret, 'd-6'))).status).toBe(202);
      expect([await hook.runs(), await hook.storedEvents()]).toEqual([2, 2]);
    });

    it('shows the secret once in the web console and never in chat; rotating it retires the old one', async () => {
      const hook = await start();
      const { test } = hook;
      const secret = (await hook.playbook()).webhookSecret;
      await test.say('playbook show new-signup');
      expect(test.chat.texts().at(-1)).toContain('Type `console` for a login link and open Playbooks');

      await test.say('console');
      const link = /https?:\/\/\S+/.exec(test.chat.texts().at(-1) ?? '')?.[0] ?? '';
      const client = new ConsoleClient(hook.base);
      expect((await client.login(link)).status).toBe(303);
      const list = await (await client.get('/console/playbooks')).text();
      expect(list).toContain('/playbooks/new-signup/webhook');
      expect(list).toContain('Show the webhook secret (once)');
      expect(list).not.toContain(secret);

      const id = (await hook.playbook()).id;
      const csrf = await client.csrf('/console/playbooks');
      const shown = await client.post(`/console/playbooks/${id}/secret`, { do: 'reveal', csrf });
      expect(shown.status).toBe(200);
      expect(shown.headers.get('cache-control')).toBe('no-store');
      expect(await shown.text()).toContain(`<pre id="webhook-secret">${secret}</pre>`);
      // Once: a second tab, a resubmitted form.
      const again = await client.post(`/console/playbooks/${id}/secret`, { do: 'reveal', csrf });
      expect(again.status).toBe(409);
      expect(await again.text()).not.toContain(secret);
      const after = await (await client.get('/console/playbooks')).text();
      expect(after).not.toContain(secret);
      expect(after).toContain('Rotate the secret');
      await test.say('playbook show new-signup');
      expect(test.chat.texts().at(-1)).toContain('rotate it there if it is lost');

      const rotated = await client.post(`/console/playbooks/${id}/secret`, { do: 'rotate', csrf });
      expect(rotated.status).toBe(200);
      const fresh = /<pre id="webhook-secret">([0-9a-f]+)<\/pre>/.exec(await rotated.text())?.[1] ?? '';
      expect(fresh).toHaveLength(48);
      expect(fresh).not.toBe(secret);
      expect((await hook.post(hook.signed(secret, 'old-1'))).status).toBe(401);
      expect((await hook.post(hook.signed(fresh, 'new-1'))).status).toBe(202);

      // Neither secret was ever posted to chat or written to the ledger.
      const chat = JSON.stringify([test.chat.posts, test.chat.updates]);
      const events = await test.spine.db.pool.query('SELECT e::text AS row FROM events e');
      for (const value of [secret, fresh]) {
        expect(chat).not.toContain(value);
        expect(events.rows.map((row) => String(row.row)).join('\n')).not.toContain(value);
      }
    });
  },
);
