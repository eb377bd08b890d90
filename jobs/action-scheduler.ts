import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { describeError } from '../core/errors.ts';
import type { Repositories } from '../db/repositories/index.ts';

export interface ActionSchedulerOptions {
  repos: Repositories;
  /** The due-check (graphs/agents/scheduled-actions.ts `runDueActions`). */
  runDue: () => Promise<number>;
  clock: Clock;
  logger: Logger;
  /** Longest sleep between checks, so a clock change or another process's schedule is noticed. */
  maxSleepMs?: number;
}

/**
 * The in-process timer of delayed execution: sleeps until the soonest `scheduled_at` (at most
 * `maxSleepMs`), runs the due-check, and re-arms. `poke()` re-arms at once (a new schedule).
 */
export class ActionScheduler {
  readonly #options: Required<ActionSchedulerOptions>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: ActionSchedulerOptions) {
    this.#options = { maxSleepMs: 60_000, ...options };
  }

  start(): void {
    this.#stopped = false;
    void this.poke();
  }

  /** Check now and re-arm. */
  async poke(): Promise<void> {
    if (this.#stopped) return;
    if (this.#running) return this.#running;
    this.#running = this.#tick().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #tick(): Promise<void> {
    try {
      await this.#options.runDue();
    } catch (error) {
      this.#options.logger.error({ err: describeError(error) }, 'the scheduled-action check failed');
    }
    if (this.#stopped) return;
    let sleep = this.#options.maxSleepMs;
    try {
      const next = await this.#options.repos.connectorState.nextDueAt();
      if (next) sleep = Math.max(50, Math.min(sleep, next.getTime() - this.#options.clock.now().getTime()));
    } catch (error) {
      this.#options.logger.warn({ err: describeError(error) }, 'could not read the next scheduled action');
    }
    if (this.#timer) clearTimeout(this.#timer);
    // stop() may have come while the next due time was read: do not re-arm after it.
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.poke(), sleep);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }
}
