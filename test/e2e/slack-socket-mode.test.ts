import type { PoolClient } from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpineSocketModeReceiver } from '../../bot/slack/socket-mode-receiver.ts';
import type { SocketEnvelope } from '../fakes/fake-slack-api.ts';
import {
  type ChatApp,
  SLACK_APP_TOKEN,
  SLACK_BOT_TOKEN,
  startChatApp,
  startChatAppWithLostDatabase,
} from '../support/chat-app.ts';
import { TestDatabases } from '../support/databases.ts';
import { actionIds, emailCard, expectStrangerRefused, expectThreadReply } from '../support/slack-checks.ts';
import {
  blockAction,
  dmEvent,
  envelopePayload,
  slashCommand,
  viewSubmission,
} from '../support/slack-requests.ts';

/** The envelope type Slack uses for each kind of body. */
function envelopeType(body: string): SocketEnvelope['type'] {
  if (body.startsWith('{')) return 'events_api';
  return new URLSearchParams(body).has('payload') ? 'interactive' : 'slash_commands';
}

/** Deliver a body (built as for HTTP) as a Socket Mode envelope; returns the envelope id. */
function deliver(target: ChatApp, body: string, retry?: { attempt: number; reason: string }): string {
  return target.slack.sendEnvelope({
    type: envelopeType(body),
    payload: envelopePayload(body),
    ...(retry ? { retryAttempt: retry.attempt, retryReason: retry.reason } : {}),
  });
}

/** Wait (bounded) until a log line containing `text` has been written `count` times. */
async function waitForLog(target: ChatApp, text: string, count = 1): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (target.logs().split(text).length - 1 < count) {
    if (Date.now() > deadline) throw new Error(`log line not written: ${text}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Hold an exclusive lock on the app's inbox table, so recording a delivery blocks, until
 * `release()`. `waitUntilBlocked(n)` returns once n statements of the app wait on this lock.
 */
async function lockInbox(target: ChatApp): Promise<{
  waitUntilBlocked(statements: number): Promise<void>;
  release(): Promise<void>;
}> {
  const client: PoolClient = await target.spine.db.pool.connect();
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${target.spine.db.schema}.inbox IN EXCLUSIVE MODE`);
  const pid = Number((await client.query('SELECT pg_backend_pid() AS pid')).rows[0]?.pid);
  return {
    async waitUntilBlocked(statements) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const blocked = await target.spine.db.pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`,
          [pid],
        );
        if (Number(blocked.rows[0]?.n) >= statements) return;
        if (Date.now() > deadline) throw new Error('the app never waited on the inbox lock');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async release() {
      await client.query('ROLLBACK');
      client.release();
    },
  };
}

describe('Slack in Socket Mode (server Postgres)', () => {
  const databases = new TestDatabases('server');
  const apps: ChatApp[] = [];
  let app: ChatApp;

  async function freshApp(options: Parameters<typeof startChatApp>[1] = {}): Promise<ChatApp> {
    const started = await startChatApp(await databases.open(), { slackMode: 'socket', ...options });
    apps.push(started);
    return started;
  }

  /** Send a DM asking for an e-mail over Socket Mode and return its approval card. */
  function socketEmailCard(target: ChatApp) {
    return emailCard(target, async (dm) => {
      await target.slack.waitForAck(deliver(target, dm));
    });
  }

  beforeAll(async () => {
    // A generous ack budget: these tests hold recording back on purpose, and a loaded machine
    // must not turn that into "late". The budget itself is tested with its own app below.
    app = await freshApp({ tuning: { ackBudgetMs: 60_000 } });
  });

  afterAll(async () => {
    for (const started of apps) await started.close();
    await databases.closeAll();
  });

  it('opens the socket with the app token and mounts no HTTP route for Slack', async () => {
    const open = app.slack.of('apps.connections.open');
    expect(open).toHaveLength(1);
    expect(open[0]?.authorization).toBe(`Bearer ${SLACK_APP_TOKEN}`);
    expect(app.slack.connections).toHaveLength(1);
    expect(app.slack.connections[0]?.open).toBe(true);
    const http = await fetch(`${app.baseUrl}/slack/events`, { method: 'POST', body: '{}' });
    expect(http.status).toBe(404);
  });

  it('turns a DM envelope into one goal, acks it only once the goal is recorded, and replies in the thread', async () => {
    const before = await app.count('goals');
    app.slack.onSocketAck = () => app.count('goals');
    try {
      const envelopeId = deliver(
        app,
        dmEvent({ text: 'remember that Dana prefers calls before 10', ts: '1700009999.000100' }),
      );
      const ack = await app.slack.waitForAck(envelopeId);
      expect(ack.observed).toBe(before + 1);
    } finally {
      app.slack.onSocketAck = undefined;
    }
    expect(await app.count('goals')).toBe(before + 1);
    await app.spine.runner.idle();
    expectThreadReply(app, { text: 'I remembered', channel: 'D1', threadTs: '1700009999.000100' });
  });

  it('sends no ack while the recording is held back, and acks as soon as it is recorded', async () => {
    const before = await app.count('goals');
    const lock = await lockInbox(app);
    let envelopeId: string;
    try {
      envelopeId = deliver(app, dmEvent({ text: 'remember that the ack waits for Postgres' }));
      await lock.waitUntilBlocked(1);
      // Bolt's own receiver would have acked before its listener even started.
      expect(app.slack.acksFor(envelopeId)).toEqual([]);
      expect(await app.count('goals')).toBe(before);
    } finally {
      await lock.release();
    }
    await app.slack.waitForAck(envelopeId);
    expect(await app.count('goals')).toBe(before + 1);
    await app.spine.runner.idle();
  });

  it('records the same event delivered four times (two at once, with retry_attempt) as one goal and acks every delivery', async () => {
    const before = await app.count('goals');
    const body = dmEvent({ text: 'remember that invoices go out on the 1st', eventId: 'EvSOCKETDUP1' });
    const first = deliver(app, body);
    const concurrent = deliver(app, body, { attempt: 1, reason: 'timeout' });
    await Promise.all([app.slack.waitForAck(first), app.slack.waitForAck(concurrent)]);
    const retries = [];
    for (const attempt of [2, 3]) {
      const envelopeId = deliver(app, body, { attempt, reason: 'timeout' });
      await app.slack.waitForAck(envelopeId);
      retries.push(envelopeId);
    }
    for (const envelopeId of [first, concurrent, ...retries]) {
      expect(app.slack.acksFor(envelopeId)).toHaveLength(1);
    }
    expect(await app.count('goals')).toBe(before + 1);
    expect(await app.count('inbox', `channel = 'slack' AND delivery_id = 'EvSOCKETDUP1'`)).toBe(1);
    await app.spine.runner.idle();
  });

  it('refuses a stranger who writes to the bot, politely, records no goal, and acks', async () => {
    const before = await app.count('goals');
    const envelopeId = deliver(app, dmEvent({ text: 'send me all invoices', user: 'U999', channel: 'D9' }));
    await app.slack.waitForAck(envelopeId);
    await expectStrangerRefused(app, { goalsBefore: before, channel: 'D9' });
  });

  it('executes an approval clicked twice at once over the socket exactly once and updates the card', async () => {
    const { approvalId, buttons, ts } = await socketEmailCard(app);
    expect(buttons).toContain(`approval:approve:${approvalId}`);
    const sentBefore = app.sentEmails().length;
    const click = blockAction({ actionId: `approval:approve:${approvalId}`, messageTs: ts });
    const clicks = [deliver(app, click), deliver(app, click)];
    await Promise.all(clicks.map((envelopeId) => app.slack.waitForAck(envelopeId)));
    await app.spine.runner.idle();
    expect(app.sentEmails().length).toBe(sentBefore + 1);
    expect(await app.count('events', `verb = 'approved' AND ref = 'approval #${approvalId}'`)).toBe(1);
    const updates = app.slack.of('chat.update').filter((call) => call.params.ts === ts);
    expect(updates).toHaveLength(1);
    expect(actionIds(updates[0]?.params.blocks)).toEqual([]);
    expect(String(updates[0]?.params.text)).toContain('Approved');
  });

  it("refuses a stranger's click over the socket and executes nothing", async () => {
    const { approvalId, ts } = await socketEmailCard(app);
    const sentBefore = app.sentEmails().length;
    const envelopeId = deliver(
      app,
      blockAction({ actionId: `approval:approve:${approvalId}`, user: 'U999', messageTs: ts }),
    );
    await app.slack.waitForAck(envelopeId);
    await app.spine.runner.idle();
    expect(app.sentEmails().length).toBe(sentBefore);
    const approval = await app.spine.db.pool.query(`SELECT status FROM approvals WHERE id = $1`, [
      approvalId,
    ]);
    expect(approval.rows[0]?.status).toBe('pending');
  });

  it("answers a modal submission with the listener's ack payload (validation errors)", async () => {
    const { approvalId, ts } = await socketEmailCard(app);
    await app.slack.waitForAck(
      deliver(app, blockAction({ actionId: `approval:edit:${approvalId}`, messageTs: ts })),
    );
    const modal = app.slack.of('views.open').at(-1)?.params.view as {
      private_metadata: string;
      callback_id: string;
    };
    expect(modal.private_metadata).toBe(String(approvalId));
    const envelopeId = deliver(
      app,
      viewSubmission({
        callbackId: modal.callback_id,
        privateMetadata: modal.private_metadata,
        values: { to: 'not an address', subject: 'Tuesday', body: 'x' },
      }),
    );
    const ack = await app.slack.waitForAck(envelopeId);
    const payload = ack.payload as { response_action?: string; errors?: Record<string, string> };
    expect(payload.response_action).toBe('errors');
    expect(Object.values(payload.errors ?? {}).join(' ')).toContain('e-mail address');
  });

  it('answers a /spine status slash_commands envelope', async () => {
    const before = app.slack.of('chat.postMessage').length;
    const envelopeId = deliver(app, slashCommand({ text: 'status', channel: 'D1' }));
    await app.slack.waitForAck(envelopeId);
    const replies = app.slack.of('chat.postMessage').slice(before);
    expect(replies.map((call) => String(call.params.text)).join('\n')).toMatch(/goals|approval/i);
    expect(replies.at(-1)?.params.channel).toBe('D1');
  });

  it('reconnects when Slack asks it to, and keeps working on the new connection', async () => {
    const connections = app.slack.connections.length;
    app.slack.requestReconnect();
    await app.slack.waitForConnection(connections + 1);
    expect(app.slack.connections.slice(0, connections).every((connection) => !connection.open)).toBe(true);
    const before = await app.count('goals');
    await app.slack.waitForAck(deliver(app, dmEvent({ text: 'remember that reconnects are routine' })));
    expect(await app.count('goals')).toBe(before + 1);
    await app.spine.runner.idle();
  });

  it('never writes the app token or the bot token to the logs', () => {
    const logs = app.logs();
    expect(logs.length).toBeGreaterThan(1000);
    expect(logs).not.toContain(SLACK_APP_TOKEN);
    expect(logs).not.toContain(SLACK_BOT_TOKEN);
  });

  it('over the ack budget: leaves the event unacked (the redelivery is deduped) but acks the command', async () => {
    const slow = await freshApp({ tuning: { ackBudgetMs: 200 } });
    const lock = await lockInbox(slow);
    const body = dmEvent({ text: 'remember that late events are redelivered', eventId: 'EvSOCKETLATE1' });
    let event: string;
    let command: string;
    try {
      event = deliver(slow, body);
      command = deliver(slow, slashCommand({ text: 'status' }));
      await lock.waitUntilBlocked(2);
      await waitForLog(slow, 'a Slack event was not acknowledged');
      // The command's ack came at the budget, while its recording is still blocked.
      await slow.slack.waitForAck(command);
      expect(slow.slack.acksFor(event)).toEqual([]);
    } finally {
      await lock.release();
    }
    // Slack redelivers the unacked event: that delivery is acknowledged, and it is still one goal.
    await slow.slack.waitForAck(deliver(slow, body, { attempt: 1, reason: 'timeout' }));
    expect(await slow.count('goals')).toBe(1);
    expect(await slow.count('inbox', `channel = 'slack' AND delivery_id = 'EvSOCKETLATE1'`)).toBe(1);
    expect(slow.slack.acksFor(event)).toEqual([]);
  });

  it('does not ack an event it could not record (Postgres gone), but still acks a click', async () => {
    const { app: broken, dropSchema } = await startChatAppWithLostDatabase({ slackMode: 'socket' });
    apps.push(broken);
    const event = deliver(broken, dmEvent({ text: 'remember that nothing is lost' }));
    await waitForLog(broken, 'a Slack event was not acknowledged');
    expect(broken.slack.acksFor(event)).toEqual([]);
    expect(broken.logs()).toContain('a Slack request could not be handled');
    const click = deliver(broken, blockAction({ actionId: 'approval:approve:1' }));
    const ack = await broken.slack.waitForAck(click);
    expect(ack.payload ?? {}).toEqual({});
    expect(broken.slack.acksFor(event)).toEqual([]);
    await dropSchema();
  });

  it('fails start-up with advice when Slack cannot be reached, instead of retrying for minutes', async () => {
    const logger = pino({ level: 'silent' });
    // A port nobody listens on: apps.connections.open fails and the client would retry it 100 times.
    const receiver = new SpineSocketModeReceiver({
      appToken: SLACK_APP_TOKEN,
      apiUrl: 'http://127.0.0.1:9/api/',
      logger,
      startTimeoutMs: 500,
    });
    await expect(receiver.start()).rejects.toThrow(
      /did not connect within 1 s\. Check that Slack is reachable .* connections:write/,
    );
  });

  it('closes the socket when it stops', async () => {
    const stopping = await freshApp();
    expect(stopping.slack.connections[0]?.open).toBe(true);
    await stopping.chat.stop();
    expect(stopping.slack.connections.map((connection) => connection.open)).toEqual([false]);
  });
});
