-- Claims that fence (issue #21). An execution claims an action with its own token and a short
-- lease that it renews while it lives; only `approved` rows, or `executing` rows whose lease has
-- lapsed, can be claimed, and an outcome is recorded only by the holder of the current token.
-- A stale executor (frozen past its lease, then woken) can neither record nor keep working.
ALTER TABLE actions ADD COLUMN IF NOT EXISTS claim_token text;
ALTER TABLE actions ADD COLUMN IF NOT EXISTS lease_until timestamptz;
-- When the action was first claimed: how old the idempotency key is (Stripe forgets keys after 24 h).
ALTER TABLE actions ADD COLUMN IF NOT EXISTS first_claimed_at timestamptz;
-- The key sent to the service, when it is not the action's own: a Retry of an operation that is
-- idempotent by key, after a failure that may have happened, sends the original's key again so a
-- call that did land is not made twice.
ALTER TABLE actions ADD COLUMN IF NOT EXISTS effect_key text;

-- `unknown`: the request may have reached the other side and nothing dedupes a repeat (SMTP after
-- DATA, a webhook without an idempotency guarantee): the operator decides, Spine never guesses.
ALTER TABLE actions DROP CONSTRAINT IF EXISTS actions_status_check;
ALTER TABLE actions ADD CONSTRAINT actions_status_check
  CHECK (status IN ('proposed', 'awaiting_approval', 'approved', 'rejected', 'refused',
                    'executing', 'succeeded', 'failed', 'cancelled', 'unknown'));

-- Executions claimed before leases existed get a lease that lapses a minute after their claim.
UPDATE actions SET lease_until = coalesce(claimed_at, now()) + interval '1 minute',
                   first_claimed_at = coalesce(first_claimed_at, claimed_at)
  WHERE status = 'executing' AND lease_until IS NULL;

-- The settle sweep finds executions whose executor died.
CREATE INDEX IF NOT EXISTS actions_lease_idx ON actions (lease_until) WHERE status = 'executing';
-- A claim looks up when its effect key was first used, on the original and on its retries.
CREATE INDEX IF NOT EXISTS actions_effect_key_idx ON actions (effect_key) WHERE effect_key IS NOT NULL;
