-- The keyed ledger: a chain the database's owner cannot rewrite quietly (README.md, "Append-only and
-- hash-chained").
--
-- The per-row hash chain of 007 is unkeyed: whoever can disable the triggers can edit a row and
-- recompute every hash after it with ledger_event_hash(). So Spine also writes, for each event, an
-- HMAC-SHA256 of its id and hash with a key kept outside the database (ledger/ledger-key.ts). The
-- database never sees that key, so neither this trigger nor its owner can compute a MAC: `spine log
-- --verify` recomputes them with the key. Each event's hash covers its predecessor's, so one valid
-- MAC vouches for everything before it.
--
-- MACs live in their own append-only table because an event's hash exists only once the insert
-- trigger has run, and events cannot be updated afterwards. Events that predate the key are sealed
-- by Spine's first pass, as they are then.
CREATE TABLE event_macs (
  event_id   bigint PRIMARY KEY,
  mac        text NOT NULL,
  sealed_at  timestamptz NOT NULL DEFAULT now()
);

-- The refusal names the table it guards (the text for `events` is unchanged).
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% are append-only: % on % is not allowed', TG_TABLE_NAME, TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Record a new event that corrects the old one instead of changing it.';
END
$$;

CREATE TRIGGER event_macs_append_only BEFORE UPDATE OR DELETE ON event_macs
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

CREATE TRIGGER event_macs_no_truncate BEFORE TRUNCATE ON event_macs
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- A row that arrives with its id and hashes (a dump reloaded through the trigger) was accepted as
-- it came, so anyone allowed to INSERT could add a well-chained row of their own making. Now a
-- restored event must bring the MAC Spine wrote for it, restored into event_macs first (pg_dump
-- orders `event_macs` before `events`). The trigger cannot check that MAC, having no key; `--verify`
-- does, and names a row whose MAC does not verify as a forged restore.
CREATE OR REPLACE FUNCTION ledger_chain_event() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path FROM CURRENT
  AS $$
DECLARE
  previous text;
  sealed boolean;
BEGIN
  IF NEW.id IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL THEN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.event_macs WHERE event_id = $1)', TG_TABLE_SCHEMA)
      INTO sealed USING NEW.id;
    IF NOT sealed THEN
      RAISE EXCEPTION 'event #% arrives with its own hashes (a restore) but without its MAC', NEW.id
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Restore event_macs before events; a new event is written without id and hashes.';
    END IF;
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
