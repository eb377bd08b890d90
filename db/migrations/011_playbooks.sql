-- Playbooks: the operator's recurring work as declarative workflows (see README "Playbooks").

-- One row per playbook name; its content lives in immutable versions.
CREATE TABLE playbooks (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  operator_id         bigint  NOT NULL REFERENCES operators(id),
  name                text    NOT NULL,
  enabled             boolean NOT NULL DEFAULT false,
  current_version_id  bigint,
  -- HMAC-SHA256 key of the playbook's webhook URL (shown by `playbook show`).
  webhook_secret      text    NOT NULL,
  -- Live shadow mode: triggers until then are run as simulations.
  shadow_until        timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (operator_id, name)
);

-- Every edit is a new version; a run keeps the version it started with.
CREATE TABLE playbook_versions (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  playbook_id   bigint  NOT NULL REFERENCES playbooks(id),
  version       integer NOT NULL,
  source        text    NOT NULL,
  content_hash  text    NOT NULL,
  origin        text    NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (playbook_id, version)
);

-- Every inbound event received (e-mail, Stripe, webhook), once per (source, external id): the
-- dedupe of at-least-once deliveries and the history shadow mode replays.
CREATE TABLE trigger_events (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  operator_id  bigint REFERENCES operators(id),
  source       text        NOT NULL,
  external_id  text        NOT NULL,
  type         text        NOT NULL,
  occurred_at  timestamptz NOT NULL,
  payload      jsonb       NOT NULL DEFAULT '{}',
  received_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (source, external_id)
);
CREATE INDEX trigger_events_occurred_idx ON trigger_events (occurred_at);

-- A run is a goal on one version; (playbook, trigger key) makes each firing start one run.
CREATE TABLE playbook_runs (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  playbook_id       bigint NOT NULL REFERENCES playbooks(id),
  version_id        bigint NOT NULL REFERENCES playbook_versions(id),
  goal_id           bigint NOT NULL UNIQUE REFERENCES goals(id),
  trigger_key       text   NOT NULL,
  trigger_event_id  bigint REFERENCES trigger_events(id),
  trigger           jsonb  NOT NULL DEFAULT '{}',
  status            text   NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'waiting', 'done', 'stopped', 'failed')),
  -- A `wait` step sleeps until then.
  wake_at           timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  finished_at       timestamptz,
  UNIQUE (playbook_id, trigger_key)
);
CREATE INDEX playbook_runs_wake_idx ON playbook_runs (wake_at) WHERE status = 'waiting';
