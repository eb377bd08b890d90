import type { Queryable } from '../database.ts';

/**
 * Deployment-wide leases on named duties (`singleton_leases`): one owner at a time. Times are the
 * database's `now()`, so replicas whose clocks disagree still agree on when a lease lapses. Each
 * method is one statement (no transaction held open: PGlite cannot run another pooled query
 * while one is).
 */
export class SingletonLeaseRepository {
  constructor(private readonly db: Queryable) {}

  /**
   * Claim `name` for `owner` for `leaseMs`: true when it was free, lapsed, or already this
   * owner's; false while another owner's lease runs.
   */
  async claim(name: string, owner: string, leaseMs: number): Promise<boolean> {
    const result = await this.db.query(
      `INSERT INTO singleton_leases (name, owner, lease_until) VALUES ($1, $2, now() + make_interval(secs => $3))
       ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until
         WHERE singleton_leases.lease_until < now() OR singleton_leases.owner = EXCLUDED.owner
       RETURNING owner`,
      [name, owner, leaseMs / 1000],
    );
    return (result.rowCount ?? 0) > 0;
  }

  /**
   * Extend `owner`'s lease on `name`: false when the row is no longer this owner's (another
   * claimed it after it lapsed, or released it since), so the duty must stop. A lapsed lease
   * nobody took is extended: nobody else can have run the duty meanwhile.
   */
  async renew(name: string, owner: string, leaseMs: number): Promise<boolean> {
    const result = await this.db.query(
      `UPDATE singleton_leases SET lease_until = now() + make_interval(secs => $3)
       WHERE name = $1 AND owner = $2 RETURNING owner`,
      [name, owner, leaseMs / 1000],
    );
    return (result.rowCount ?? 0) > 0;
  }

  /** Give up `owner`'s lease on `name` (another owner's lease is left alone). */
  async release(name: string, owner: string): Promise<void> {
    await this.db.query('DELETE FROM singleton_leases WHERE name = $1 AND owner = $2', [name, owner]);
  }
}
