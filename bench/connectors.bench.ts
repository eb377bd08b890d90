/**
 * What exactly-once and resilience cost per action: a signed webhook call to a loopback receiver,
 * raw (fetch only) versus through the connector runtime (store, claim, cockatiel policies, stored
 * outcome) on the embedded database, and the replay of a finished action.
 *
 *   npm run bench -- connectors [--n 200]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createWebhookConnector } from '../connectors/webhook/webhook-connector.ts';
import {
  IDEMPOTENCY_HEADER,
  SIGNATURE_HEADER,
  signWebhook,
  TIMESTAMP_HEADER,
} from '../connectors/webhook/webhook-signature.ts';
import { systemClock } from '../core/clock.ts';
import { openDatabase } from '../db/database.ts';
import { FakeWebhookServer } from '../test/fakes/fake-webhook-server.ts';
import { createConnectorHarness } from '../test/support/connector-harness.ts';

const SECRET = 'bench-webhook-secret-0123456789';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function line(label: string, samples: number[]): string {
  return `${label.padEnd(44)} median ${median(samples).toFixed(2)} ms   p95 ${percentile(samples, 95).toFixed(2)} ms   (n=${samples.length})`;
}

export default async function bench(args: string[]): Promise<void> {
  const nIndex = args.indexOf('--n');
  const n = nIndex >= 0 ? Number(args[nIndex + 1]) : 200;
  const server = new FakeWebhookServer(SECRET);
  const base = await server.start();
  const dataDir = mkdtempSync(join(tmpdir(), 'spine-bench-connectors-'));
  const db = await openDatabase({ dataDir });
  try {
    const connector = createWebhookConnector(
      {
        name: 'crm',
        description: 'bench',
        request: { url: `${base}/leads`, method: 'POST', headers: {} },
        secret: SECRET,
        risk: 'write',
      },
      systemClock,
    );
    const harness = await createConnectorHarness(db, [connector]);

    const raw: number[] = [];
    for (let i = 0; i < n; i += 1) {
      const body = JSON.stringify({ payload: { i } });
      const ts = Math.floor(Date.now() / 1000);
      const started = performance.now();
      const response = await fetch(`${base}/leads`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [IDEMPOTENCY_HEADER]: `raw-${i}`,
          [TIMESTAMP_HEADER]: String(ts),
          [SIGNATURE_HEADER]: signWebhook(SECRET, ts, body),
        },
        body,
      });
      await response.text();
      raw.push(performance.now() - started);
    }

    const throughRuntime: number[] = [];
    const stored: number[] = [];
    const ids: number[] = [];
    for (let i = 0; i < n; i += 1) {
      const storeStarted = performance.now();
      const action = await harness.store(
        { connector: 'crm', operation: 'send', params: { payload: { i } }, why: 'bench' },
        `bench-${i}`,
      );
      stored.push(performance.now() - storeStarted);
      const started = performance.now();
      const outcome = await harness.runtime.execute(action.id);
      throughRuntime.push(performance.now() - started);
      if (outcome.status !== 'succeeded')
        throw new Error(`action ${action.id} failed: ${outcome.action.error?.message}`);
      ids.push(action.id);
    }

    const replay: number[] = [];
    for (const id of ids) {
      const started = performance.now();
      const outcome = await harness.runtime.execute(id);
      replay.push(performance.now() - started);
      if (!outcome.replayed) throw new Error('a finished action ran again');
    }

    // Duplicates are counted in requests received, not in `effects` (one per key): a replay that
    // called the receiver again under the same key would be invisible there.
    const requests = server.requests.length;
    const effects = server.effects.size;
    process.stdout.write(
      [
        `connectors benchmark — ${new Date().toISOString()} — ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, embedded PGlite`,
        line('raw signed fetch (baseline)', raw),
        line('prepare + store action (validate, preview)', stored),
        line('runtime.execute (claim, policies, outcome)', throughRuntime),
        line('runtime.execute replay (stored outcome)', replay),
        `overhead of the runtime over a raw call: ${(median(throughRuntime) - median(raw)).toFixed(2)} ms (median)`,
        `effects at the receiver: ${effects} by key, ${requests} requests for ${2 * n} calls and ${n} replays (expected ${2 * n}); duplicate side-effects: ${requests - 2 * n}`,
      ].join('\n') + '\n',
    );
  } finally {
    await server.stop();
    await db.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
