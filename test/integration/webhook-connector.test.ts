import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { recordCompensation } from '../../connectors/compensation.ts';
import { createWebhookConnector } from '../../connectors/webhook/webhook-connector.ts';
import { systemClock } from '../../core/clock.ts';
import { FakeWebhookServer } from '../fakes/fake-webhook-server.ts';
import { createConnectorHarness } from '../support/connector-harness.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';
import { recordingMemory } from '../support/recording-memory.ts';

const SECRET = 'whsec-test-secret';

describe.each(DATABASE_KINDS)('webhook connector on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);
  let server: FakeWebhookServer;

  const { memory, written: remembered } = recordingMemory();

  async function setup(resilience: Record<string, number> = {}, idempotent = true) {
    server = new FakeWebhookServer(SECRET, { honoursIdempotencyKey: idempotent });
    const base = await server.start();
    const connector = createWebhookConnector(
      {
        name: 'crm',
        description: 'Create a lead in the CRM',
        request: { url: `${base}/leads`, method: 'POST', headers: {} },
        undo: { url: `${base}/leads/delete`, method: 'POST', headers: {} },
        secret: SECRET,
        risk: 'write',
        // The fake receiver dedupes on Idempotency-Key exactly when the configuration says so.
        idempotent,
      },
      systemClock,
    );
    const harness = await createConnectorHarness(await databases.open(), [connector], {
      resilience: { initialDelayMs: 10, maxDelayMs: 50, timeoutMs: 400, ...resilience },
      memory,
    });
    return { harness, base };
  }

  const proposal = (name: string) => ({
    connector: 'crm',
    operation: 'send',
    params: { payload: { name } },
    why: 'test',
  });

  beforeAll(async () => {
    // Warm the embedded database once, so no single test pays for its start-up.
    await databases.open();
  }, 180_000);

  afterEach(async () => {
    await server?.stop();
  });
  afterAll(async () => {
    await databases.closeAll();
  });

  it('previews the exact request, signs it, and replays the stored outcome without calling again', async () => {
    const { harness, base } = await setup();
    const action = await harness.store(proposal('Dana'), 'k-signed');
    expect(action.preview.body).toContain(`POST ${base}/leads`);
    expect(action.preview.body).toContain('{"name":"Dana"}');
    const first = await harness.runtime.execute(action.id);
    expect(first.status).toBe('succeeded');
    expect(first.replayed).toBe(false);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.signatureValid).toBe(true);
    expect(server.requests[0]?.key).toBe('k-signed');
    const again = await harness.runtime.execute(action.id);
    expect(again).toMatchObject({ status: 'succeeded', replayed: true });
    expect(again.action.result).toEqual(first.action.result);
    expect(server.requests).toHaveLength(1);
    // What the connector reported goes into memory once, attributed to the connector (the store signs it).
    const written = remembered.filter((entry) => entry.dedupeKey === 'connector-result:k-signed');
    expect(written).toHaveLength(1);
    expect(written[0]?.provenance).toEqual({
      source: 'connector:crm',
      sourceRef: `action #${action.id}`,
      assertedBy: 'connector:crm',
    });
    expect(written[0]?.content).toContain('"key":"k-signed"');
  });

  it('refuses the same key with different parameters', async () => {
    const { harness } = await setup();
    await harness.store(proposal('Jo'), 'k-reused');
    await expect(harness.store(proposal('Someone else'), 'k-reused')).rejects.toMatchObject({
      code: 'action.key_reused',
    });
    const again = await harness.store(proposal('Jo'), 'k-reused');
    expect(again.params).toEqual({ payload: { name: 'Jo' } });
  });

  it('waits as long as Retry-After says on a 429, without spending an attempt early', async () => {
    const { harness } = await setup({ maxAttempts: 2 });
    server.script.push({ kind: 'rate_limit', retryAfterSeconds: 1 });
    const action = await harness.store(proposal('Eve'), 'k-429');
    const outcome = await harness.runtime.execute(action.id);
    expect(outcome.status).toBe('succeeded');
    expect(server.requests).toHaveLength(2);
    const [first, second] = server.requests;
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(990);
    expect(server.effects.size).toBe(1);
  });

  it('retries a 500 that came after the work was done with the same key: one effect', async () => {
    const { harness } = await setup();
    server.script.push({ kind: 'commit_then_500' });
    const action = await harness.store(proposal('Finn'), 'k-500');
    const outcome = await harness.runtime.execute(action.id);
    expect(outcome.status).toBe('succeeded');
    expect(server.requests.map((request) => request.key)).toEqual(['k-500', 'k-500']);
    expect(server.effects.size).toBe(1);
  });

  it('times out a hung request, retries with the same key, and the effect happens once', async () => {
    const { harness } = await setup();
    server.script.push({ kind: 'commit_then_hang' });
    const action = await harness.store(proposal('Gus'), 'k-hang');
    const outcome = await harness.runtime.execute(action.id);
    expect(outcome.status).toBe('succeeded');
    expect(server.requests).toHaveLength(2);
    expect(server.effects.size).toBe(1);
  });

  it('stores the first failure and returns it to every retry (Stripe semantics)', async () => {
    const { harness } = await setup({ maxAttempts: 1 });
    server.script.push({ kind: 'fail_500' });
    const action = await harness.store(proposal('Hal'), 'k-fail');
    const first = await harness.runtime.execute(action.id);
    expect(first.status).toBe('failed');
    expect(first.action.error?.code).toBe('connector.unavailable');
    const again = await harness.runtime.execute(action.id);
    expect(again).toMatchObject({ status: 'failed', replayed: true });
    expect(server.requests).toHaveLength(1);
  });

  it('opens the circuit after repeated failures and then fails fast without calling', async () => {
    const { harness } = await setup({ maxAttempts: 1, breakerThreshold: 3, halfOpenAfterMs: 60_000 });
    for (let i = 0; i < 3; i += 1) server.script.push({ kind: 'fail_500' });
    for (let i = 0; i < 3; i += 1) {
      const action = await harness.store(proposal(`P${i}`), `k-circuit-${i}`);
      expect((await harness.runtime.execute(action.id)).status).toBe('failed');
    }
    expect(harness.runtime.health().find((h) => h.connector === 'crm')?.circuit).toBe('open');
    const blocked = await harness.store(proposal('P4'), 'k-circuit-4');
    const outcome = await harness.runtime.execute(blocked.id);
    expect(outcome.status).toBe('failed');
    expect(outcome.action.error?.code).toBe('connector.circuit_open');
    expect(server.requests).toHaveLength(3);
  });

  it('undoes with the configured compensating request, once, under its own key', async () => {
    const { harness } = await setup();
    const action = await harness.store(proposal('Ivy'), 'k-undo');
    await harness.runtime.execute(action.id);
    const done = await harness.repos.actions.get(action.id);
    const compensation = await recordCompensation(
      harness.runtime,
      harness.repos.connectorState,
      done!,
      'you pressed Undo',
    );
    expect(compensation.action.undoOf).toBe(action.id);
    expect(compensation.action.status).toBe('approved');
    const again = await recordCompensation(harness.runtime, harness.repos.connectorState, done!, 'twice');
    expect(again).toMatchObject({ created: false, action: { id: compensation.action.id } });
    await harness.runtime.execute(compensation.action.id);
    await harness.runtime.execute(compensation.action.id);
    const undoRequests = server.requests.filter((request) => request.path === '/leads/delete');
    expect(undoRequests).toHaveLength(1);
    expect(undoRequests[0]?.key).toBe(`undo-${action.id}`);
    expect(JSON.parse(undoRequests[0]?.body ?? '{}')).toMatchObject({ undo: { name: 'Ivy' } });
  });

  it('refuses a forged signature at the receiver (the check the fake server makes is real)', async () => {
    const { base } = await setup();
    const response = await fetch(`${base}/leads`, {
      method: 'POST',
      headers: { 'x-spine-timestamp': String(Math.floor(Date.now() / 1000)), 'x-spine-signature': 'v1=00' },
      body: '{}',
    });
    expect(response.status).toBe(401);
    expect(server.effects.size).toBe(0);
  });
  it('a receiver without the key guarantee: a 500 after the work is unknown, never sent twice', async () => {
    const { harness } = await setup({}, false);
    server.script.push({ kind: 'commit_then_500' });
    const action = await harness.store(proposal('Una'), 'k-no-key-500');
    const outcome = await harness.runtime.execute(action.id);
    expect(outcome.status).toBe('unknown');
    expect(server.requests).toHaveLength(1);
    expect(server.committed).toHaveLength(1);
    expect((await harness.runtime.execute(action.id)).replayed).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it('a receiver without the key guarantee: a hung request is unknown after one attempt', async () => {
    const { harness } = await setup({}, false);
    server.script.push({ kind: 'commit_then_hang' });
    const action = await harness.store(proposal('Vic'), 'k-no-key-hang');
    const outcome = await harness.runtime.execute(action.id);
    expect(outcome.status).toBe('unknown');
    expect(server.requests).toHaveLength(1);
    expect(server.committed).toHaveLength(1);
  });

  it('a receiver without the key guarantee: a 429 (nothing done) is retried, and the effect lands once', async () => {
    const { harness } = await setup({}, false);
    server.script.push({ kind: 'rate_limit', retryAfterSeconds: 0 });
    const action = await harness.store(proposal('Wes'), 'k-no-key-429');
    const outcome = await harness.runtime.execute(action.id);
    expect(outcome.status).toBe('succeeded');
    expect(server.requests).toHaveLength(2);
    expect(server.committed).toHaveLength(1);
  });

  it('a receiver that cannot be reached (connection refused) fails: nothing was sent', async () => {
    const { harness, base } = await setup({}, false);
    await server.stop();
    const action = await harness.store(proposal('Xia'), 'k-no-key-refused');
    const outcome = await harness.runtime.execute(action.id);
    expect(outcome.status).toBe('failed');
    expect(outcome.action.error?.mayHaveHappened).toBeUndefined();
    expect(base).toContain('127.0.0.1');
  });
});
