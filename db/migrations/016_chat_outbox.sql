-- Queue mode: the chat messages worker processes send. Chat adapters live in the main process, so
-- a worker inserts each message here (the durable hand-over) and a main process with an adapter
-- for the channel delivers the rows in id order. A post's `ref` is the name the worker gave it
-- (`relay-<uuid>`); `platform_ref` is the real message it became, so a later update of that name
-- (an approval card after the decision) edits the right message, whichever process delivers it.
CREATE TABLE IF NOT EXISTS chat_outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  channel text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('post', 'update')),
  -- post: the thread to post in; update: NULL.
  thread jsonb,
  -- post: the relay name the worker returned; update: the message to replace (relay name or real).
  ref jsonb NOT NULL,
  message jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  platform_ref jsonb,
  -- Counted when an attempt starts, so a message that crashes its deliverer is not retried forever.
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  -- When the last attempt started (the retry back-off counts from here).
  claimed_at timestamptz,
  -- Set when delivery failed for good (attempts used up, or an update of a message never shown).
  given_up_at timestamptz
);
CREATE INDEX IF NOT EXISTS chat_outbox_undelivered_idx ON chat_outbox (id)
  WHERE delivered_at IS NULL AND given_up_at IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS chat_outbox_relay_idx ON chat_outbox ((ref ->> 'messageId'))
  WHERE kind = 'post';
CREATE INDEX IF NOT EXISTS chat_outbox_created_idx ON chat_outbox (created_at);
