-- Business alerts (README.md, "Business metrics and alerts"): one row per alert fired. The unique
-- dedupe key (rule + what it is about + window) is what makes each alert post once, even when
-- several processes evaluate the rules at the same moment.
CREATE TABLE alerts (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  operator_id  bigint NOT NULL REFERENCES operators(id),
  rule         text   NOT NULL,
  dedupe_key   text   NOT NULL UNIQUE,
  message      text   NOT NULL,
  details      jsonb  NOT NULL DEFAULT '{}',
  message_ref  jsonb,
  fired_at     timestamptz NOT NULL
);
CREATE INDEX alerts_operator_idx ON alerts (operator_id, fired_at);

-- Connector circuits live in each process's memory: every process reports the ones that are not
-- closed here, so the alert rule sees an outage whichever worker hit it.
CREATE TABLE connector_circuits (
  connector    text NOT NULL,
  process      text NOT NULL,
  state        text NOT NULL CHECK (state IN ('open', 'half_open', 'isolated')),
  opened_at    timestamptz NOT NULL,
  last_error   text,
  reported_at  timestamptz NOT NULL,
  PRIMARY KEY (connector, process)
);

-- Business metrics: errors introduced look up edits per action; the log has no such index yet.
CREATE INDEX IF NOT EXISTS events_action_verb_idx ON events (action_id, verb) WHERE action_id IS NOT NULL;
