-- What a connector saved with an action before its effect (ExecutionContext.checkpoint), by name:
-- state the effect itself destroys and undo needs, such as a calendar event's time before a move.
-- A retry after a crash gets the saved value back instead of reading the changed world.
ALTER TABLE actions ADD COLUMN IF NOT EXISTS checkpoints jsonb NOT NULL DEFAULT '{}'::jsonb;
