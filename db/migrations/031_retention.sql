-- Retention (issue #22, point 7): the daily sweep deletes dedupe rows, model usage and the graph
-- checkpoints of finished goals past their windows (jobs/retention.ts). The event log is never pruned.

-- What `spine goal <id>` showed from a goal's checkpoints, kept when they are pruned: the steps
-- (node, time, inputs, memory pointers, outputs, pauses, errors, model calls) as goal-forensics.ts
-- builds them. `memory_ids` are the memories the steps point at: when one expires or is forgotten,
-- the summary is redacted (its texts removed, the ids kept), as the checkpoints would have been.
CREATE TABLE IF NOT EXISTS goal_forensics_summaries (
  goal_id      bigint      PRIMARY KEY REFERENCES goals(id),
  steps        jsonb       NOT NULL,
  checkpoints  integer     NOT NULL,
  memory_ids   bigint[]    NOT NULL DEFAULT '{}',
  redacted     boolean     NOT NULL DEFAULT false,
  pruned_at    timestamptz NOT NULL DEFAULT now()
);

-- The sweep deletes the oldest rows first, a batch at a time.
CREATE INDEX IF NOT EXISTS inbox_received_idx ON inbox (received_at);
CREATE INDEX IF NOT EXISTS inbound_deliveries_received_idx ON inbound_deliveries (received_at);
CREATE INDEX IF NOT EXISTS llm_usage_at_idx ON llm_usage (at);
-- Finished goals to prune are found from the checkpoint threads (few, since they are pruned), by
-- the checkpointer's primary key, not from every goal ever finished: no index on goals is needed.
