import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeSlackApi } from '../fakes/fake-slack-api.ts';
import { FakeTelegramApi } from '../fakes/fake-telegram-api.ts';
import { OWNER, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, TELEGRAM_BOT_TOKEN } from '../support/chat-app.ts';
import { freePort } from '../support/free-port.ts';
import { dmEvent, postToSlack } from '../support/slack-requests.ts';
import { childEnv, REPO_ROOT, SPINE_BIN } from '../support/spine-process.ts';
import { textUpdate } from '../support/telegram-updates.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('spine start with Slack and Telegram configured (child process)', () => {
  it('serves Slack on POST /slack/events, polls Telegram, and stops cleanly on SIGTERM', async () => {
    const slack = new FakeSlackApi();
    const telegram = new FakeTelegramApi();
    const slackUrl = await slack.start();
    const telegramRoot = await telegram.start();
    cleanups.push(
      () => slack.stop(),
      () => telegram.stop(),
    );
    const dataDir = mkdtempSync(join(tmpdir(), 'spine-start-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const child = spawn(process.execPath, [SPINE_BIN, 'start'], {
      cwd: REPO_ROOT,
      env: childEnv({
        SPINE_DATA_DIR: dataDir,
        PORT: String(port),
        SPINE_OWNER: OWNER,
        SLACK_BOT_TOKEN,
        SLACK_SIGNING_SECRET,
        SLACK_API_URL: slackUrl,
        TELEGRAM_BOT_TOKEN,
        TELEGRAM_API_ROOT: telegramRoot,
      }),
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const baseUrl = `http://127.0.0.1:${port}`;
    // Generous: tsx start-up and the embedded database's first initialisation are slow on a busy machine.
    const deadline = Date.now() + 150_000;
    for (;;) {
      const ready = await fetch(`${baseUrl}/healthz`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready && telegram.of('deleteWebhook').length > 0) break;
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`spine start did not come up:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const response = await postToSlack(baseUrl, dmEvent({ text: 'remember that the child process works' }));
    expect(response.status).toBe(200);
    await slack.waitFor((calls) =>
      calls.some((call) => String(call.params.text).includes('child process works')),
    );
    telegram.push(textUpdate({ text: 'what do you know about the child process?' }));
    await telegram.waitFor((calls) =>
      calls.some(
        (call) => call.method === 'sendMessage' && String(call.params.text).includes('child process works'),
      ),
    );
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) =>
      child.on('close', (exitCode) => resolve(exitCode)),
    );
    expect(code).toBe(0);
    expect(output).not.toContain(SLACK_BOT_TOKEN);
    expect(output).not.toContain(TELEGRAM_BOT_TOKEN);
    expect(output).not.toContain(SLACK_SIGNING_SECRET);
  }, 240_000);
});
