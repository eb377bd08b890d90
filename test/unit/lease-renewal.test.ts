import { describe, expect, it } from 'vitest';
import { hasCode } from '../../core/errors.ts';
import { keepLeaseRenewed } from '../../jobs/lease-renewal.ts';
import { waitUntil } from '../support/queue-spine.ts';

/** A lease renewed by `renew`, short enough that the test sees it run out. */
function lease(renew: () => Promise<boolean>) {
  return keepLeaseRenewed({ lease: 'test', leaseMs: 400, everyMs: 50, claimedAt: Date.now(), renew });
}

describe('a lease kept alive while its holder works', () => {
  it('stays trusted while renewals succeed, and stops renewing when stopped', async () => {
    let renewals = 0;
    const renewal = lease(async () => {
      renewals += 1;
      return true;
    });
    await waitUntil(() => renewals >= 5, 'several renewals');
    expect(renewal.signal.aborted).toBe(false);
    await renewal.stop();
    const after = renewals;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(renewals).toBe(after);
    expect(renewal.signal.aborted).toBe(false);
  });

  const cases: Array<[string, () => Promise<boolean>, string]> = [
    ['is found lost', async () => false, 'lease.lost'],
    ['fails', () => Promise.reject(new Error('connection refused')), 'lease.renewal_failed'],
    // A store that stopped answering: no renewal ever comes back.
    ['never answers', () => new Promise<boolean>(() => {}), 'lease.lapsed'],
  ];
  it.each(cases)('aborts the holder when a renewal %s', async (_case, renew, code) => {
    const renewal = lease(renew);
    await waitUntil(() => renewal.signal.aborted, 'the lease to be given up');
    expect(hasCode(renewal.signal.reason, code)).toBe(true);
    // Not awaiting stop(): the renewal that never answers stays pending.
    void renewal.stop();
  });
});
