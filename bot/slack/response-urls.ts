import type { SlackMessage } from './render-block-kit.ts';

/** Slack lets a slash command's response_url be used for 30 minutes (and up to five times). */
const RESPONSE_URL_TTL_MS = 30 * 60_000;
const RESPONSE_URL_USES = 5;

/** Errors of chat.postMessage after which the command's response_url can still reach the user. */
const UNREACHABLE = new Set(['not_in_channel', 'channel_not_found', 'is_archived']);

/** The Slack Web API error code (`not_in_channel` …) carried by a WebClient platform error. */
export function slackErrorCode(error: unknown): string | undefined {
  const data = (error as { data?: { error?: unknown } } | null)?.data;
  return typeof data?.error === 'string' ? data.error : undefined;
}

/**
 * The response_urls of recent `/spine` commands, per conversation. A slash command can be typed in
 * a channel the bot has not joined; chat.postMessage then fails with `not_in_channel`, and the reply
 * goes to the command's response_url instead (visible in the channel), while it is still valid.
 */
export class ResponseUrls {
  readonly #byConversation = new Map<string, { url: string; expiresAt: number; uses: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  remember(conversation: string, url: string): void {
    if (!/^https?:\/\//.test(url)) return;
    this.#byConversation.set(conversation, { url, expiresAt: this.now() + RESPONSE_URL_TTL_MS, uses: 0 });
  }

  /** True when the error means the bot cannot post here but a response_url may. */
  canFallBack(conversation: string, error: unknown): boolean {
    const code = slackErrorCode(error);
    return code !== undefined && UNREACHABLE.has(code) && this.#live(conversation) !== undefined;
  }

  /** Post through the conversation's response_url; false when none is valid any more. */
  async post(conversation: string, message: SlackMessage): Promise<boolean> {
    const entry = this.#live(conversation);
    if (!entry) return false;
    entry.uses += 1;
    const response = await fetch(entry.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response_type: 'in_channel', text: message.text, blocks: message.blocks }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`Slack response_url answered HTTP ${response.status}`);
    return true;
  }

  #live(conversation: string) {
    const entry = this.#byConversation.get(conversation);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now() || entry.uses >= RESPONSE_URL_USES) {
      this.#byConversation.delete(conversation);
      return undefined;
    }
    return entry;
  }
}
