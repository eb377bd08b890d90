import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';

const base = { SPINE_DATA_DIR: '/tmp/spine-inbound-config', SPINE_TIMEZONE: 'UTC' };

describe('inbound configuration (Stripe, IMAP)', () => {
  it('is off without variables', () => {
    expect(loadConfig(base).inbound).toEqual({
      stripe: undefined,
      stripeWebhookSecret: undefined,
      imap: undefined,
    });
  });

  it('reads Stripe settings and checks their shape', () => {
    const config = loadConfig({
      ...base,
      STRIPE_SECRET_KEY: 'sk_test_abc123',
      STRIPE_API_URL: 'http://127.0.0.1:12111',
      STRIPE_WEBHOOK_SECRET: 'whsec_abc',
    });
    expect(config.inbound.stripe).toEqual({ secretKey: 'sk_test_abc123', apiUrl: 'http://127.0.0.1:12111' });
    expect(config.inbound.stripeWebhookSecret).toBe('whsec_abc');
    expect(() =>
      loadConfig({ ...base, STRIPE_SECRET_KEY: 'pk_test_public', STRIPE_WEBHOOK_SECRET: 'abc' }),
    ).toThrow(
      /STRIPE_SECRET_KEY: must be a Stripe secret[\s\S]*STRIPE_WEBHOOK_SECRET: must start with whsec_/,
    );
  });

  it('reads the mailbox from IMAP_URL or from separate variables', () => {
    expect(loadConfig({ ...base, IMAP_URL: 'imap://ada:p%40ss@127.0.0.1:1143/Leads' }).inbound.imap).toEqual({
      host: '127.0.0.1',
      port: 1143,
      secure: false,
      user: 'ada',
      password: 'p@ss',
      mailbox: 'Leads',
    });
    expect(loadConfig({ ...base, IMAP_URL: 'imaps://ada:pw@mail.example.com' }).inbound.imap).toMatchObject({
      port: 993,
      secure: true,
      mailbox: 'INBOX',
    });
    expect(
      loadConfig({ ...base, IMAP_HOST: 'mail.example.com', IMAP_USER: 'ada', IMAP_PASSWORD: 'pw' }).inbound
        .imap,
    ).toEqual({
      host: 'mail.example.com',
      port: 993,
      secure: true,
      user: 'ada',
      password: 'pw',
      mailbox: 'INBOX',
    });
  });

  it('lists a half-configured mailbox as a problem', () => {
    expect(() => loadConfig({ ...base, IMAP_HOST: 'mail.example.com' })).toThrow(
      /IMAP_USER and IMAP_PASSWORD: required with IMAP_HOST/,
    );
    expect(() => loadConfig({ ...base, IMAP_URL: 'imap://no-credentials.example.com' })).toThrow(
      /IMAP_URL: must be/,
    );
  });
});
