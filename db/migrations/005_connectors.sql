-- Connectors and guardrails: targets for trust rules, delayed execution, cancellation, trust rules.

ALTER TABLE actions ADD COLUMN IF NOT EXISTS target text;
-- When set, an approved action waits until this instant (delayed execution); NULL runs at once.
ALTER TABLE actions ADD COLUMN IF NOT EXISTS scheduled_at timestamptz;
-- Money amount for daily limits of `money` operations (in the connector's currency unit).
ALTER TABLE actions ADD COLUMN IF NOT EXISTS amount numeric;

-- A scheduled action may be cancelled before it runs.
ALTER TABLE actions DROP CONSTRAINT IF EXISTS actions_status_check;
ALTER TABLE actions ADD CONSTRAINT actions_status_check
  CHECK (status IN ('proposed', 'awaiting_approval', 'approved', 'rejected', 'refused',
                    'executing', 'succeeded', 'failed', 'cancelled'));

CREATE INDEX IF NOT EXISTS actions_due_idx ON actions (scheduled_at) WHERE status = 'approved' AND scheduled_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS actions_target_idx ON actions (operator_id, connector, operation, target);
-- One compensation per action.
CREATE UNIQUE INDEX IF NOT EXISTS actions_undo_of_idx ON actions (undo_of) WHERE undo_of IS NOT NULL;

-- "Always allow" rules: the operator trusts one operation on one target. Revoked rows are kept.
CREATE TABLE trust_rules (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  operator_id  bigint NOT NULL REFERENCES operators(id),
  connector    text   NOT NULL,
  operation    text   NOT NULL,
  target       text   NOT NULL,
  granted_via  text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);
CREATE UNIQUE INDEX trust_rules_active_idx ON trust_rules (operator_id, connector, operation, target)
  WHERE revoked_at IS NULL;
