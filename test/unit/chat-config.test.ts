import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/config.ts';
import { hasCode } from '../../core/errors.ts';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (!hasCode(error, 'config.invalid')) throw error;
    return error.details.problems as string[];
  }
}

describe('chat configuration', () => {
  it('parses SPINE_OWNER into identities', () => {
    const config = loadConfig({ SPINE_OWNER: 'slack:U123, telegram:456' });
    expect(config.owner.identities).toEqual([
      { channel: 'slack', externalId: 'U123' },
      { channel: 'telegram', externalId: '456' },
    ]);
  });

  it('enables nothing without tokens', () => {
    const config = loadConfig({});
    expect(config.chat).toEqual({ slack: undefined, telegram: undefined });
    expect(config.owner.identities).toEqual([]);
  });

  it('enables Slack in HTTP mode with a token and a signing secret, with a trailing slash on the API URL', () => {
    const config = loadConfig({
      SLACK_BOT_TOKEN: 'xoxb-1',
      SLACK_SIGNING_SECRET: 'secret-123456',
      SLACK_API_URL: 'http://127.0.0.1:9/api',
    });
    expect(config.chat.slack).toEqual({
      botToken: 'xoxb-1',
      signingSecret: 'secret-123456',
      appToken: undefined,
      apiUrl: 'http://127.0.0.1:9/api/',
    });
  });

  it('lists every chat problem at once', () => {
    const found = problems({
      SPINE_OWNER: 'discord:1',
      SLACK_BOT_TOKEN: 'xoxb-1',
      TELEGRAM_BOT_TOKEN: 'not-a-token',
    });
    expect(found.join('\n')).toContain('SPINE_OWNER');
    expect(found.join('\n')).toContain('TELEGRAM_BOT_TOKEN');
    expect(problems({ SLACK_BOT_TOKEN: 'xoxb-1' }).join('\n')).toContain('SLACK_SIGNING_SECRET');
    expect(
      problems({
        TELEGRAM_BOT_TOKEN: '1:abc',
        TELEGRAM_WEBHOOK_URL: 'https://x.example/telegram/webhook',
      }).join('\n'),
    ).toContain('TELEGRAM_WEBHOOK_SECRET');
  });

  it('uses Socket Mode without a signing secret when an app token is set', () => {
    const config = loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' });
    expect(config.chat.slack?.appToken).toBe('xapp-1');
  });
});
