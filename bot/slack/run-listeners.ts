import type { App, ReceiverEvent } from '@slack/bolt';
import type { Logger } from 'pino';
import { type SlackDeliveryGuard, slackTeamOf } from './delivery-guard.ts';

/** Slack redelivers after 3 s; both transports answer well before, whatever the listeners are doing. */
export const DEFAULT_ACK_BUDGET_MS = 2_500;

/** One delivery from Slack, whichever transport brought it (HTTP request or Socket Mode envelope). */
export interface SlackDelivery {
  body: Record<string, unknown>;
  retryNum?: number;
  retryReason?: string;
}

/**
 * How the listeners ended: `done` (everything is recorded; `reply` is what a listener passed to
 * `ack()`, e.g. a slash command's answer or a modal's errors), `failed` (a listener threw, e.g.
 * Postgres is down: nothing may be acknowledged as recorded), `late` (still running at the ack
 * budget; the work goes on, and a failure after that point is still logged), `refused` (the
 * request is for another workspace: nothing ran) or `dead_lettered` (the event's last delivery
 * failed and it is set aside). The last two are acknowledged, so Slack stops sending them.
 */
export type ListenerOutcome =
  | { kind: 'done'; reply: unknown }
  | { kind: 'failed' }
  | { kind: 'late' }
  | { kind: 'refused' }
  | { kind: 'dead_lettered' };

/**
 * Run Bolt's listeners for one delivery with a captured `ack`, and wait for them to finish — or
 * for the ack budget. Bolt acknowledges events before its listeners run; capturing the ack and
 * answering Slack only from the outcome is what makes an acknowledgement mean "recorded".
 */
export async function runListeners(
  app: App,
  delivery: SlackDelivery,
  options: { logger: Logger; ackBudgetMs?: number | undefined; guard?: SlackDeliveryGuard | undefined },
): Promise<ListenerOutcome> {
  const { logger, guard } = options;
  const type = delivery.body.type;
  const ourTeam = guard?.teamId();
  if (ourTeam !== undefined) {
    const team = slackTeamOf(delivery.body);
    if (team !== ourTeam) {
      // Signed with our secret but for another workspace (the app installed elsewhere, a leaked
      // signing secret): no listener runs, whatever the user or the action.
      logger.warn({ team: team ?? null, type }, 'refused a Slack request from another team');
      return { kind: 'refused' };
    }
  }
  // An event's last delivery: if it fails, it is set aside rather than lost or failed for ever.
  const deliveries = (delivery.retryNum ?? 0) + 1;
  const lastDelivery = guard !== undefined && type === 'event_callback' && deliveries >= guard.maxDeliveries;
  let failure = '';
  let acked = false;
  let reply: unknown;
  const event: ReceiverEvent = {
    body: delivery.body,
    ack: async (response?: unknown) => {
      acked = true;
      reply = response;
    },
    ...(delivery.retryNum !== undefined ? { retryNum: delivery.retryNum } : {}),
    ...(delivery.retryReason !== undefined ? { retryReason: delivery.retryReason } : {}),
  };
  const processing = app.processEvent(event).then(
    () => 'done' as const,
    (error: unknown) => {
      failure = describe(error);
      logger.error({ err: failure, type }, 'a Slack request could not be handled');
      return 'failed' as const;
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), options.ackBudgetMs ?? DEFAULT_ACK_BUDGET_MS);
  });
  const outcome = await Promise.race([processing, late]);
  clearTimeout(timer);
  if (outcome === 'failed') {
    if (lastDelivery && (await guard.deadLetter(delivery.body, failure, deliveries))) {
      return { kind: 'dead_lettered' };
    }
    return { kind: 'failed' };
  }
  if (outcome === 'late') {
    logger.warn({ type }, 'a Slack request took longer than the ack budget');
    // Slack will not send this one again: if it fails after all, it is set aside then.
    if (lastDelivery) {
      void processing.then(async (finished) => {
        if (finished === 'failed') await guard.deadLetter(delivery.body, failure, deliveries);
      });
    }
    return { kind: 'late' };
  }
  if (!acked && type !== 'event_callback') {
    logger.debug({ type }, 'no listener acknowledged a Slack request');
  }
  return { kind: 'done', reply };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
