-- When an execution claimed an action. A claim older than the lease (connectors/ConnectorRuntime
-- finishes or fails well within it) belongs to a process that crashed mid-execution: the due-check
-- of delayed execution takes such a scheduled action again, and the connector finishes it under the
-- same idempotency key.
ALTER TABLE actions ADD COLUMN IF NOT EXISTS claimed_at timestamptz;
CREATE INDEX IF NOT EXISTS actions_due_idx ON actions (scheduled_at)
  WHERE scheduled_at IS NOT NULL AND status IN ('approved', 'executing');
