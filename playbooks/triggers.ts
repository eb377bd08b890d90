import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { ThreadRef } from '../core/domain.ts';
import type { InboundEvent, InboundSink } from '../core/inbound.ts';
import type { JobQueue } from '../core/jobs.ts';
import type { Repositories } from '../db/repositories/index.ts';
import type { Playbook } from './playbook-format.ts';
import { parsePlaybook } from './playbook-parse.ts';
import type { PlaybookStore, StoredPlaybook, StoredTriggerEvent } from './playbook-store.ts';
import { cronOf, latestFireTime } from './schedule-pattern.ts';

/** A schedule missed for longer than this (Spine was down) is not caught up. */
export const SCHEDULE_LOOKBACK_MS = 86_400_000;

export interface PlaybookTriggersDeps {
  store: PlaybookStore;
  repos: Repositories;
  queue: () => JobQueue;
  clock: Clock;
  logger: Logger;
  /** Live shadow mode: simulate a triggered run and report it instead of running it. */
  shadowRun?: (playbook: StoredPlaybook, trigger: Record<string, unknown>) => Promise<void>;
}

/** The scope's `trigger` for an inbound event: its payload plus where and when it came from. */
export function triggerOf(
  event: Pick<StoredTriggerEvent, 'source' | 'type' | 'occurredAt' | 'payload'> & { id: string },
) {
  return {
    ...event.payload,
    source: event.source,
    type: event.type,
    id: event.id,
    at: event.occurredAt.toISOString(),
  };
}

/** Whether an inbound event fires a playbook's trigger. */
export function matchesEvent(
  playbook: Playbook,
  event: Pick<InboundEvent, 'source' | 'type' | 'payload'>,
): boolean {
  const trigger = playbook.trigger;
  if ('email' in trigger) {
    if (event.source !== 'email') return false;
    const from = event.payload.from as { address?: string; name?: string } | undefined;
    const sender = `${from?.name ?? ''} <${from?.address ?? ''}>`.toLowerCase();
    const subject = String(event.payload.subject ?? '').toLowerCase();
    if (trigger.email.from && !sender.includes(trigger.email.from.toLowerCase())) return false;
    if (trigger.email.subjectContains && !subject.includes(trigger.email.subjectContains.toLowerCase()))
      return false;
    return true;
  }
  if ('stripe' in trigger) return event.source === 'stripe' && trigger.stripe.events.includes(event.type);
  if ('webhook' in trigger) return event.source === 'webhook' && event.payload.playbook === playbook.name;
  return false;
}

/**
 * Where playbook runs start: the inbound sink (e-mail, Stripe, webhooks), schedules, chat. Every
 * start goes through `start`, whose (playbook, trigger key) uniqueness makes a redelivered event
 * or a schedule checked twice start one run.
 */
export class PlaybookTriggers {
  readonly #deps: PlaybookTriggersDeps;

  constructor(deps: PlaybookTriggersDeps) {
    this.#deps = deps;
  }

  /**
   * The `InboundSink` inbound sources call: store the event (dedupe on source + id), then start a
   * run of every enabled playbook whose trigger matches. Safe to call again with the same event.
   */
  readonly sink: InboundSink = async (event) => {
    const { event: stored, created } = await this.#deps.store.recordEvent(event);
    for (const playbook of await this.#deps.store.list(event.operatorId)) {
      const parsed = this.#parse(playbook);
      if (!parsed || !matchesEvent(parsed, event)) continue;
      const trigger = triggerOf({ ...stored, id: stored.externalId });
      if (!playbook.enabled) {
        // A redelivered event was simulated the first time: report it once, like a run starts once.
        if (created && playbook.shadowUntil && playbook.shadowUntil > this.#deps.clock.now())
          await this.#deps.shadowRun?.(playbook, trigger);
        continue;
      }
      await this.start(playbook, {
        triggerKey: `event:${stored.source}:${stored.externalId}`,
        trigger,
        triggerEventId: stored.id,
      });
    }
  };

  /** Start a run of the playbook's current version (once per trigger key) and enqueue it. */
  async start(
    playbook: StoredPlaybook,
    input: {
      triggerKey: string;
      trigger: Record<string, unknown>;
      triggerEventId?: number;
      thread?: ThreadRef;
      by?: string;
    },
  ): Promise<number | null> {
    const thread = input.thread ?? (await this.homeThread(playbook.operatorId));
    const started = await this.#deps.store.startRun({
      playbook,
      triggerKey: input.triggerKey,
      trigger: input.trigger,
      triggerEventId: input.triggerEventId ?? null,
      thread,
      requestedBy: input.by ?? `playbook:${playbook.name}`,
      text: `Run the playbook ${playbook.name} (${describeTrigger(input.trigger)})`,
    });
    if (!started) return null;
    this.#deps.logger.info({ playbook: playbook.name, goalId: started.goal.id }, 'playbook run started');
    await this.#deps.queue().enqueue({ name: 'run-playbook', data: { goalId: started.goal.id } });
    return started.goal.id;
  }

  /**
   * The schedule check: start the latest due firing of every enabled scheduled playbook (one
   * catch-up after downtime, none from before it was enabled), and wake runs whose wait is over.
   */
  async fireDue(): Promise<number> {
    const now = this.#deps.clock.now();
    let started = 0;
    for (const playbook of await this.#deps.store.list()) {
      if (!playbook.enabled) continue;
      const parsed = this.#parse(playbook);
      if (!parsed || !('schedule' in parsed.trigger)) continue;
      const due = await this.dueFire(playbook, parsed, now);
      if (!due) continue;
      const goalId = await this.start(playbook, {
        triggerKey: `schedule:${due.toISOString()}`,
        trigger: { source: 'schedule', at: due.toISOString() },
      });
      if (goalId !== null) started += 1;
    }
    for (const run of await this.#deps.store.listWaking(now)) {
      await this.#deps.queue().enqueue({
        name: 'run-playbook',
        data: { goalId: run.goalId, wake: run.wakeAt?.getTime() ?? now.getTime() },
      });
    }
    return started;
  }

  /** The latest firing owed by `now`, not before the playbook was enabled or changed. */
  async dueFire(playbook: StoredPlaybook, parsed: Playbook, now: Date): Promise<Date | null> {
    if (!('schedule' in parsed.trigger)) return null;
    const timezone = parsed.trigger.schedule.timezone ?? (await this.timezoneOf(playbook.operatorId));
    const since = Math.max(now.getTime() - SCHEDULE_LOOKBACK_MS, playbook.enabledSince.getTime());
    const due = latestFireTime(cronOf(parsed.trigger.schedule), timezone, now, now.getTime() - since);
    if (!due) return null;
    const last = await this.#deps.store.lastScheduledFire(playbook.id);
    return last && last.getTime() >= due.getTime() ? null : due;
  }

  async timezoneOf(operatorId: number): Promise<string> {
    return (await this.#deps.repos.operators.get(operatorId))?.timezone ?? 'UTC';
  }

  #parse(playbook: StoredPlaybook): Playbook | null {
    try {
      return parsePlaybook(playbook.current.source, `${playbook.name}.yaml`).playbook;
    } catch (error) {
      this.#deps.logger.warn(
        { playbook: playbook.name, err: String(error) },
        'a stored playbook no longer parses',
      );
      return null;
    }
  }

  /** Where an operator hears from Spine unprompted: the thread of their latest goal, else the console. */
  async homeThread(operatorId: number): Promise<ThreadRef> {
    const [latest] = await this.#deps.repos.goals.recent(operatorId, 1);
    return latest
      ? { channel: latest.thread.channel, conversation: latest.thread.conversation }
      : { channel: 'console', conversation: 'local' };
  }
}

function describeTrigger(trigger: Record<string, unknown>): string {
  const source = String(trigger.source ?? 'manual');
  if (source === 'schedule') return `scheduled for ${String(trigger.at)}`;
  if (source === 'email') return `e-mail “${String(trigger.subject ?? '')}”`;
  if (source === 'chat') return 'asked in chat';
  return `${source} ${String(trigger.type ?? '')}`.trim();
}
