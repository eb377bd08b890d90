import { describe, expect, it } from 'vitest';
import { signSlackRequest, verifySlackRequest } from '../../bot/slack/slack-signature.ts';

const secret = 'signing-secret';
const body = Buffer.from('{"type":"event_callback"}');
const nowMs = 1_700_000_000_000;
const ts = String(nowMs / 1000);

function check(overrides: Partial<Parameters<typeof verifySlackRequest>[0]>) {
  return verifySlackRequest({
    signingSecret: secret,
    timestamp: ts,
    signature: signSlackRequest(secret, ts, body),
    rawBody: body,
    nowMs,
    ...overrides,
  });
}

describe('Slack request verification', () => {
  it('accepts a correctly signed request within five minutes either way', () => {
    expect(check({})).toEqual({ ok: true });
    for (const skew of [-300, 300]) {
      const shifted = String(nowMs / 1000 + skew);
      expect(check({ timestamp: shifted, signature: signSlackRequest(secret, shifted, body) })).toEqual({
        ok: true,
      });
    }
  });

  it('refuses 301 s in the past and in the future', () => {
    for (const skew of [-301, 301]) {
      const shifted = String(nowMs / 1000 + skew);
      expect(check({ timestamp: shifted, signature: signSlackRequest(secret, shifted, body) })).toEqual({
        ok: false,
        reason: 'stale_timestamp',
      });
    }
  });

  it('refuses missing headers, another secret and a changed body', () => {
    expect(check({ signature: undefined })).toEqual({ ok: false, reason: 'missing_headers' });
    expect(check({ timestamp: 'abc' })).toEqual({ ok: false, reason: 'missing_headers' });
    expect(check({ signature: signSlackRequest('other', ts, body) })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(check({ rawBody: Buffer.from('{"type":"event_callbacK"}') })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(check({ signature: 'v0=short' })).toEqual({ ok: false, reason: 'bad_signature' });
  });
});
