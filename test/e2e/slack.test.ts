import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChatApp,
  SLACK_BOT_TOKEN,
  SLACK_SIGNING_SECRET,
  startChatApp,
  startChatAppWithLostDatabase,
} from '../support/chat-app.ts';
import { TestDatabases } from '../support/databases.ts';
import {
  actionIds,
  emailCard as emailCardVia,
  expectStrangerRefused,
  expectThreadReply,
} from '../support/slack-checks.ts';
import {
  blockAction,
  dmEvent,
  mentionEvent,
  otherEvent,
  postToSlack,
  signedHeaders,
  slashCommand,
  viewSubmission,
} from '../support/slack-requests.ts';

describe('Slack over real HTTP (server Postgres)', () => {
  const databases = new TestDatabases('server');
  const apps: ChatApp[] = [];
  let app: ChatApp;

  async function freshApp(options: Parameters<typeof startChatApp>[1] = {}): Promise<ChatApp> {
    const started = await startChatApp(await databases.open(), options);
    apps.push(started);
    return started;
  }

  /** Ask for an e-mail in a DM and return the approval card's id and its button action ids. */
  function emailCard(target: ChatApp) {
    return emailCardVia(target, async (dm) => {
      expect((await postToSlack(target.baseUrl, dm)).status).toBe(200);
    });
  }

  beforeAll(async () => {
    app = await freshApp();
  });

  afterAll(async () => {
    for (const started of apps) await started.close();
    await databases.closeAll();
  });

  it('answers the URL verification challenge', async () => {
    const body = JSON.stringify({ token: 't', challenge: 'chal-123', type: 'url_verification' });
    const response = await postToSlack(app.baseUrl, body);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ challenge: 'chal-123' });
  });

  it('turns a DM into a goal and replies in the same thread', async () => {
    const before = await app.count('goals');
    const body = dmEvent({ text: 'remember that Dana prefers calls before 10', ts: '1700009999.000100' });
    const response = await postToSlack(app.baseUrl, body);
    expect(response.status).toBe(200);
    expect(await app.count('goals')).toBe(before + 1);
    await app.spine.runner.idle();
    expectThreadReply(app, { text: 'I remembered', channel: 'D1', threadTs: '1700009999.000100' });
  });

  it('turns an @mention into a goal without the mention in its text', async () => {
    const response = await postToSlack(
      app.baseUrl,
      mentionEvent({ text: '<@UBOT> remember that the office opens at 9' }),
    );
    expect(response.status).toBe(200);
    const goal = await app.spine.db.pool.query(`SELECT text, thread FROM goals ORDER BY id DESC LIMIT 1`);
    expect(goal.rows[0]?.text).toBe('remember that the office opens at 9');
    await app.spine.runner.idle();
  });

  it('records the same event delivered four times (two at once) as exactly one goal', async () => {
    const before = await app.count('goals');
    const body = dmEvent({ text: 'remember that invoices go out on the 1st', eventId: 'EvDUPLICATE1' });
    const concurrent = await Promise.all([postToSlack(app.baseUrl, body), postToSlack(app.baseUrl, body)]);
    const retries = [];
    for (const num of ['1', '2']) {
      retries.push(
        await postToSlack(app.baseUrl, body, {
          headers: { 'x-slack-retry-num': num, 'x-slack-retry-reason': 'http_timeout' },
        }),
      );
    }
    for (const response of [...concurrent, ...retries]) expect(response.status).toBe(200);
    expect(await app.count('goals')).toBe(before + 1);
    expect(await app.count('inbox', `channel = 'slack' AND delivery_id = 'EvDUPLICATE1'`)).toBe(1);
    await app.spine.runner.idle();
  });

  it('refuses forged, missing and one-byte-changed signatures with 401 and writes nothing', async () => {
    const tables = ['goals', 'inbox', 'events', 'approvals'];
    const before = await Promise.all(tables.map((table) => app.count(table)));
    const body = dmEvent({ text: 'remember that this must not be stored' });
    const forged = await fetch(`${app.baseUrl}/slack/events`, {
      method: 'POST',
      headers: signedHeaders(body, { secret: 'not-the-signing-secret' }),
      body,
    });
    const missing = await fetch(`${app.baseUrl}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const headers = signedHeaders(body);
    const changed = body.replace('must not', 'must_not');
    expect(changed.length).toBe(body.length);
    const tampered = await fetch(`${app.baseUrl}/slack/events`, { method: 'POST', headers, body: changed });
    const signature = headers['x-slack-signature'] ?? '';
    const flipped = `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`;
    const badSignature = await fetch(`${app.baseUrl}/slack/events`, {
      method: 'POST',
      headers: { ...headers, 'x-slack-signature': flipped },
      body,
    });
    for (const response of [forged, missing, tampered, badSignature]) expect(response.status).toBe(401);
    expect(await Promise.all(tables.map((table) => app.count(table)))).toEqual(before);
  });

  it('refuses timestamps 301 s in the past or in the future with 401 (fake clock), accepts 300 s', async () => {
    const clockMs = Date.UTC(2026, 0, 15, 12, 0, 0);
    const clocked = await freshApp({ tuning: { now: () => clockMs } });
    const now = clockMs / 1000;
    const past = await postToSlack(clocked.baseUrl, dmEvent({ text: 'remember old' }), {
      timestamp: now - 301,
    });
    const future = await postToSlack(clocked.baseUrl, dmEvent({ text: 'remember future' }), {
      timestamp: now + 301,
    });
    expect(past.status).toBe(401);
    expect(future.status).toBe(401);
    expect(await clocked.count('goals')).toBe(0);
    const edge = await postToSlack(clocked.baseUrl, dmEvent({ text: 'remember the edge' }), {
      timestamp: now + 300,
    });
    expect(edge.status).toBe(200);
    expect(await clocked.count('goals')).toBe(1);
    await clocked.spine.runner.idle();
  });

  it('acks fast while the work is slow, and the work still finishes', async () => {
    app.slack.delays.set('chat.postMessage', 5_000);
    try {
      const started = Date.now();
      const response = await postToSlack(app.baseUrl, dmEvent({ text: 'remember that slow Slack is fine' }));
      const elapsed = Date.now() - started;
      expect(response.status).toBe(200);
      // Slack's contract is 3 s; the reply (5 s late) must not hold the ack.
      expect(elapsed).toBeLessThan(3_000);
      await app.spine.runner.idle();
      expect(
        app.slack
          .of('chat.postMessage')
          .some((call) => String(call.params.text).includes('slow Slack is fine')),
      ).toBe(true);
    } finally {
      app.slack.delays.delete('chat.postMessage');
    }
  });

  it('executes an approved action once for two clicks and ten parallel clicks, and updates the card in place', async () => {
    const { approvalId, buttons, ts } = await emailCard(app);
    expect(buttons).toEqual([
      `approval:approve:${approvalId}`,
      `approval:reject:${approvalId}`,
      `approval:edit:${approvalId}`,
    ]);
    const sentBefore = app.sentEmails().length;
    const click = () =>
      postToSlack(app.baseUrl, blockAction({ actionId: `approval:approve:${approvalId}`, messageTs: ts }));
    const first = await click();
    const second = await click();
    const parallel = await Promise.all(Array.from({ length: 10 }, click));
    for (const response of [first, second, ...parallel]) expect(response.status).toBe(200);
    await app.spine.runner.idle();
    expect(app.sentEmails().length).toBe(sentBefore + 1);
    const action = await app.spine.db.pool.query(
      `SELECT status FROM actions WHERE id = (SELECT action_id FROM approvals WHERE id = $1)`,
      [approvalId],
    );
    expect(action.rows[0]?.status).toBe('succeeded');
    expect(await app.count('events', `verb = 'approved' AND ref = 'approval #${approvalId}'`)).toBe(1);
    const updates = app.slack.of('chat.update').filter((call) => call.params.ts === ts);
    expect(updates.length).toBe(1);
    expect(actionIds(updates[0]?.params.blocks)).toEqual([]);
    expect(String(updates[0]?.params.text)).toContain('Approved');
    expect(JSON.stringify(updates[0]?.params.blocks)).toMatch(/Approved by Ada on .* via Slack/);
  });

  it("refuses a stranger's click (also with a tampered id), logs it, and executes nothing", async () => {
    const { approvalId, ts } = await emailCard(app);
    const sentBefore = app.sentEmails().length;
    const strangerEvents = () =>
      app.count('events', `verb = 'was refused when trying to' AND actor = 'slack:U999'`);
    const refusedBefore = await strangerEvents();
    const stranger = await postToSlack(
      app.baseUrl,
      blockAction({ actionId: `approval:approve:${approvalId}`, user: 'U999', messageTs: ts }),
    );
    const tampered = await postToSlack(
      app.baseUrl,
      blockAction({ actionId: `approval:approve:${approvalId + 1000}`, user: 'U999', messageTs: ts }),
    );
    const garbage = await postToSlack(
      app.baseUrl,
      blockAction({ actionId: 'approval:approve:1;DROP TABLE approvals', messageTs: ts }),
    );
    for (const response of [stranger, tampered, garbage]) expect(response.status).toBe(200);
    await app.spine.runner.idle();
    expect(app.sentEmails().length).toBe(sentBefore);
    const approval = await app.spine.db.pool.query(`SELECT status FROM approvals WHERE id = $1`, [
      approvalId,
    ]);
    expect(approval.rows[0]?.status).toBe('pending');
    // One refusal event per stranger per day, however many attempts.
    expect(await strangerEvents()).toBe(refusedBefore + 1);
    expect(app.logs()).toContain('refused a Slack button with unknown data');
    // The operator can still decide it: reject.
    await postToSlack(app.baseUrl, blockAction({ actionId: `approval:reject:${approvalId}`, messageTs: ts }));
    await app.spine.runner.idle();
    expect(app.sentEmails().length).toBe(sentBefore);
  });

  it('edits an action before approval through a modal, validated again, and executes the edited version', async () => {
    const { approvalId, ts } = await emailCard(app);
    const open = await postToSlack(
      app.baseUrl,
      blockAction({ actionId: `approval:edit:${approvalId}`, messageTs: ts }),
    );
    expect(open.status).toBe(200);
    const modal = app.slack.of('views.open').at(-1)?.params.view as {
      private_metadata: string;
      callback_id: string;
      blocks: Array<{ block_id?: string }>;
    };
    expect(modal.private_metadata).toBe(String(approvalId));
    expect(modal.blocks.map((block) => block.block_id).filter(Boolean)).toEqual(['to', 'subject', 'body']);
    // Invalid: the connector's validation runs again and the modal shows the error.
    const invalid = await postToSlack(
      app.baseUrl,
      viewSubmission({
        callbackId: modal.callback_id,
        privateMetadata: modal.private_metadata,
        values: { to: 'not an address', subject: 'Tuesday', body: 'x' },
      }),
    );
    expect(invalid.status).toBe(200);
    const invalidReply = (await invalid.json()) as {
      response_action: string;
      errors: Record<string, string>;
    };
    expect(invalidReply.response_action).toBe('errors');
    expect(Object.values(invalidReply.errors).join(' ')).toContain('e-mail address');
    // A stranger cannot edit.
    const stranger = await postToSlack(
      app.baseUrl,
      viewSubmission({
        callbackId: modal.callback_id,
        privateMetadata: modal.private_metadata,
        values: { subject: 'Hacked' },
        user: 'U999',
      }),
    );
    expect(((await stranger.json()) as { response_action: string }).response_action).toBe('errors');
    const valid = await postToSlack(
      app.baseUrl,
      viewSubmission({
        callbackId: modal.callback_id,
        privateMetadata: modal.private_metadata,
        values: { to: 'dana@example.com', subject: 'Wednesday instead', body: 'Wednesday works better.' },
      }),
    );
    expect(valid.status).toBe(200);
    const action = await app.spine.db.pool.query(
      `SELECT params FROM actions WHERE id = (SELECT action_id FROM approvals WHERE id = $1)`,
      [approvalId],
    );
    expect(action.rows[0]?.params).toMatchObject({
      subject: 'Wednesday instead',
      body: 'Wednesday works better.',
    });
    expect(await app.count('events', `verb = 'edited' AND ref = 'approval #${approvalId}'`)).toBe(1);
    const updatedCard = app.slack
      .of('chat.update')
      .filter((call) => call.params.ts === ts)
      .at(-1);
    expect(JSON.stringify(updatedCard?.params.blocks)).toContain('Wednesday instead');
    expect(actionIds(updatedCard?.params.blocks)).toContain(`approval:approve:${approvalId}`);
    const sentBefore = app.sentEmails().length;
    await postToSlack(
      app.baseUrl,
      blockAction({ actionId: `approval:approve:${approvalId}`, messageTs: ts }),
    );
    await app.spine.runner.idle();
    const sent = app.sentEmails();
    expect(sent.length).toBe(sentBefore + 1);
    const newest = sent.find((text) => text.includes('Wednesday instead'));
    expect(newest).toContain('Wednesday works better.');
  });

  it('refuses a stranger who writes to the bot, politely, and records no goal', async () => {
    const before = await app.count('goals');
    const response = await postToSlack(
      app.baseUrl,
      dmEvent({ text: 'send me all invoices', user: 'U999', channel: 'D9' }),
    );
    expect(response.status).toBe(200);
    await expectStrangerRefused(app, { goalsBefore: before, channel: 'D9' });
  });

  it('survives a 100 KB message, binary junk, malformed JSON and unknown event types', async () => {
    const before = await app.count('goals');
    const huge = await postToSlack(app.baseUrl, dmEvent({ text: 'x'.repeat(100_000), channel: 'DBIG' }));
    expect(huge.status).toBe(200);
    expect(String(app.slack.of('chat.postMessage').at(-1)?.params.text)).toContain('too long');
    const junk = Buffer.from(Array.from({ length: 2048 }, (_, index) => (index * 37) % 256));
    const binary = await fetch(`${app.baseUrl}/slack/events`, {
      method: 'POST',
      headers: signedHeaders(junk.toString('latin1')),
      body: junk.toString('latin1'),
    });
    expect(binary.status).toBe(400);
    const malformed = await postToSlack(app.baseUrl, '{"type":"event_callback","event":', {
      contentType: 'application/json',
    });
    expect(malformed.status).toBe(400);
    const unknown = await postToSlack(
      app.baseUrl,
      otherEvent({ type: 'reaction_added', user: 'U123', reaction: 'tada' }),
    );
    expect(unknown.status).toBe(200);
    const unsubscribed = await postToSlack(app.baseUrl, JSON.stringify({ type: 'something_new', x: 1 }));
    expect(unsubscribed.status).toBe(200);
    expect(await app.count('goals')).toBe(before);
    const health = await fetch(`${app.baseUrl}/healthz`);
    expect(health.status).toBe(200);
  });

  it('answers /spine status with the open goals and pending approvals', async () => {
    const response = await postToSlack(app.baseUrl, slashCommand({ text: 'status' }));
    expect(response.status).toBe(200);
    const reply = app.slack.of('chat.postMessage').at(-1);
    expect(String(reply?.params.text)).toMatch(/goals|approval/i);
  });

  it("answers /spine in a channel the bot has not joined through the command's response_url", async () => {
    app.slack.notInChannel.add('C-NOT-JOINED');
    const response = await postToSlack(
      app.baseUrl,
      slashCommand({ text: 'status', channel: 'C-NOT-JOINED', responseUrl: app.slack.responseUrl('cmd-1') }),
    );
    expect(response.status).toBe(200);
    await app.slack.waitFor((calls) => calls.some((call) => call.method === 'response_url'));
    const reply = app.slack.of('response_url').at(-1);
    expect(reply?.params.response_type).toBe('in_channel');
    expect(String(reply?.params.text)).toMatch(/goals|approval/i);
  });

  it('reads a file shared in a DM into memory once, then answers the question sent with it', async () => {
    const bytes = new TextEncoder().encode(
      'The studio insurance policy renews on 14 March with Harbour Mutual.\n',
    );
    const url = app.slack.addFile('F1', bytes);
    const body = dmEvent({
      text: 'recall when does the studio insurance renew?',
      files: [{ id: 'F1', name: 'insurance.txt', size: bytes.length, url }],
    });
    expect((await postToSlack(app.baseUrl, body)).status).toBe(200);
    expect((await postToSlack(app.baseUrl, body, { headers: { 'x-slack-retry-num': '1' } })).status).toBe(
      200,
    );
    await app.slack.waitFor((calls) =>
      calls.some(
        (call) => call.method === 'chat.postMessage' && String(call.params.text).includes('14 March'),
      ),
    );
    await app.spine.runner.idle();
    const texts = app.slack.of('chat.postMessage').map((call) => String(call.params.text));
    expect(texts.filter((text) => text.startsWith('Done: insurance.txt'))).toHaveLength(1);
    const downloads = app.slack.of('file');
    expect(downloads).toHaveLength(1);
    expect(downloads[0]?.authorization).toMatch(/^Bearer xoxb-/);
    const stored = await app.spine.db.pool.query(
      `SELECT source_ref FROM memories WHERE source = 'document:insurance.txt' ORDER BY id LIMIT 1`,
    );
    expect(stored.rows[0]?.source_ref).toBe('https://spine-test.slack.com/files/U123/F1/insurance.txt');
  });

  it('publishes an App Home tab with pending approvals and recent goals', async () => {
    await emailCard(app);
    const response = await postToSlack(
      app.baseUrl,
      otherEvent({ type: 'app_home_opened', user: 'U123', channel: 'D1', tab: 'home' }),
    );
    expect(response.status).toBe(200);
    const publish = app.slack.of('views.publish').at(-1);
    expect(publish?.params.user_id).toBe('U123');
    const view = JSON.stringify(publish?.params.view);
    expect(view).toContain('Waiting for your approval');
    expect(view).toContain('approval:approve:');
    expect(view).toContain('Recent goals');
    await postToSlack(
      app.baseUrl,
      otherEvent({ type: 'app_home_opened', user: 'U999', channel: 'D9', tab: 'home' }),
    );
    expect(JSON.stringify(app.slack.of('views.publish').at(-1)?.params.view)).toContain('operator only');
  });

  it('never writes a token or the signing secret to the logs', () => {
    const logs = app.logs();
    expect(logs.length).toBeGreaterThan(1000);
    expect(logs).not.toContain(SLACK_BOT_TOKEN);
    expect(logs).not.toContain(SLACK_SIGNING_SECRET);
  });

  it('shows "working…" for a slow goal and replaces it with the answer in place', async () => {
    const slow = await freshApp({ tuning: { progressDelayMs: 1 } });
    const response = await postToSlack(
      slow.baseUrl,
      dmEvent({ text: 'remember that progress shows', ts: '1700007777.000001' }),
    );
    expect(response.status).toBe(200);
    await slow.spine.runner.idle();
    const working = slow.slack.of('chat.postMessage').find((call) => call.params.text === 'Working on it…');
    expect(working?.params.thread_ts).toBe('1700007777.000001');
    const replaced = slow.slack
      .of('chat.update')
      .find((call) => String(call.params.text).includes('progress shows'));
    expect(replaced).toBeDefined();
  });

  it('answers non-2xx when Postgres is unreachable, so Slack retries', async () => {
    const { app: broken, dropSchema } = await startChatAppWithLostDatabase();
    apps.push(broken);
    const before = broken.slack.calls.length;
    const response = await postToSlack(broken.baseUrl, dmEvent({ text: 'remember that nothing is lost' }));
    expect(response.status).toBeGreaterThanOrEqual(500);
    expect(broken.slack.calls.length).toBe(before);
    await dropSchema();
  });
});
