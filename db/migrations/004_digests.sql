-- The daily digest (docs/queue.md "Daily digest"). One row per operator per local date: the unique
-- key is what makes the digest exactly-once across restarts, several workers and DST changes.
CREATE TABLE digests (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  operator_id  bigint NOT NULL REFERENCES operators(id),
  local_date   date   NOT NULL,
  -- 'sending' from the claim until the message is posted; a crash in between is finished by the retry.
  status       text   NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'sent')),
  -- Sent after its time because Spine was down then (the digest says so).
  late         boolean NOT NULL DEFAULT false,
  due_at       timestamptz NOT NULL,
  -- The period this digest covers: from the previous digest (or the operator's first day) to sent_at.
  since        timestamptz,
  message_ref  jsonb,
  summary      jsonb NOT NULL DEFAULT '{}',
  claimed_at   timestamptz NOT NULL DEFAULT now(),
  sent_at      timestamptz,
  UNIQUE (operator_id, local_date)
);

-- The digest lists memories that expire soon.
CREATE INDEX digest_memories_expiring_idx ON memories (operator_id, expires_at) WHERE expires_at IS NOT NULL;
