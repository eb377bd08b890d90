-- A chat delivery (Telegram update, Slack event) that kept failing is set aside here after a bounded
-- number of attempts, so one poisoned delivery cannot stall its channel. The payload is kept without
-- secrets (Slack's verification token, response URLs and trigger ids are removed) for a person to
-- read and, if they want, replay by hand.
CREATE TABLE IF NOT EXISTS dead_letters (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  channel      text        NOT NULL,
  delivery_id  text        NOT NULL,
  payload      jsonb       NOT NULL,
  error        text        NOT NULL,
  attempts     integer     NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (channel, delivery_id)
);

-- Failed attempts of a delivery whose platform re-sends it without saying how often it tried (the
-- Telegram webhook): counted here, so any replica that receives the next attempt knows. A row is
-- removed when its delivery is dead-lettered; stale ones (a delivery that failed, then worked) are
-- pruned whenever another failure is counted.
CREATE TABLE IF NOT EXISTS delivery_attempts (
  channel      text        NOT NULL,
  delivery_id  text        NOT NULL,
  attempts     integer     NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel, delivery_id)
);

-- Strangers refused, one row per stranger per day: the first refusal of the day appends one event
-- (the events table is append-only), later ones only bump `refusals` here, so a flood of messages
-- from someone who is not the operator does not grow the event log.
CREATE TABLE IF NOT EXISTS stranger_refusals (
  channel      text        NOT NULL,
  user_id      text        NOT NULL,
  day          date        NOT NULL,
  refusals     bigint      NOT NULL DEFAULT 1,
  event_id     bigint,
  last_attempt text        NOT NULL,
  first_at     timestamptz NOT NULL DEFAULT now(),
  last_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel, user_id, day)
);
