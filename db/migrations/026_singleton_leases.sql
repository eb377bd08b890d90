-- Duties one process of a deployment performs at a time, whatever the number of replicas (the
-- due-check of delayed execution). A row is claimed by compare-and-set when its lease has lapsed
-- or it is already the claimant's, renewed while the duty runs, and deleted when it ends; a
-- process that died holding it is replaced once `lease_until` has passed.
CREATE TABLE IF NOT EXISTS singleton_leases (
  name         text PRIMARY KEY,
  owner        text NOT NULL,
  lease_until  timestamptz NOT NULL
);
