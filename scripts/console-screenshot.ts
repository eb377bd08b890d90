/**
 * Take docs/console.png: a throwaway Spine (embedded database in a temporary folder) with a few
 * goals, two e-mails waiting for approval, logged in through a one-time link in Debian's Chromium.
 *
 *   npx tsx scripts/console-screenshot.ts [output.png]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../app/config.ts';
import { startHttpServer } from '../app/http-server.ts';
import { createSpine } from '../app/spine.ts';
import type { MessageRef, ThreadRef } from '../core/domain.ts';
import { launchChromium } from '../test/support/chromium.ts';

const output = process.argv[2] ?? 'docs/console.png';
const dataDir = mkdtempSync(join(tmpdir(), 'spine-screenshot-'));
const config = loadConfig({
  SPINE_DATA_DIR: dataDir,
  SPINE_OPERATOR_NAME: 'Ada',
  SPINE_TIMEZONE: 'Europe/Berlin',
  PORT: '0',
  LOG_LEVEL: 'silent',
});
const spine = await createSpine(config, { logger: pino({ level: 'silent' }) });
let sequence = 0;
spine.registerAdapter('console', {
  post: async (thread: ThreadRef): Promise<MessageRef> => {
    sequence += 1;
    return { channel: thread.channel, conversation: thread.conversation, messageId: String(sequence) };
  },
  update: async () => {},
});
const thread: ThreadRef = { channel: 'console', conversation: 'local' };
const say = async (text: string) => {
  sequence += 1;
  await spine.intake.handleMessage({
    channel: 'console',
    deliveryId: `shot-${sequence}`,
    userId: 'local',
    text,
    thread,
  });
  await spine.settle();
};
await say('remember that Dana prefers calls before 10');
await say('remember that the studio rent is 900 a month');
await say('email dana@example.com "Invoice 2026-031" Hi Dana, the March invoice is attached. Thanks!');
await say('email bob@example.com "Tuesday" Tuesday at 10 works for me.');

const server = await startHttpServer({
  port: 0,
  db: spine.db,
  logger: pino({ level: 'silent' }),
  mounts: [spine.webConsole],
});
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const link = new URL(await spine.webConsole.auth.issueLink('console', 'local'));
const browser = await launchChromium();
try {
  const page = await (
    await browser.newContext({ viewport: { width: 1000, height: 900 }, colorScheme: 'light' })
  ).newPage();
  await page.goto(`${baseUrl}${link.pathname}${link.search}`);
  await page.waitForURL(`${baseUrl}/console`);
  await page.goto(`${baseUrl}/console/approvals`);
  await page.screenshot({ path: output, fullPage: true });
  process.stdout.write(`Wrote ${output}\n`);
} finally {
  await browser.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await spine.close();
  rmSync(dataDir, { recursive: true, force: true });
}
