import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { type ChatAdapters, type ChatAdapterTuning, createChatAdapters } from '../../app/chat-adapters.ts';
import { loadConfig } from '../../app/config.ts';
import { startHttpServer } from '../../app/http-server.ts';
import { REDACTED_PATHS } from '../../app/logger.ts';
import { createSpine, type Spine } from '../../app/spine.ts';
import { type Database, openDatabase } from '../../db/database.ts';
import { FakeSlackApi } from '../fakes/fake-slack-api.ts';
import { FakeTelegramApi } from '../fakes/fake-telegram-api.ts';
import { SmtpSink } from '../fakes/smtp-sink.ts';
import { TEST_DATABASE_URL, uniqueSchema } from './databases.ts';
import { smtpEnv } from './sink-config.ts';

export const SLACK_BOT_TOKEN = 'xoxb-1111-2222-secretbottoken';
export const SLACK_SIGNING_SECRET = 'signing-secret-8f2c9d1e7b';
export const SLACK_APP_TOKEN = 'xapp-1-A1-3333-secretapptoken';
export const TELEGRAM_BOT_TOKEN = '123456:AAE-telegram-secret-token';
export const TELEGRAM_WEBHOOK_SECRET = 'webhook-secret-token-5b7e1c';
/** The operator: U123 in Slack, 456 in Telegram. */
export const OWNER = 'slack:U123,telegram:456';

/** Spine's whole chat side in this process, on real HTTP, against fake Slack and Telegram APIs. */
export interface ChatApp {
  baseUrl: string;
  spine: Spine;
  chat: ChatAdapters;
  slack: FakeSlackApi;
  telegram: FakeTelegramApi;
  outboxDir: string;
  /** The SMTP server this app sends its e-mail to. */
  smtp: SmtpSink;
  /** Every log line written so far (pino JSON). */
  logs(): string;
  /** Rows in a table of this app's schema. */
  count(table: string, where?: string): Promise<number>;
  /**
   * E-mails actually sent: every message the SMTP server accepted (raw), a repeat of one action
   * included. (The file outbox would have overwritten a repeat, so a double send could not show.)
   */
  sentEmails(): string[];
  close(): Promise<void>;
}

export interface ChatAppOptions {
  /** `socket`: SLACK_APP_TOKEN and no signing secret, connected to the fake's Socket Mode endpoint. */
  slackMode?: 'http' | 'socket';
  telegramMode?: 'webhook' | 'polling';
  tuning?: ChatAdapterTuning;
  env?: Record<string, string>;
}

/** Build config → Spine → adapters → HTTP server exactly as `spine start` does, on port 0. */
export async function startChatApp(db: Database, options: ChatAppOptions = {}): Promise<ChatApp> {
  const slack = new FakeSlackApi();
  const telegram = new FakeTelegramApi();
  const slackUrl = await slack.start();
  const telegramRoot = await telegram.start();
  const dataDir = mkdtempSync(join(tmpdir(), 'spine-chat-'));
  const smtp = new SmtpSink();
  await smtp.start();
  const config = loadConfig(
    smtpEnv(smtp, {
      SPINE_DATA_DIR: dataDir,
      SPINE_OPERATOR_NAME: 'Ada',
      SPINE_TIMEZONE: 'UTC',
      PORT: '0',
      // The job-level "Working on goal …" message would interleave with replies on a loaded machine;
      // these tests check the adapters' own progress (typing, "working…"), not the job's.
      SPINE_PROGRESS_AFTER_MS: '600000',
      SPINE_OWNER: OWNER,
      SLACK_BOT_TOKEN,
      ...(options.slackMode === 'socket' ? { SLACK_APP_TOKEN } : { SLACK_SIGNING_SECRET }),
      SLACK_API_URL: slackUrl,
      TELEGRAM_BOT_TOKEN,
      TELEGRAM_API_ROOT: telegramRoot,
      ...((options.telegramMode ?? 'webhook') === 'webhook'
        ? { TELEGRAM_WEBHOOK_URL: 'https://spine.example.com/telegram/webhook', TELEGRAM_WEBHOOK_SECRET }
        : {}),
      ...options.env,
    }),
  );
  let captured = '';
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      captured += chunk.toString();
      callback();
    },
  });
  const logger = pino({ level: 'debug', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink);
  const spine = await createSpine(config, { logger, database: { ...db, close: async () => {} } });
  const chat = await createChatAdapters(spine, {
    progressDelayMs: 60_000,
    pollTimeoutSeconds: 1,
    ...options.tuning,
  });
  const server: Server = await startHttpServer({
    port: 0,
    db: spine.db,
    logger,
    routes: chat.routes,
    mounts: [spine.webConsole],
  });
  await chat.start();
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    spine,
    chat,
    slack,
    telegram,
    outboxDir: config.email.outboxDir,
    smtp,
    logs: () => captured,
    async count(table: string, where?: string) {
      const result = await spine.db.pool.query(
        `SELECT count(*)::int AS n FROM ${table}${where ? ` WHERE ${where}` : ''}`,
      );
      return Number(result.rows[0]?.n ?? 0);
    },
    sentEmails() {
      return smtp.accepted.map((message) => message.raw);
    },
    async close() {
      await chat.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await spine.runner.idle();
      await spine.close();
      await slack.stop();
      await telegram.stop();
      await smtp.close();
    },
  };
}

/**
 * A chat app on server Postgres whose database goes away under it (the pool is ended once it has
 * started): nothing may be acknowledged as recorded. `dropSchema()` cleans up afterwards.
 */
export async function startChatAppWithLostDatabase(
  options: ChatAppOptions = {},
): Promise<{ app: ChatApp; dropSchema(): Promise<void> }> {
  const schema = uniqueSchema('down');
  const db = await openDatabase({ url: TEST_DATABASE_URL, dataDir: '', schema, maxConnections: 2 });
  const app = await startChatApp(db, options);
  await db.pool.end();
  return {
    app,
    async dropSchema() {
      const cleanup = await openDatabase({
        url: TEST_DATABASE_URL,
        dataDir: '',
        schema: 'public',
        maxConnections: 1,
      });
      await cleanup.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await cleanup.close();
    },
  };
}
