-- The sketches in a narrow table of their own (issue 9).
-- Migration 021 ranked sketches in an index-only scan of memory_vectors_sketch_idx. Such a scan
-- still asks the visibility map about every entry's heap page, and memory_vectors rows are ~1.3 kB
-- (they hold the 16-bit embedding): at 1M memories its heap spans six map pages, and an index read
-- in time order visits the heap in the order the memories were stored, so nearly every entry went
-- to another map page (63,000 of the 64,000 buffers a kind + 90-day ranking read were map pages).
-- memory_sketches holds the same rows without the embedding (~230 bytes): 1M memories fit under one
-- map page, and that ranking reads ~2,300 buffers and takes a third less time.
--
-- memory_vectors stays what the triggers of 019 and 021 keep in step with memories (with the rule
-- that a copy keeps the sketch the fill wrote while its embedding is the same); memory_sketches
-- follows memory_vectors through the triggers below, so the fill (which writes memory_vectors)
-- reaches it too.

CREATE TABLE IF NOT EXISTS memory_sketches (
  memory_id     bigint      PRIMARY KEY,
  operator_id   bigint      NOT NULL,
  kind          text        NOT NULL,
  occurred_at   timestamptz NOT NULL,
  superseded_by bigint,
  expires_at    timestamptz,
  sensitivity   text        NOT NULL,
  source        text        NOT NULL,
  embedder      text        NOT NULL,
  embedding_dim integer     NOT NULL,
  sketch        bit(1024)
);

CREATE OR REPLACE FUNCTION memory_vectors_sync_sketches() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    TRUNCATE memory_sketches;
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' THEN
    DELETE FROM memory_sketches s USING changed c WHERE s.memory_id = c.memory_id;
    RETURN NULL;
  END IF;
  INSERT INTO memory_sketches AS s (memory_id, operator_id, kind, occurred_at, superseded_by, expires_at,
                                    sensitivity, source, embedder, embedding_dim, sketch)
  SELECT c.memory_id, c.operator_id, c.kind, c.occurred_at, c.superseded_by, c.expires_at, c.sensitivity,
         c.source, c.embedder, c.embedding_dim, c.sketch
  FROM changed c
  ON CONFLICT (memory_id) DO UPDATE SET
    operator_id = EXCLUDED.operator_id, kind = EXCLUDED.kind, occurred_at = EXCLUDED.occurred_at,
    superseded_by = EXCLUDED.superseded_by, expires_at = EXCLUDED.expires_at,
    sensitivity = EXCLUDED.sensitivity, source = EXCLUDED.source, embedder = EXCLUDED.embedder,
    embedding_dim = EXCLUDED.embedding_dim, sketch = EXCLUDED.sketch
  -- A change of the 16-bit embedding alone (its sketch unchanged) leaves the row as it is.
  WHERE (s.operator_id, s.kind, s.occurred_at, s.superseded_by, s.expires_at, s.sensitivity, s.source,
         s.embedder, s.embedding_dim, s.sketch)
    IS DISTINCT FROM (EXCLUDED.operator_id, EXCLUDED.kind, EXCLUDED.occurred_at, EXCLUDED.superseded_by,
         EXCLUDED.expires_at, EXCLUDED.sensitivity, EXCLUDED.source, EXCLUDED.embedder,
         EXCLUDED.embedding_dim, EXCLUDED.sketch);
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS memory_vectors_sketches_insert ON memory_vectors;
DROP TRIGGER IF EXISTS memory_vectors_sketches_update ON memory_vectors;
DROP TRIGGER IF EXISTS memory_vectors_sketches_delete ON memory_vectors;
DROP TRIGGER IF EXISTS memory_vectors_sketches_truncate ON memory_vectors;
CREATE TRIGGER memory_vectors_sketches_insert AFTER INSERT ON memory_vectors
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION memory_vectors_sync_sketches();
CREATE TRIGGER memory_vectors_sketches_update AFTER UPDATE ON memory_vectors
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION memory_vectors_sync_sketches();
CREATE TRIGGER memory_vectors_sketches_delete AFTER DELETE ON memory_vectors
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION memory_vectors_sync_sketches();
CREATE TRIGGER memory_vectors_sketches_truncate AFTER TRUNCATE ON memory_vectors
  FOR EACH STATEMENT EXECUTE FUNCTION memory_vectors_sync_sketches();

-- The copies made before (4.6 s for 1,000,000 on a 2-core server, with the index below).
INSERT INTO memory_sketches (memory_id, operator_id, kind, occurred_at, superseded_by, expires_at,
                             sensitivity, source, embedder, embedding_dim, sketch)
SELECT memory_id, operator_id, kind, occurred_at, superseded_by, expires_at, sensitivity, source,
       embedder, embedding_dim, sketch
FROM memory_vectors
ON CONFLICT (memory_id) DO NOTHING;

-- What the sketch ranking reads, in an index-only scan (021's index, on the narrow table).
CREATE INDEX IF NOT EXISTS memory_sketches_scope_idx ON memory_sketches (operator_id, kind, occurred_at)
  INCLUDE (memory_id, expires_at, sensitivity, embedder, embedding_dim, sketch)
  WHERE superseded_by IS NULL;
DROP INDEX IF EXISTS memory_vectors_sketch_idx;
