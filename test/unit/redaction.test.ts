import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { configuredSecrets } from '../../app/configured-secrets.ts';
import { loggerOptions } from '../../app/logger.ts';
import { createWebhookConnector, maskedUrl } from '../../connectors/webhook/webhook-connector.ts';
import { approvalCard } from '../../core/cards.ts';
import { systemClock } from '../../core/clock.ts';
import type { Action, Approval } from '../../core/domain.ts';
import { SecretRedactor } from '../../core/secret-redaction.ts';
import { uniqueSchema } from '../support/databases.ts';

const BEARER = 'SECRET123-bearer-token-for-the-crm';
const API_KEY = 'ak_live_9f8e7d6c5b4a';
const SMTP_PASSWORD = 'smtp-pass-4d3c2b1a';
/** A `${NAME}` reference to the environment, as spine.config.yaml writes secrets. */
const fromEnv = (name: string) => `$${'{'}${name}}`;

function capture(secrets: string[]): { logger: pino.Logger; lines: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  return { logger: pino(loggerOptions({ level: 'debug', secrets }), sink), lines: () => text };
}

describe('SecretRedactor', () => {
  it('replaces a secret in plain, JSON-escaped and URL-encoded form, longest first', () => {
    const quoted = 'pa"ss/word+1';
    const redactor = new SecretRedactor([quoted, 'abcdefgh', 'abcdefgh-longer', 'short']);
    expect(redactor.redact('x abcdefgh-longer y abcdefgh')).toBe('x •••• y ••••');
    expect(redactor.redact(JSON.stringify({ value: quoted }))).toBe('{"value":"••••"}');
    expect(redactor.redact(`https://h/?p=${encodeURIComponent(quoted)}`)).toBe('https://h/?p=••••');
    // Too short to replace by value without garbling text.
    expect(redactor.redact('short')).toBe('short');
    expect(redactor.redactDeep({ list: ['abcdefgh'], n: 1, nested: { abcdefgh: true } })).toEqual({
      list: ['••••'],
      n: 1,
      nested: { '••••': true },
    });
  });
});

describe('log redaction by value', () => {
  it('removes configured values wherever they appear in a line, not only under secret-looking keys', () => {
    const { logger, lines } = capture([`Bearer ${BEARER}`, BEARER, SMTP_PASSWORD]);
    logger.info(`calling https://crm.example.com/leads?auth=${BEARER}`);
    logger.warn({ err: new Error(`SMTP login failed for ada:${SMTP_PASSWORD}`) }, 'send failed');
    logger.info({ request: { config: { bearer: `Bearer ${BEARER}` } } }, 'nested');
    logger.info({ url: `smtp://ada:${encodeURIComponent(SMTP_PASSWORD)}@mail` }, 'encoded');
    const text = lines();
    expect(text.split('\n').filter(Boolean)).toHaveLength(4);
    expect(text).not.toContain(BEARER);
    expect(text).not.toContain(SMTP_PASSWORD);
    expect(text).toContain('[redacted]');
    // Every line is still JSON.
    for (const line of text.split('\n').filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('lists every configured secret of the environment and spine.config.yaml', () => {
    const file = join(tmpdir(), `${uniqueSchema('redaction')}.yaml`);
    writeFileSync(
      file,
      [
        'email:',
        '  transport: smtp',
        `  smtp: { host: 127.0.0.1, user: ada, password: "${fromEnv('TEST_SMTP_PASSWORD')}" }`,
        'calendar: { url: "https://dav.example.com/", username: ada, password: "caldav-pass-77" }',
        'webhooks:',
        '  crm:',
        '    url: "https://crm.example.com/in?token=url-token-123456"',
        `    secret: "${fromEnv('TEST_CRM_SECRET')}"`,
        `    headers: { Authorization: "Bearer ${fromEnv('TEST_BEARER')}", X-Api-Key: "${fromEnv('TEST_API_KEY')}" }`,
        'mcp:',
        '  files: { command: node, env: { FILES_TOKEN: "mcp-env-token-99" } }',
        '  remote: { url: "https://mcp.example.com/", headers: { Authorization: "Bearer mcp-header-token-1" } }',
      ].join('\n'),
    );
    const config = loadConfig({
      SPINE_CONFIG: file,
      SPINE_DATA_DIR: tmpdir(),
      TEST_SMTP_PASSWORD: SMTP_PASSWORD,
      TEST_CRM_SECRET: 'whsec-crm-secret-0123456789',
      TEST_BEARER: BEARER,
      TEST_API_KEY: API_KEY,
      DATABASE_URL: 'postgres://spine:db-pass-42@db.example.com/spine',
      SLACK_BOT_TOKEN: 'xoxb-slack-bot-token',
      SLACK_SIGNING_SECRET: 'slack-signing-secret-1',
      TELEGRAM_BOT_TOKEN: '123456:telegram-bot-token',
      OPENAI_API_KEY: 'sk-openai-key-123',
      ANTHROPIC_API_KEY: 'sk-ant-key-456',
      STRIPE_SECRET_KEY: 'sk_test_stripe_key_789',
      STRIPE_WEBHOOK_SECRET: 'whsec_stripe_webhook_1',
      SPINE_METRICS_TOKEN: 'metrics-token-0123456789',
      SPINE_SIGNING_KEY: 'signing-key-0123456789',
    });
    const secrets = configuredSecrets(config);
    for (const value of [
      SMTP_PASSWORD,
      'caldav-pass-77',
      'url-token-123456',
      'whsec-crm-secret-0123456789',
      `Bearer ${BEARER}`,
      BEARER,
      API_KEY,
      'mcp-env-token-99',
      'Bearer mcp-header-token-1',
      'mcp-header-token-1',
      'db-pass-42',
      'xoxb-slack-bot-token',
      'slack-signing-secret-1',
      '123456:telegram-bot-token',
      'sk-openai-key-123',
      'sk-ant-key-456',
      'sk_test_stripe_key_789',
      'whsec_stripe_webhook_1',
      'metrics-token-0123456789',
      'signing-key-0123456789',
    ])
      expect(secrets, value).toContain(value);
  });
});

describe('webhook previews', () => {
  const connector = createWebhookConnector(
    {
      name: 'crm',
      description: 'Create a lead',
      request: {
        url: 'https://ada:url-pass-1234@crm.example.com/leads?token=url-token-123456&v=2',
        method: 'POST',
        headers: { Authorization: `Bearer ${BEARER}`, 'X-Api-Key': API_KEY },
      },
      undo: {
        url: 'https://crm.example.com/leads/delete',
        method: 'POST',
        headers: { Authorization: `Bearer ${BEARER}` },
      },
      secret: 'whsec-crm-secret-0123456789',
      risk: 'write',
    },
    systemClock,
  );
  const operation = connector.operations.send;

  it('masks every configured header value, the URL password and query values', async () => {
    if (!operation) throw new Error('no send operation');
    const params = { payload: { name: 'Dana' } };
    const preview = await operation.simulate(params);
    const undo = await operation.undo?.simulate(params, { status: 200 });
    const shown = JSON.stringify([preview, undo, operation.target?.(params)]);
    for (const value of [BEARER, API_KEY, 'url-pass-1234', 'url-token-123456'])
      expect(shown, value).not.toContain(value);
    expect(preview.body).toContain('Authorization: ••••');
    expect(preview.body).toContain('X-Api-Key: ••••');
    expect(preview.body).toContain('POST https://ada:••••@crm.example.com/leads?token=••••&v=••••');
    expect(preview.body).toContain('{"name":"Dana"}');
    // The card is rendered from the stored preview: nothing to leak there either.
    const card = approvalCard(
      { id: 1, goalId: 2, risk: 'write', preview } as unknown as Action,
      { id: 3 } as unknown as Approval,
      'needs approval',
    );
    expect(JSON.stringify(card)).not.toContain(BEARER);
  });

  it('shows a URL without credentials unchanged', () => {
    expect(maskedUrl('https://hooks.example.com/catch/1/abc')).toBe('https://hooks.example.com/catch/1/abc');
  });
});
