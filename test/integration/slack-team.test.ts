import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChatApp, startChatApp } from '../support/chat-app.ts';
import { TestDatabases } from '../support/databases.ts';
import { emailCard } from '../support/slack-checks.ts';
import {
  blockAction,
  dmEvent,
  envelopePayload,
  postToSlack,
  slashCommand,
} from '../support/slack-requests.ts';

/** The fake's `auth.test` answers team T1; T2 is another workspace where the app is installed. */
const OTHER_TEAM = 'T2';

/** A body built for team T1, as another team would send it (events, interactivity, commands). */
function fromOtherTeam(body: string): string {
  if (body.startsWith('{')) {
    const event = JSON.parse(body) as Record<string, unknown>;
    event.team_id = OTHER_TEAM;
    for (const authorization of (event.authorizations ?? []) as Array<Record<string, unknown>>)
      authorization.team_id = OTHER_TEAM;
    return JSON.stringify(event);
  }
  const form = new URLSearchParams(body);
  const payload = form.get('payload');
  if (payload) {
    const parsed = JSON.parse(payload) as { team: { id: string }; user: { team_id: string } };
    parsed.team.id = OTHER_TEAM;
    parsed.user.team_id = OTHER_TEAM;
    form.set('payload', JSON.stringify(parsed));
  } else {
    form.set('team_id', OTHER_TEAM);
  }
  return form.toString();
}

describe('Slack requests from another team are refused (server Postgres)', () => {
  const databases = new TestDatabases('server');
  const apps: ChatApp[] = [];
  let app: ChatApp;

  beforeAll(async () => {
    app = await startChatApp(await databases.open());
    apps.push(app);
  });

  afterAll(async () => {
    for (const started of apps) await started.close();
    await databases.closeAll();
  });

  const refusals = (target: ChatApp) =>
    target.logs().match(/refused a Slack request from another team/g)?.length ?? 0;

  it("HTTP: another team's event, slash command and button run nothing, even as the operator's user id", async () => {
    const { approvalId, ts } = await emailCard(app, async (dm) => {
      expect((await postToSlack(app.baseUrl, dm)).status).toBe(200);
    });
    const posted = app.slack.of('chat.postMessage').length;
    const goals = await app.count('goals');
    const inbox = await app.count('inbox');
    const before = refusals(app);
    const responses = [
      await postToSlack(app.baseUrl, fromOtherTeam(dmEvent({ text: 'remember that T2 got in' }))),
      await postToSlack(app.baseUrl, fromOtherTeam(slashCommand({ text: 'status' }))),
      await postToSlack(
        app.baseUrl,
        fromOtherTeam(blockAction({ actionId: `approval:approve:${approvalId}`, messageTs: ts })),
      ),
    ];
    // Answered 200 so Slack does not retry them; nothing ran.
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200]);
    await app.spine.runner.idle();
    expect(await app.count('goals')).toBe(goals);
    expect(await app.count('inbox')).toBe(inbox);
    expect(app.slack.of('chat.postMessage').length).toBe(posted);
    const approval = await app.spine.db.pool.query('SELECT status FROM approvals WHERE id = $1', [
      approvalId,
    ]);
    expect(approval.rows[0]?.status).toBe('pending');
    expect(refusals(app) - before).toBe(3);
    // The same requests from Spine's own team work.
    expect((await postToSlack(app.baseUrl, slashCommand({ text: 'status' }))).status).toBe(200);
    expect(app.slack.of('chat.postMessage').length).toBe(posted + 1);
    await postToSlack(app.baseUrl, blockAction({ actionId: `approval:reject:${approvalId}`, messageTs: ts }));
    await app.spine.runner.idle();
  });

  it("Socket Mode: another team's envelope is acknowledged and runs nothing", async () => {
    const socket = await startChatApp(await databases.open(), { slackMode: 'socket' });
    apps.push(socket);
    await socket.slack.waitForConnection(1);
    const envelope = socket.slack.sendEnvelope({
      type: 'events_api',
      payload: envelopePayload(fromOtherTeam(dmEvent({ text: 'remember that T2 got in' }))),
    });
    await socket.slack.waitForAck(envelope);
    const command = socket.slack.sendEnvelope({
      type: 'slash_commands',
      payload: envelopePayload(fromOtherTeam(slashCommand({ text: 'status' }))),
    });
    expect((await socket.slack.waitForAck(command)).payload ?? {}).toEqual({});
    expect(await socket.count('goals')).toBe(0);
    expect(await socket.count('inbox')).toBe(0);
    expect(socket.slack.of('chat.postMessage')).toHaveLength(0);
    expect(refusals(socket)).toBe(2);
  });
});
