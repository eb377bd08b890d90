import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { GroupLock, HeldLock } from './group-lock.ts';
import { keepLeaseRenewed } from './lease-renewal.ts';

// Delete / extend the key only while it still holds our token (never someone else's lock).
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

/**
 * The group lock as a lease in Redis (the default: one round trip each way, far cheaper than a
 * Postgres lock). `SET NX PX` with a token, renewed at half the lease while the job runs, so it
 * has the same failure model as BullMQ's own job lock: a killed worker's lease runs out after
 * `leaseMs` (while its job waits that long to be found stalled anyway).
 *
 * A renewal that finds the key gone or someone else's (the lease lapsed while this process was
 * frozen, or Redis lost it), that fails, or that has not succeeded when the lease runs out aborts
 * the held lock's signal: the job no longer has its group to itself and must stop.
 */
export class RedisGroupLock implements GroupLock {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #leaseMs: number;

  constructor(options: { redisUrl: string; prefix: string; leaseMs: number }) {
    this.#redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
    // Connection errors surface where they matter: as failed renewals (the job's signal) and
    // failed acquisitions (the job fails); the worker's own connection logs them too.
    this.#redis.on('error', () => {});
    this.#prefix = options.prefix;
    this.#leaseMs = options.leaseMs;
  }

  async tryAcquire(group: string): Promise<HeldLock | null> {
    const key = `${this.#prefix}:group:${group}`;
    const token = randomUUID();
    const claimedAt = Date.now();
    const taken = await this.#redis.set(key, token, 'PX', this.#leaseMs, 'NX');
    if (taken !== 'OK') return null;
    const renewal = keepLeaseRenewed({
      lease: `group ${group}`,
      leaseMs: this.#leaseMs,
      everyMs: Math.max(100, Math.floor(this.#leaseMs / 2)),
      claimedAt,
      renew: async () => (await this.#redis.eval(EXTEND, 1, key, token, this.#leaseMs)) === 1,
    });
    let released = false;
    return {
      signal: renewal.signal,
      release: async () => {
        if (released) return;
        released = true;
        await renewal.stop();
        // Best effort: a lock not deleted here runs out after `leaseMs`.
        await this.#redis.eval(RELEASE, 1, key, token).catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
