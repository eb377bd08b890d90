import { headerSecrets, urlSecrets } from '../core/secret-redaction.ts';
import type { Config } from './config.ts';

/** The password of a URL like postgres://user:password@host, if it has one. */
function urlPassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const password = new URL(url).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every secret value the configuration holds, for redaction by value (logs, previews): tokens,
 * passwords, API keys, signing secrets, a webhook URL's password and query values, and every
 * configured header value and MCP `env` value — all of them, since Spine cannot tell
 * `Authorization: Bearer …` from `X-Tenant: acme` safely.
 */
export function configuredSecrets(config: Config): string[] {
  const { connectors, chat, models, inbound, memory } = config;
  const values: Array<string | undefined> = [
    urlPassword(config.database.url),
    urlPassword(config.queue?.redisUrl),
    config.metrics.token,
    connectors.email.smtp?.password,
    connectors.calendar?.password,
    chat.slack?.botToken,
    chat.slack?.signingSecret,
    chat.slack?.appToken,
    chat.telegram?.botToken,
    chat.telegram?.webhook?.secret,
    models.openai.apiKey,
    models.anthropic.apiKey,
    inbound.stripe?.secretKey,
    inbound.stripeWebhookSecret,
    inbound.imap?.password,
    memory.embeddings.apiKey,
    memory.signingKey,
  ];
  for (const webhook of connectors.webhooks) {
    values.push(webhook.secret, ...headerSecrets(webhook.headers), ...urlSecrets(webhook.url));
    if (webhook.undo) values.push(...headerSecrets(webhook.undo.headers), ...urlSecrets(webhook.undo.url));
  }
  for (const server of connectors.mcp)
    values.push(
      ...(server.transport === 'stdio'
        ? Object.values(server.env)
        : [...headerSecrets(server.headers), ...urlSecrets(server.url)]),
    );
  return [...new Set(values.filter((value): value is string => Boolean(value)))];
}
