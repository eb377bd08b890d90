import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { describeError } from '../core/errors.ts';
import { keepLeaseRenewed } from './lease-renewal.ts';

/** Where duty leases live (db/repositories/singleton-leases.ts). */
export interface SingletonLeaseStore {
  claim(name: string, owner: string, leaseMs: number): Promise<boolean>;
  renew(name: string, owner: string, leaseMs: number): Promise<boolean>;
  release(name: string, owner: string): Promise<void>;
}

export interface SingletonDutyOptions {
  leases: SingletonLeaseStore;
  /** The duty's row in `singleton_leases`. */
  name: string;
  logger: Logger;
  /**
   * How long a claim lasts unrenewed: a process that dies holding it keeps the others from the
   * duty this long. Renewed at a third of it, so two renewals can be late before it lapses.
   */
  leaseMs?: number;
  /** Who claims; unique per instance by default (host, pid and a random part, for the logs). */
  owner?: string;
}

/** The outcome of `run`: the work's value, or `ran: false` when another process holds the duty. */
export type DutyRun<T> = { ran: true; value: T } | { ran: false };

/**
 * A duty that one process of a deployment performs at a time, whatever the number of replicas:
 * each run claims the duty's lease (skipping when another owner holds it), renews it while the
 * work runs, and releases it at the end. When a renewal fails, finds the lease taken, or comes too
 * late, the work's AbortSignal fires: the work must stop taking new items (what it already started
 * is fenced by its own claims).
 */
export class SingletonDuty {
  readonly owner: string;
  readonly #options: Required<Omit<SingletonDutyOptions, 'owner'>>;
  // Runs of this instance never overlap: they share one owner, which the lease cannot tell apart.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: SingletonDutyOptions) {
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.#options = { leaseMs: 30_000, ...options };
  }

  get leaseMs(): number {
    return this.#options.leaseMs;
  }

  /** Run `work` holding the duty's lease, after this instance's previous run. */
  run<T>(work: (signal: AbortSignal) => Promise<T>): Promise<DutyRun<T>> {
    const next = this.#queue.then(() => this.#runHeld(work));
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Resolves once the runs started so far are over. */
  async settled(): Promise<void> {
    await this.#queue;
  }

  async #runHeld<T>(work: (signal: AbortSignal) => Promise<T>): Promise<DutyRun<T>> {
    const { leases, name, leaseMs, logger } = this.#options;
    const claimedAt = Date.now();
    if (!(await leases.claim(name, this.owner, leaseMs))) return { ran: false };
    const renewal = keepLeaseRenewed({
      lease: `the ${name} duty`,
      leaseMs,
      everyMs: Math.max(10, Math.floor(leaseMs / 3)),
      claimedAt,
      renew: () => leases.renew(name, this.owner, leaseMs),
    });
    const onLost = () =>
      logger.error(
        { duty: name, owner: this.owner, err: describeError(renewal.signal.reason) },
        'lost the lease of a singleton duty: stopping it',
      );
    renewal.signal.addEventListener('abort', onLost, { once: true });
    try {
      return { ran: true, value: await work(renewal.signal) };
    } finally {
      await renewal.stop();
      renewal.signal.removeEventListener('abort', onLost);
      await leases.release(name, this.owner).catch((error: unknown) => {
        logger.warn(
          { duty: name, owner: this.owner, err: describeError(error) },
          'could not release a duty lease; it lapses on its own',
        );
      });
    }
  }
}
