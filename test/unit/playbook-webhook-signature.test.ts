import { execFile, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { playbookWebhookRoute } from '../../bot/playbook-webhook.ts';
import { systemClock } from '../../core/clock.ts';
import type { InboundEvent } from '../../core/inbound.ts';
import type { PlaybookStore, StoredPlaybook } from '../../playbooks/playbook-store.ts';
import {
  PLAYBOOK_WEBHOOK_TOLERANCE_SECONDS,
  playbookSignature,
  signedPayload,
  verifyPlaybookDelivery,
} from '../../playbooks/webhook-signature.ts';

const SECRET = '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978';
const NOW = 1_767_607_200;
const BODY = Buffer.from('{"name":"Dana"}');

function verify(overrides: Partial<Parameters<typeof verifyPlaybookDelivery>[0]> = {}) {
  return verifyPlaybookDelivery({
    secret: SECRET,
    body: BODY,
    signature: playbookSignature(SECRET, NOW, 'd-1', BODY),
    timestamp: String(NOW),
    delivery: 'd-1',
    nowSeconds: NOW,
    ...overrides,
  });
}

/** The fenced block after `<!-- playbook-webhook-example -->` in README.md. */
function readmeExample(): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const block = /<!-- playbook-webhook-example -->\n```sh\n([\s\S]*?)\n```/.exec(readme)?.[1];
  if (!block) throw new Error('README.md has no playbook webhook example');
  return block;
}

describe('playbook webhook signatures', () => {
  it('signs v1:{timestamp}:{delivery id}:{raw body} with HMAC-SHA256, as `v1=<hex>`', () => {
    expect(signedPayload(NOW, 'd-1', BODY).toString()).toBe(`v1:${NOW}:d-1:{"name":"Dana"}`);
    const hex = createHmac('sha256', SECRET).update(`v1:${NOW}:d-1:{"name":"Dana"}`).digest('hex');
    expect(playbookSignature(SECRET, NOW, 'd-1', BODY)).toBe(`v1=${hex}`);
    expect(playbookSignature(SECRET, String(NOW), 'd-1', BODY.toString())).toBe(`v1=${hex}`);
  });

  it("computes the same signature as the README's printf | openssl line", () => {
    const line = readmeExample()
      .split('\n')
      .find((text) => text.startsWith('sig='));
    expect(line).toBeDefined();
    const script = [
      `SECRET='${SECRET}'`,
      `ts=${NOW}`,
      'delivery=d-1',
      `body='{"name":"Dana"}'`,
      line,
      'printf %s "$sig"',
    ].join('\n');
    const hex = execFileSync('bash', ['-c', script], { encoding: 'utf8' });
    expect(`v1=${hex}`).toBe(playbookSignature(SECRET, NOW, 'd-1', BODY));
  });

  it('accepts a fresh delivery, and a timestamp exactly at the tolerance either way', () => {
    expect(verify()).toEqual({ ok: true, delivery: 'd-1' });
    for (const skew of [-PLAYBOOK_WEBHOOK_TOLERANCE_SECONDS, PLAYBOOK_WEBHOOK_TOLERANCE_SECONDS]) {
      const timestamp = NOW + skew;
      expect(
        verify({
          timestamp: String(timestamp),
          signature: playbookSignature(SECRET, timestamp, 'd-1', BODY),
        }),
      ).toEqual({ ok: true, delivery: 'd-1' });
    }
  });

  it('refuses validly signed timestamps 6 minutes old or ahead', () => {
    for (const skew of [-360, 360]) {
      const timestamp = NOW + skew;
      expect(
        verify({
          timestamp: String(timestamp),
          signature: playbookSignature(SECRET, timestamp, 'd-1', BODY),
        }),
      ).toEqual({ ok: false, reason: 'stale_timestamp' });
    }
  });

  it('refuses a re-timestamped replay, a new delivery id, a changed body and the wrong secret', () => {
    expect(verify({ timestamp: String(NOW + 60) })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verify({ delivery: 'd-2' })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verify({ body: Buffer.from('{"name":"Eve"}') })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verify({ secret: 'another-secret-entirely' })).toEqual({ ok: false, reason: 'bad_signature' });
    // An unknown playbook has no secret: it fails like a bad signature.
    expect(verify({ secret: null })).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses missing or malformed headers with a reason saying which', () => {
    expect(verify({ signature: undefined })).toEqual({ ok: false, reason: 'missing_signature' });
    const legacy = `sha256=${createHmac('sha256', SECRET).update(BODY).digest('hex')}`;
    expect(verify({ signature: legacy })).toEqual({ ok: false, reason: 'legacy_signature' });
    expect(verify({ timestamp: undefined })).toEqual({ ok: false, reason: 'bad_timestamp' });
    expect(verify({ timestamp: '2026-01-05T10:00:00Z' })).toEqual({ ok: false, reason: 'bad_timestamp' });
    expect(verify({ delivery: undefined })).toEqual({ ok: false, reason: 'bad_delivery' });
    // A `:` would let `v1:{ts}:{delivery}:{body}` be split two ways.
    const colon = 'd-1:{"name"';
    expect(verify({ delivery: colon, signature: playbookSignature(SECRET, NOW, colon, BODY) })).toEqual({
      ok: false,
      reason: 'bad_delivery',
    });
  });
});

describe("README.md's webhook example", () => {
  const servers: Server[] = [];
  afterAll(async () => {
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
  });

  it('is accepted by the route as written (openssl and curl), and rejected with another secret', async () => {
    const received: InboundEvent[] = [];
    const playbook = { name: 'new-signup', operatorId: 1, enabled: true, webhookSecret: SECRET };
    const store = {
      list: async () => [playbook as StoredPlaybook],
      hasEvent: async (_source: string, id: string) => received.some((event) => event.id === id),
    } as unknown as PlaybookStore;
    const route = playbookWebhookRoute({
      store,
      sink: async (event) => {
        received.push(event);
      },
      clock: systemClock,
      logger: pino({ level: 'silent' }),
    });
    const server = createServer((request, response) => void route.handle(request, response));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/playbooks/new-signup/webhook`;
    const run = (secret: string) =>
      new Promise<string>((resolve, reject) => {
        // The block as printed, with only its two settings filled in.
        const script = readmeExample()
          .replace(/^SECRET=.*$/m, `SECRET='${secret}'`)
          .replace(/^URL=.*$/m, `URL='${url}'`);
        const child = execFile('bash', ['-c', script], (error, stdout) =>
          error ? reject(error) : resolve(stdout),
        );
        child.stdin?.end();
      });

    expect(JSON.parse(await run(SECRET))).toMatchObject({ accepted: true, duplicate: false });
    expect(received).toHaveLength(1);
    expect(received[0]?.payload).toMatchObject({ playbook: 'new-signup', body: { name: 'Dana' } });
    expect(JSON.parse(await run('not-the-secret'))).toMatchObject({ error: 'bad_signature' });
    expect(received).toHaveLength(1);
  });
});
