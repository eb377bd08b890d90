-- The ledger's chaining trigger calls ledger_genesis_hash() and ledger_event_hash() by name, so an
-- insert into events from a session whose search_path does not include this schema (psql with
-- schema-qualified names, an operator's repair script) failed with "function ... does not exist".
-- The trigger function keeps this migration's search_path (the schema, then public), as migration
-- 019's functions do.
ALTER FUNCTION ledger_chain_event() SET search_path FROM CURRENT;
