import { expect } from 'vitest';
import { type ChatApp, SLACK_BOT_TOKEN } from './chat-app.ts';
import { dmEvent } from './slack-requests.ts';

/** The action ids of the buttons in a message's blocks. */
export function actionIds(blocks: unknown): string[] {
  if (!Array.isArray(blocks)) return [];
  return blocks
    .filter((block: { type?: string }) => block.type === 'actions')
    .flatMap((block: { elements?: Array<{ action_id: string }> }) =>
      (block.elements ?? []).map((element) => element.action_id),
    );
}

/** The e-mail request that needs approval. */
export const EMAIL_REQUEST = 'email dana@example.com "Tuesday" Tuesday works for me.';

/**
 * Ask for an e-mail in a DM (delivered by `send`, over HTTP or Socket Mode) and return the
 * approval card's id, its button action ids and its message ts.
 */
export async function emailCard(
  target: ChatApp,
  send: (dm: string) => Promise<void>,
): Promise<{ approvalId: number; buttons: string[]; ts: string }> {
  await send(dmEvent({ text: EMAIL_REQUEST }));
  await target.spine.runner.idle();
  await target.slack.waitFor((calls) => calls.some((call) => actionIds(call.params.blocks).length > 0));
  const card = target.slack.calls.findLast((call) => actionIds(call.params.blocks).length > 0);
  const approvals = await target.spine.db.pool.query(
    `SELECT id, cards FROM approvals ORDER BY id DESC LIMIT 1`,
  );
  const approvalId = Number(approvals.rows[0]?.id);
  const cardRef = ((approvals.rows[0]?.cards ?? []) as Array<{ messageId: string }>)[0];
  return { approvalId, buttons: actionIds(card?.params.blocks), ts: cardRef?.messageId ?? '' };
}

/** The bot's reply containing `text` went to `channel`, in the thread of `threadTs`, with the bot token. */
export function expectThreadReply(
  target: ChatApp,
  expected: { text: string; channel: string; threadTs: string },
): void {
  const reply = target.slack
    .of('chat.postMessage')
    .find((call) => String(call.params.text).includes(expected.text));
  expect(reply?.params.thread_ts).toBe(expected.threadTs);
  expect(reply?.params.channel).toBe(expected.channel);
  expect(reply?.authorization).toBe(`Bearer ${SLACK_BOT_TOKEN}`);
}

/** A stranger (U999) who wrote in `channel` was answered politely there; no goal, an event. */
export async function expectStrangerRefused(
  target: ChatApp,
  expected: { goalsBefore: number; channel: string },
): Promise<void> {
  expect(await target.count('goals')).toBe(expected.goalsBefore);
  const reply = target.slack.of('chat.postMessage').at(-1);
  expect(reply?.params.channel).toBe(expected.channel);
  expect(String(reply?.params.text)).toContain('I only work for my operator');
  // The day's one refusal event names the stranger's first attempt, whatever it was.
  expect(await target.count('events', `actor = 'slack:U999'`)).toBeGreaterThan(0);
}
