-- Language models: the answer cache for deterministic calls, token usage and cost per call, and the
-- daily budget notices (so the operator is warned once per day, not once per call).

-- One row per distinct deterministic request (model, messages, tools, temperature 0): the answer.
CREATE TABLE llm_cache (
  key          text PRIMARY KEY,
  model        text        NOT NULL,
  response     jsonb       NOT NULL,
  hits         integer     NOT NULL DEFAULT 0,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  last_hit_at  timestamptz
);
CREATE INDEX llm_cache_expires_idx ON llm_cache (expires_at);

-- One row per model call (a cache hit is a row too, with no tokens and no cost).
CREATE TABLE llm_usage (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  operator_id    bigint REFERENCES operators(id),
  goal_id        bigint REFERENCES goals(id),
  role           text    NOT NULL CHECK (role IN ('small', 'large')),
  purpose        text    NOT NULL,
  model          text    NOT NULL,
  input_tokens   integer NOT NULL DEFAULT 0,
  output_tokens  integer NOT NULL DEFAULT 0,
  cost_usd       numeric(14, 8) NOT NULL DEFAULT 0,
  cached         boolean NOT NULL DEFAULT false,
  latency_ms     integer NOT NULL DEFAULT 0,
  -- The operator's local date (YYYY-MM-DD): budgets are per local day.
  day            text        NOT NULL,
  at             timestamptz NOT NULL
);
CREATE INDEX llm_usage_day_idx ON llm_usage (operator_id, day);
CREATE INDEX llm_usage_goal_idx ON llm_usage (goal_id) WHERE goal_id IS NOT NULL;

-- At most one warning (80%) and one cap notice (100%) per operator and local day.
CREATE TABLE llm_budget_notices (
  operator_id  bigint NOT NULL REFERENCES operators(id),
  day          text   NOT NULL,
  level        text   NOT NULL CHECK (level IN ('warning', 'cap')),
  at           timestamptz NOT NULL,
  PRIMARY KEY (operator_id, day, level)
);
