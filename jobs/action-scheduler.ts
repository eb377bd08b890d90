import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { describeError } from '../core/errors.ts';
import type { Repositories } from '../db/repositories/index.ts';
import { SingletonDuty, type SingletonLeaseStore } from './singleton-duty.ts';

/** The due-check's row in `singleton_leases`. */
export const DUE_CHECK_DUTY = 'action-due-check';

export interface ActionSchedulerOptions {
  repos: Repositories;
  /**
   * The due-check (graphs/agents/scheduled-actions.ts `runDueActions`). It stops taking actions
   * once `signal` aborts: the lease was lost and another process may be checking.
   */
  runDue: (signal: AbortSignal) => Promise<number>;
  clock: Clock;
  logger: Logger;
  /**
   * The deployment-wide leases: with them one process at a time runs the due-check, whatever the
   * number of replicas. Without (a lone process, tests of the timer alone) every check runs.
   */
  leases?: SingletonLeaseStore;
  /** How long the due-check's lease lasts unrenewed (a dead holder blocks the check this long). */
  leaseMs?: number;
  /** Longest sleep between checks, so a clock change or another process's schedule is noticed. */
  maxSleepMs?: number;
}

/**
 * The in-process timer of delayed execution: sleeps until the soonest `scheduled_at` (at most
 * `maxSleepMs`), runs the due-check, and re-arms. `poke()` re-arms at once (a new schedule).
 */
export class ActionScheduler {
  readonly #options: ActionSchedulerOptions & { maxSleepMs: number };
  readonly #duty: SingletonDuty | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: ActionSchedulerOptions) {
    this.#options = { maxSleepMs: 60_000, ...options };
    this.#duty = options.leases
      ? new SingletonDuty({
          leases: options.leases,
          name: DUE_CHECK_DUTY,
          logger: options.logger,
          ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
        })
      : undefined;
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

  /**
   * Run one due-check now, under the deployment's lease: the number of actions run, or null when
   * another process holds the lease (it is checking right now).
   */
  async runOnce(): Promise<number | null> {
    if (!this.#duty) return this.#options.runDue(new AbortController().signal);
    const run = await this.#duty.run((signal) => this.#options.runDue(signal));
    return run.ran ? run.value : null;
  }

  async #tick(): Promise<void> {
    let held = false;
    try {
      held = (await this.runOnce()) === null;
      if (held) this.#options.logger.debug('another process holds the due-check: skipped this tick');
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
    // The holder runs what is due now, and its lease lapses within `leaseMs` if it died: polling
    // faster than it renews would only add load.
    if (held && this.#duty)
      sleep = Math.max(sleep, Math.min(this.#options.maxSleepMs, this.#duty.leaseMs / 3));
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
    await this.#duty?.settled();
  }
}
