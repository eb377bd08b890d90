-- The ledger: events become append-only and hash-chained, so tampering is detectable
-- (`spine log --verify`, ledger/hash-chain.ts).
--
-- Each event stores the hash of its predecessor (by id) and its own hash:
--   hash = sha256(prev_hash || canonical text of the row)
-- The canonical text is a JSON array of the columns in a fixed order, with `at` as epoch
-- microseconds so that neither TimeZone nor DateStyle changes it. Only Postgres built-ins are used
-- (no pgcrypto), so it runs on PGlite as on a server.

ALTER TABLE events ADD COLUMN prev_hash text;
ALTER TABLE events ADD COLUMN hash text;

-- The genesis link: the first event's predecessor.
CREATE FUNCTION ledger_genesis_hash() RETURNS text
  LANGUAGE sql IMMUTABLE AS $$ SELECT repeat('0', 64) $$;

-- The hash of one event given its predecessor's hash. Used by the trigger and by verification.
CREATE FUNCTION ledger_event_hash(
  prev_hash text, id bigint, at timestamptz, operator_id bigint, actor text, verb text, object text,
  why text, ref text, goal_id bigint, action_id bigint, channel text, payload jsonb
) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
  SELECT encode(sha256(convert_to(prev_hash || jsonb_build_array(
    id, (extract(epoch FROM at) * 1000000)::bigint, operator_id, actor, verb, object, why, ref,
    goal_id, action_id, channel, payload
  )::text, 'UTF8')), 'hex')
$$;

-- Backfill existing events in id order, each linked to the one before.
DO $$
DECLARE
  previous text := ledger_genesis_hash();
  row_ record;
BEGIN
  FOR row_ IN SELECT * FROM events ORDER BY id LOOP
    UPDATE events SET prev_hash = previous,
      hash = ledger_event_hash(previous, row_.id, row_.at, row_.operator_id, row_.actor, row_.verb,
        row_.object, row_.why, row_.ref, row_.goal_id, row_.action_id, row_.channel, row_.payload)
      WHERE id = row_.id
      RETURNING hash INTO previous;
  END LOOP;
END
$$;

ALTER TABLE events ALTER COLUMN prev_hash SET NOT NULL;
ALTER TABLE events ALTER COLUMN hash SET NOT NULL;

-- The id is drawn by the trigger under the lock, not by a column default: a default is drawn before
-- the lock is taken, and two concurrent appends could then commit in the opposite order of their
-- ids, which would break the chain's order.
ALTER TABLE events ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE events_id_seq OWNED BY events.id;
SELECT setval('events_id_seq', COALESCE((SELECT max(id) FROM events), 0) + 1, false);

-- Chain each new event to the newest one. The transaction-scoped advisory lock serialises appends
-- (per schema) until commit.
CREATE FUNCTION ledger_chain_event() RETURNS trigger
  LANGUAGE plpgsql AS $$
DECLARE
  previous text;
BEGIN
  -- A row that arrives with its id and hashes is a restore (pg_dump's COPY fires this trigger):
  -- keep it as it was. It gains nothing to forge one: --verify recomputes every hash and link.
  IF NEW.id IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL THEN
    RETURN NEW;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('spine:ledger:' || TG_TABLE_SCHEMA));
  NEW.id := nextval(format('%I.events_id_seq', TG_TABLE_SCHEMA)::regclass);
  EXECUTE format('SELECT hash FROM %I.%I ORDER BY id DESC LIMIT 1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
    INTO previous;
  NEW.prev_hash := COALESCE(previous, ledger_genesis_hash());
  NEW.hash := ledger_event_hash(NEW.prev_hash, NEW.id, NEW.at, NEW.operator_id, NEW.actor, NEW.verb,
    NEW.object, NEW.why, NEW.ref, NEW.goal_id, NEW.action_id, NEW.channel, NEW.payload);
  RETURN NEW;
END
$$;

CREATE TRIGGER events_chain BEFORE INSERT ON events
  FOR EACH ROW EXECUTE FUNCTION ledger_chain_event();

CREATE FUNCTION ledger_refuse_change() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events are append-only: % on events is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Record a new event that corrects the old one instead of changing it.';
END
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
