import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Connector, defineOperation } from '../../connectors/connector.ts';
import { ConnectorRuntime } from '../../connectors/connector-runtime.ts';
import { createEmailConnector } from '../../connectors/email/email-connector.ts';
import { SmtpEmailTransport } from '../../connectors/email/smtp-transport.ts';
import { ManualClock } from '../../core/clock.ts';
import type { Database } from '../../db/database.ts';
import { SmtpSink } from '../fakes/smtp-sink.ts';
import { type ConnectorHarness, createConnectorHarness } from '../support/connector-harness.ts';
import { DATABASE_KINDS, TestDatabases } from '../support/databases.ts';

/**
 * Exactly once, counted where the effect lands (issue #21): every assertion of once-ness here
 * counts messages a real SMTP server accepted, or calls a test connector received — sinks that do
 * not deduplicate — never Spine's own records.
 */
describe.each(DATABASE_KINDS)('exactly once at the sink, on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);
  const clock = new ManualClock('2026-12-07T09:00:00Z');
  let sink: SmtpSink;
  let db: Database;

  beforeAll(async () => {
    await databases.open();
  }, 180_000);
  afterEach(async () => {
    await sink?.close();
  });
  afterAll(async () => {
    await databases.closeAll();
  });

  function email(port: number, timeoutMs = 10_000): Connector {
    return createEmailConnector({
      from: 'Ada <ada@example.com>',
      transport: new SmtpEmailTransport({ host: '127.0.0.1', port, secure: false, timeoutMs }),
      clock,
    });
  }

  async function setup(options: { timeoutMs?: number; leaseMs?: number } = {}) {
    sink = new SmtpSink();
    const port = await sink.start();
    db = await databases.open();
    const harness = await createConnectorHarness(db, [email(port)], {
      resilience: { initialDelayMs: 10, maxDelayMs: 50, timeoutMs: options.timeoutMs ?? 5_000 },
      ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
    });
    return { harness, port };
  }

  const send = (harness: ConnectorHarness, key: string) =>
    harness.store(
      {
        connector: 'email',
        operation: 'send_email',
        params: { to: 'dana@example.com', subject: 'Invoice', body: 'Your invoice is attached.' },
        why: 'test',
      },
      key,
    );

  /** Another replica: its own runtime and connector instance over the same database. */
  function replica(harness: ConnectorHarness, port: number): ConnectorRuntime {
    return new ConnectorRuntime([email(port)], {
      actions: harness.repos.actions,
      logger: pino({ level: 'silent' }),
      resilience: { initialDelayMs: 10, maxDelayMs: 50 },
    });
  }

  it('ten concurrent executions on two replicas deliver one approved e-mail once', async () => {
    const { harness, port } = await setup();
    const action = await send(harness, 'once-concurrent');
    const other = replica(harness, port);
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        (index % 2 === 0 ? harness.runtime : other).execute(action.id),
      ),
    );
    expect(sink.accepted).toHaveLength(1);
    expect(outcomes.every((outcome) => outcome.status === 'succeeded')).toBe(true);
    expect(outcomes.filter((outcome) => !outcome.replayed)).toHaveLength(1);
    expect((await harness.runtime.execute(action.id)).replayed).toBe(true);
    expect(sink.accepted).toHaveLength(1);
  });

  it('an SMTP server that drops the link after DATA gets the message once, and the outcome is unknown', async () => {
    const { harness } = await setup();
    sink.script.push({ kind: 'drop_after_data' });
    const action = await send(harness, 'once-dropped');
    const outcome = await harness.runtime.execute(action.id);
    expect(outcome.status).toBe('unknown');
    expect(outcome.action.status).toBe('unknown');
    expect(outcome.action.error?.message).toMatch(/may have/);
    expect(sink.accepted).toHaveLength(1);
    expect(sink.connections).toBe(1);
    // Asking again replays the unknown outcome; nothing is sent on Spine's own initiative.
    const again = await harness.runtime.execute(action.id);
    expect(again).toMatchObject({ status: 'unknown', replayed: true });
    expect(sink.accepted).toHaveLength(1);
  });

  it('an answer slower than the timeout: the message is accepted once and the outcome is unknown', async () => {
    const { harness } = await setup({ timeoutMs: 300 });
    sink.script.push({ kind: 'ack_after_ms', ms: 1_500 });
    const action = await send(harness, 'once-slow');
    const outcome = await harness.runtime.execute(action.id);
    expect(outcome.status).toBe('unknown');
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    expect(sink.accepted).toHaveLength(1);
    expect(sink.connections).toBe(1);
  });

  it('failures that prove nothing was sent are retried, and the message lands once', async () => {
    const { harness } = await setup();
    sink.script.push({ kind: 'refuse_connection' }, { kind: 'reject_rcpt_4xx' });
    const action = await send(harness, 'once-retried');
    const outcome = await harness.runtime.execute(action.id);
    expect(outcome.status).toBe('succeeded');
    expect(sink.connections).toBe(3);
    expect(sink.accepted).toHaveLength(1);
  });

  it('a 5xx to the message fails it: nothing was accepted, and it is not retried', async () => {
    const { harness } = await setup();
    sink.script.push({ kind: 'reject_data_5xx' });
    const action = await send(harness, 'once-refused');
    const outcome = await harness.runtime.execute(action.id);
    expect(outcome.status).toBe('failed');
    expect(sink.accepted).toHaveLength(0);
    expect(sink.connections).toBe(1);
  });

  it('an e-mail whose executor died mid-call is settled as unknown, never sent again', async () => {
    const { harness } = await setup();
    const action = await send(harness, 'once-died');
    // A process claimed it and died: its lease lapses.
    const claim = await harness.repos.actions.claimForExecution(action.id, 'the-dead-executor', 60_000);
    expect(claim.kind).toBe('claimed');
    await db.pool.query(`UPDATE actions SET lease_until = now() - interval '1 second' WHERE id = $1`, [
      action.id,
    ]);
    const due = await harness.repos.connectorState.listDue(clock.now());
    expect(due.map((candidate) => candidate.id)).toContain(action.id);
    const outcome = await harness.runtime.execute(action.id);
    expect(outcome).toMatchObject({ status: 'unknown', replayed: false });
    expect(sink.accepted).toHaveLength(0);
    // The dead executor's outcome, if it ever came back, is refused: the token is not the holder's.
    const stale = await harness.repos.actions.recordOutcome(action.id, 'the-dead-executor', {
      status: 'succeeded',
      result: { late: true },
    });
    expect(stale.recorded).toBe(false);
    expect(stale.action.status).toBe('unknown');
  });

  it('a live claim is not taken: a second caller waits for the holder’s outcome', async () => {
    const { harness } = await setup();
    const action = await send(harness, 'once-live');
    const claim = await harness.repos.actions.claimForExecution(action.id, 'the-live-executor', 60_000);
    expect(claim.kind).toBe('claimed');
    const second = await harness.repos.actions.claimForExecution(action.id, 'another', 60_000);
    expect(second.kind).toBe('busy');
    const waiting = harness.runtime.execute(action.id);
    const recorded = await harness.repos.actions.recordOutcome(action.id, 'the-live-executor', {
      status: 'succeeded',
      result: { by: 'the live executor' },
    });
    expect(recorded.recorded).toBe(true);
    await expect(waiting).resolves.toMatchObject({ status: 'succeeded', replayed: true });
    expect(sink.accepted).toHaveLength(0);
  });
});

describe.each(DATABASE_KINDS)('claims that fence, on %s Postgres', (kind) => {
  const databases = new TestDatabases(kind);

  beforeAll(async () => {
    await databases.open();
  }, 180_000);
  afterAll(async () => {
    await databases.closeAll();
  });

  /** A connector whose call waits, then lands its effect unless its signal was aborted. */
  function slowConnector(landed: string[], waitMs: number): Connector {
    return {
      name: 'slow',
      description: 'A slow call',
      operations: {
        put: defineOperation({
          name: 'put',
          description: 'Put a value somewhere slowly',
          risk: 'write',
          reversible: false,
          external: true,
          retry: 'by_key',
          schema: z.object({ value: z.string() }),
          simulate: (params) => ({
            title: `Put ${params.value}`,
            doing: `putting ${params.value}`,
            done: `put ${params.value}`,
            fields: [],
          }),
          async execute(params, context) {
            await new Promise((resolve) => setTimeout(resolve, waitMs));
            context.signal.throwIfAborted();
            landed.push(params.value);
            return { value: params.value };
          },
        }),
      },
    };
  }

  it('an executor that loses its claim stops before its effect and its outcome is refused', async () => {
    const landed: string[] = [];
    const db = await databases.open();
    const harness = await createConnectorHarness(db, [slowConnector(landed, 1_500)], {
      leaseMs: 300,
      resilience: { maxAttempts: 1, timeoutMs: 10_000 },
    });
    const action = await harness.store(
      { connector: 'slow', operation: 'put', params: { value: 'x' }, why: 'test' },
      'fence-lost',
    );
    const running = harness.runtime.execute(action.id);
    // Another executor takes the claim over (as after the first froze past its lease).
    await new Promise((resolve) => setTimeout(resolve, 150));
    await db.pool.query(
      `UPDATE actions SET claim_token = 'the-other-executor', lease_until = now() + interval '1 minute' WHERE id = $1`,
      [action.id],
    );
    const recorded = harness.repos.actions.recordOutcome(action.id, 'the-other-executor', {
      status: 'succeeded',
      result: { by: 'the other executor' },
    });
    // The first sees its claim gone at its next renewal, aborts, and its own outcome is refused:
    // it returns the other's outcome.
    await recorded;
    const outcome = await running;
    expect(outcome).toMatchObject({ status: 'succeeded', replayed: true });
    expect(outcome.action.result).toEqual({ by: 'the other executor' });
    expect(landed).toEqual([]);
  });

  it('a renewal that fails stops the work (abort), and the action is settled by the next claim', async () => {
    const landed: string[] = [];
    const db = await databases.open();
    const harness = await createConnectorHarness(db, [slowConnector(landed, 1_500)], {
      leaseMs: 300,
      resilience: { maxAttempts: 1, timeoutMs: 10_000 },
    });
    const action = await harness.store(
      { connector: 'slow', operation: 'put', params: { value: 'y' }, why: 'test' },
      'fence-renewal-fails',
    );
    const renew = harness.repos.actions.renewLease.bind(harness.repos.actions);
    harness.repos.actions.renewLease = async () => {
      throw new Error('the database went away');
    };
    const outcome = await harness.runtime.execute(action.id);
    harness.repos.actions.renewLease = renew;
    expect(landed).toEqual([]);
    expect(outcome.status).toBe('failed');
    expect(outcome.action.error).toMatchObject({ code: 'action.lease_lost', mayHaveHappened: true });
  });
});
