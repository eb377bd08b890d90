import { SpineError } from '../core/errors.ts';

/** A lease kept alive while its holder works. */
export interface LeaseRenewal {
  /** Aborts, with a SpineError (`lease.lost`, `lease.renewal_failed`, `lease.lapsed`), once the lease cannot be trusted. */
  readonly signal: AbortSignal;
  /** Stop renewing (the work is over), after any renewal in flight. */
  stop(): Promise<void>;
}

export interface LeaseRenewalOptions {
  /** What is leased, for the abort reason (a duty's or a group's name). */
  lease: string;
  leaseMs: number;
  /** Renew this often: well inside `leaseMs`, so a slow renewal still lands in time. */
  everyMs: number;
  /** When the claim that started the lease was sent (`Date.now()`). */
  claimedAt: number;
  /** Extend the lease: false when it is no longer ours (lapsed and taken, or deleted). */
  renew: () => Promise<boolean>;
}

/**
 * Renew a lease until stopped, and abort the holder's signal the first time the lease cannot be
 * trusted: a renewal finds it gone, a renewal fails, or no renewal has succeeded by the time the
 * last one runs out (a store that stopped answering, or a process frozen past its lease). Renewals
 * never overlap, and none is sent after the signal aborted.
 */
export function keepLeaseRenewed(options: LeaseRenewalOptions): LeaseRenewal {
  const controller = new AbortController();
  let stopped = false;
  let renewal: Promise<void> = Promise.resolve();
  let next: NodeJS.Timeout | undefined;
  let lapse: NodeJS.Timeout | undefined;
  const lose = (code: string, message: string, cause?: unknown) => {
    if (stopped || controller.signal.aborted) return;
    clearTimeout(next);
    clearTimeout(lapse);
    controller.abort(
      new SpineError(code, message, {
        retryable: true,
        details: { lease: options.lease },
        ...(cause === undefined ? {} : { cause }),
      }),
    );
  };
  // Measured from when the extending command was sent, this deadline is never later than the
  // store's own (which starts counting when the command arrives).
  const armLapse = (sentAt: number) => {
    clearTimeout(lapse);
    lapse = setTimeout(
      () => lose('lease.lapsed', `the lease on ${options.lease} ran out before it could be renewed`),
      sentAt + options.leaseMs - Date.now(),
    );
    lapse.unref();
  };
  const renew = async () => {
    const sentAt = Date.now();
    try {
      if (!(await options.renew()))
        return lose('lease.lost', `the lease on ${options.lease} was lost to another holder or lapsed`);
      if (stopped || controller.signal.aborted) return;
      armLapse(sentAt);
      schedule();
    } catch (error) {
      lose('lease.renewal_failed', `the lease on ${options.lease} could not be renewed`, error);
    }
  };
  const schedule = () => {
    next = setTimeout(() => {
      renewal = renew();
    }, options.everyMs);
    next.unref();
  };
  armLapse(options.claimedAt);
  schedule();
  return {
    signal: controller.signal,
    async stop() {
      stopped = true;
      clearTimeout(next);
      clearTimeout(lapse);
      await renewal;
    },
  };
}
