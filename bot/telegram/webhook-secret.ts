import { timingSafeEqual } from 'node:crypto';

/** Compare Telegram's `X-Telegram-Bot-Api-Secret-Token` with ours in constant time. */
export function verifyWebhookSecret(expected: string, given: string | undefined): 'ok' | 'missing' | 'wrong' {
  if (!given) return 'missing';
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  if (expected === '' || a.length !== b.length || !timingSafeEqual(a, b)) return 'wrong';
  return 'ok';
}
