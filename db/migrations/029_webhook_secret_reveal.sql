-- Playbook webhook secrets are shown once, in the web console (never in chat): when it was shown.
-- Delivery ids need no table of their own: trigger_events is unique on (source, external id), and
-- a webhook's external id is "<playbook>:<X-Spine-Delivery>", so a delivery id runs at most once.
ALTER TABLE playbooks ADD COLUMN IF NOT EXISTS webhook_secret_shown_at timestamptz;

COMMENT ON COLUMN playbooks.webhook_secret IS
  'HMAC-SHA256 key of the playbook webhook URL; shown once in the web console, never in chat.';
