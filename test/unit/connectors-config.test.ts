import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConnectorsConfig } from '../../app/connectors-config.ts';
import { parseRetryAfter } from '../../connectors/connector-errors.ts';
import { signWebhook, verifyWebhook } from '../../connectors/webhook/webhook-signature.ts';

let counter = 0;
function file(text: string): string {
  counter += 1;
  const path = join(tmpdir(), `spine-config-${process.pid}-${counter}.yaml`);
  writeFileSync(path, text);
  return path;
}

const EXAMPLE = `# A full example
email:
  from: Ada <ada@example.com>
  transport: smtp
  smtp:
    host: smtp.example.com
    port: 587
    user: ada@example.com
    password: \${SMTP_PASSWORD}
calendar:
  url: https://dav.example.com/
  username: ada
  password: \${CALDAV_PASSWORD}
  calendar: Work
webhooks:
  crm:
    url: https://hooks.example.com/crm
    secret: \${CRM_SECRET}
    undo:
      url: https://hooks.example.com/crm/undo
mcp:
  files:
    command: npx
    args: [some-mcp-server, /srv/files]
    risk:
      delete_file: destructive
  billing:
    url: https://mcp.example.com/mcp
    headers:
      Authorization: Bearer \${BILLING_TOKEN}
    risk:
      refund: money
guardrails:
  trustAfter: 3
  undoWindowMinutes: 30
  limits:
    email: { dailyCount: 50 }
    billing: { dailyCount: 5, dailyAmount: 500 }
`;

const ENV = {
  SMTP_PASSWORD: 'smtp-pass',
  CALDAV_PASSWORD: 'dav-pass',
  CRM_SECRET: 'a-long-enough-webhook-secret',
  BILLING_TOKEN: 'tok',
};

describe('spine.config.yaml', () => {
  it('reads a full example, with secrets from the environment', () => {
    const config = loadConnectorsConfig(file(EXAMPLE), ENV, { required: true });
    expect(config.email.smtp).toMatchObject({ host: 'smtp.example.com', password: 'smtp-pass' });
    expect(config.calendar?.password).toBe('dav-pass');
    expect(config.webhooks[0]).toMatchObject({
      name: 'crm',
      secret: 'a-long-enough-webhook-secret',
      method: 'POST',
    });
    expect(config.mcp).toEqual([
      expect.objectContaining({ name: 'files', transport: 'stdio', risk: { delete_file: 'destructive' } }),
      expect.objectContaining({
        name: 'billing',
        transport: 'http',
        headers: { Authorization: 'Bearer tok' },
      }),
    ]);
    expect(config.guardrails).toEqual({
      trustAfter: 3,
      undoWindowMs: 30 * 60_000,
      limits: { email: { dailyCount: 50 }, billing: { dailyCount: 5, dailyAmount: 500 } },
    });
  });

  it('lists every problem with its field and line', () => {
    const text = `webhooks:
  crm:
    url: not-a-url
    secret: \${CRM_SECRET}
    risk: dangerous
guardrails:
  trustAfter: 0
`;
    let message = '';
    try {
      loadConnectorsConfig(file(text), {}, { required: true });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('webhooks.crm.secret (line 4): the environment variable CRM_SECRET is not set');
    expect(message).toContain('webhooks.crm.url (line 3): must be an http(s) URL');
    expect(message).toContain('webhooks.crm.risk (line 5)');
    expect(message).toContain('guardrails.trustAfter (line 7)');
  });

  it('rejects unknown keys, reserved names and broken YAML with a line', () => {
    expect(() => loadConnectorsConfig(file('emial:\n  from: x\n'), {}, { required: true })).toThrow(/line 1/);
    expect(() =>
      loadConnectorsConfig(
        file('webhooks:\n  email:\n    url: http://127.0.0.1/x\n    secret: 0123456789abcdef\n'),
        {},
        {
          required: true,
        },
      ),
    ).toThrow(/webhooks\.email \(line 2\): "email" is a built-in connector's name/);
    expect(() => loadConnectorsConfig(file('email: [unclosed\n'), {}, { required: true })).toThrow(/line \d/);
  });

  it('keeps the defaults without a file, and insists when SPINE_CONFIG names a missing one', () => {
    expect(
      loadConnectorsConfig('/nonexistent/spine.config.yaml', {}, { required: false }).email.transport,
    ).toBe('file');
    expect(() => loadConnectorsConfig('/nonexistent/spine.config.yaml', {}, { required: true })).toThrow(
      /does not exist/,
    );
  });
});

describe('webhook signatures and Retry-After', () => {
  it('verifies a signature and refuses a changed byte or a stale timestamp', () => {
    const body = '{"a":1}';
    const signature = signWebhook('secret', 1000, body);
    expect(verifyWebhook({ secret: 'secret', body, signature, timestamp: '1000', nowSeconds: 1100 })).toBe(
      true,
    );
    expect(
      verifyWebhook({ secret: 'secret', body: '{"a":2}', signature, timestamp: '1000', nowSeconds: 1100 }),
    ).toBe(false);
    expect(verifyWebhook({ secret: 'secret', body, signature, timestamp: '1000', nowSeconds: 1301 })).toBe(
      false,
    );
    expect(verifyWebhook({ secret: 'secret', body, signature, timestamp: '1000', nowSeconds: 699 })).toBe(
      false,
    );
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('Wed, 25 Nov 2026 10:00:10 GMT', new Date('2026-11-25T10:00:00Z'))).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
