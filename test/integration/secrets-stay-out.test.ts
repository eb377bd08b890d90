import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { configuredSecrets } from '../../app/configured-secrets.ts';
import { createLogger } from '../../app/logger.ts';
import { DATABASE_KINDS, TestDatabases, uniqueSchema } from '../support/databases.ts';
import { writeSpineConfig } from '../support/sink-config.ts';
import { createTestSpine, type TestSpine } from '../support/test-spine.ts';

/** Every value below is configured; none may appear in logs, chat or any database row. */
const SECRETS = {
  TEST_BEARER: 'SECRET123-crm-bearer-7f6e5d4c3b2a',
  TEST_API_KEY: 'ak_live_SECRET456_91a2b3c4',
  TEST_URL_TOKEN: 'urltokenSECRET789abc',
  TEST_CRM_SECRET: 'whsec-crm-SECRET-0a1b2c3d4e5f',
  TEST_SMTP_PASSWORD: 'smtp-SECRET-pass-5e6f7a8b',
  SLACK_BOT_TOKEN: 'xoxb-1111-2222-SECRETslacktoken',
  SLACK_SIGNING_SECRET: 'slack-signing-SECRET-3c4d5e',
  OPENAI_API_KEY: 'sk-openai-SECRET-6f7a8b9c',
  SPINE_SIGNING_KEY: 'memory-signing-SECRET-0d1e2f3a',
};
const env = (name: keyof typeof SECRETS) => `$${'{'}${name}}`;

/**
 * A receiver that echoes the credentials it was sent, the worst case for Spine: its answer becomes
 * the action's result, an event, a memory and a chat message. `refuse` answers 400 with them.
 */
class EchoingReceiver {
  mode: 'echo' | 'refuse' = 'echo';
  readonly seen: Array<{ authorization: string; apiKey: string; url: string }> = [];
  #server: Server | undefined;

  async start(): Promise<string> {
    this.#server = createServer((request, response) => void this.#handle(request, response));
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    for await (const _chunk of request) {
      // Drain the body.
    }
    const seen = {
      authorization: String(request.headers.authorization ?? ''),
      apiKey: String(request.headers['x-api-key'] ?? ''),
      url: request.url ?? '',
    };
    this.seen.push(seen);
    if (this.mode === 'refuse') {
      response
        .writeHead(400)
        .end(`refused: you sent ${seen.authorization} and ${seen.apiKey} to ${seen.url}`);
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, seen }));
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}

/** Every row of every table of the schema as text (bytea, such as checkpoint blobs, as latin1). */
async function everyRow(test: TestSpine): Promise<string> {
  const pool = test.spine.db.pool;
  const tables = await pool.query(
    `SELECT table_name FROM information_schema.tables
     WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
    [test.spine.db.schema],
  );
  const parts: string[] = [];
  for (const { table_name: table } of tables.rows) {
    const rows = await pool.query(`SELECT * FROM ${test.spine.db.schema}."${String(table)}"`);
    parts.push(
      `${String(table)}: ${JSON.stringify(rows.rows, (_key, value: unknown) => {
        if (value instanceof Uint8Array) return Buffer.from(value).toString('latin1');
        if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer')
          return Buffer.from((value as { data: number[] }).data).toString('latin1');
        return value;
      })}`,
    );
  }
  return parts.join('\n');
}

describe.each(DATABASE_KINDS)(
  'secrets stay out of logs, chat and the database (%s)',
  { timeout: 180_000 },
  (kind) => {
    const databases = new TestDatabases(kind);
    const receiver = new EchoingReceiver();
    const running: TestSpine[] = [];

    beforeAll(async () => {
      await databases.open();
    }, 180_000);

    afterAll(async () => {
      for (const test of running) await test.spine.close();
      await receiver.stop();
      await databases.closeAll();
    });

    it('previews, approves, executes and fails a webhook with an Authorization header: no secret anywhere', async () => {
      const base = await receiver.start();
      const configFile = writeSpineConfig(
        [
          'email:',
          '  transport: smtp',
          '  smtp:',
          '    host: 127.0.0.1',
          '    port: 9',
          '    user: ada',
          `    password: ${env('TEST_SMTP_PASSWORD')}`,
        ].join('\n'),
        [
          'webhooks:',
          '  crm:',
          `    url: ${base}/leads?token=${env('TEST_URL_TOKEN')}`,
          `    secret: ${env('TEST_CRM_SECRET')}`,
          '    description: Create a lead',
          '    headers:',
          `      Authorization: Bearer ${env('TEST_BEARER')}`,
          `      X-Api-Key: ${env('TEST_API_KEY')}`,
        ].join('\n'),
      );
      const environment = { ...SECRETS, SPINE_CONFIG: configFile };
      const logFile = join(tmpdir(), `${uniqueSchema('secrets-log')}.log`);
      // Built as `spine start` builds it: from the loaded configuration.
      const config = loadConfig({ ...environment, SPINE_DATA_DIR: tmpdir() });
      const logger = createLogger({ level: 'debug', file: logFile, secrets: configuredSecrets(config) });
      const test = await createTestSpine(await databases.open(), { env: environment, logger });
      running.push(test);

      await test.say('call crm {"name":"Dana"}');
      const card = test.chat.posts.at(-1)?.message;
      expect(card?.text).toMatch(/^Approval #\d+ needed/);
      expect(JSON.stringify(card)).toContain('Authorization: ••••');
      await test.say('approve');
      receiver.mode = 'refuse';
      await test.say('call crm {"name":"Eve"}');
      await test.say('approve');

      // The requests really carried the credentials (the masking is Spine-side only)…
      expect(receiver.seen).toHaveLength(2);
      expect(receiver.seen[0]).toEqual({
        authorization: `Bearer ${SECRETS.TEST_BEARER}`,
        apiKey: SECRETS.TEST_API_KEY,
        url: `/leads?token=${SECRETS.TEST_URL_TOKEN}`,
      });
      // …and both outcomes were recorded and told.
      const actions = await test.spine.db.pool.query(
        'SELECT status, preview, result FROM actions ORDER BY id',
      );
      expect(actions.rows.map((row) => row.status)).toEqual(['succeeded', 'failed']);
      const chat = JSON.stringify([test.chat.posts, test.chat.updates]);
      expect(chat).toContain('crm refused the request (HTTP 400)');

      const logs = readFileSync(logFile, 'utf8');
      expect(logs.length).toBeGreaterThan(0);
      const rows = await everyRow(test);
      expect(rows).toContain('Authorization: ••••');
      for (const [name, value] of Object.entries(SECRETS)) {
        expect(logs, `${name} in the logs`).not.toContain(value);
        expect(chat, `${name} in chat`).not.toContain(value);
        expect(rows, `${name} in the database`).not.toContain(value);
      }
    });
  },
);
