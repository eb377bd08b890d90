-- Approvals bound and bounded (issue #22, point 2).
--
-- Bound: each approval keeps the hash of the parameters its card showed. An approval is decided,
-- and its action carried to `approved`, only while the action's parameters still hash to it; a
-- change made any other way than through the edit flow (which re-binds, and re-renders the cards)
-- is refused. The hash is taken when the row is inserted, whoever inserts it.
ALTER TABLE approvals ADD COLUMN IF NOT EXISTS params_hash text;
UPDATE approvals a SET params_hash = act.params_hash
  FROM actions act WHERE act.id = a.action_id AND a.params_hash IS NULL;

CREATE OR REPLACE FUNCTION approvals_bind_params() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
  IF NEW.params_hash IS NULL THEN
    SELECT params_hash INTO NEW.params_hash FROM actions WHERE id = NEW.action_id;
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS approvals_bind_params ON approvals;
CREATE TRIGGER approvals_bind_params BEFORE INSERT ON approvals
  FOR EACH ROW EXECUTE FUNCTION approvals_bind_params();
ALTER TABLE approvals ALTER COLUMN params_hash SET NOT NULL;

-- Bounded: a pending approval expires (per risk class, guardrails.approvalExpiry). `expired` is no
-- decision: nobody decided in time (`timeout`), or the action changed after its card was shown
-- (`params_changed`). Either way nothing runs; the action is carried to `refused`.
ALTER TABLE approvals ADD COLUMN IF NOT EXISTS expiry_reason text
  CHECK (expiry_reason IN ('timeout', 'params_changed'));
ALTER TABLE approvals DROP CONSTRAINT IF EXISTS approvals_status_check;
ALTER TABLE approvals ADD CONSTRAINT approvals_status_check
  CHECK (status IN ('pending', 'approved', 'rejected', 'expired'));
ALTER TABLE approvals DROP CONSTRAINT IF EXISTS approvals_expired_has_reason;
ALTER TABLE approvals ADD CONSTRAINT approvals_expired_has_reason
  CHECK ((status = 'expired') = (expiry_reason IS NOT NULL));
