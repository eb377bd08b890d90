-- Alerts are delivered at least once: an alert whose post failed (chat down, a crash between the
-- insert and the post) is posted again by a later evaluation. `posting_at` is a short claim so
-- that two processes do not post the same alert at the same time; `post_attempts` bounds retries.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS posting_at timestamptz;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS post_attempts integer NOT NULL DEFAULT 0;
-- The message as posted (text, blocks, buttons), so a retry posts the same thing.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS post jsonb;
-- Alerts whose post failed before this migration have no stored message: they are not retried
-- (5 = the attempts ledger/alerts.ts allows).
UPDATE alerts SET post_attempts = 5 WHERE message_ref IS NULL;
CREATE INDEX IF NOT EXISTS alerts_undelivered_idx ON alerts (fired_at) WHERE message_ref IS NULL;
