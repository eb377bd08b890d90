-- Sketches of the embeddings, for ranking many memories fast (issue 9).
-- A sketch is 1,024 sign bits of random rotations of an embedding (memory/vector-sketch.ts): the
-- Hamming distance of two sketches ranks memories nearly as their cosine distance does, and an
-- index entry holding one is 128 bytes where the 16-bit embedding is 1 kB. A filtered search ranks
-- the memories that pass the filter by Hamming distance in an index-only scan of
-- memory_vectors_sketch_idx, then computes the exact distance of the best 400.
--
-- The store computes the sketch (Postgres cannot rotate a vector) and writes it with the memory
-- (memories.embedding_sketch); the triggers copy it to memory_vectors with the 16-bit embedding.
-- Memories stored before this migration get theirs from the store's background fill, written to
-- memory_vectors only (writing memories again would update every index, the HNSW graph too).

ALTER TABLE memories ADD COLUMN IF NOT EXISTS embedding_sketch bit(1024);
ALTER TABLE memory_vectors ADD COLUMN IF NOT EXISTS sketch bit(1024);

-- A sketch belongs to one embedding: an update that changes a memory's embedding and not its
-- sketch (a script, an older process) clears the sketch rather than leave a wrong one.
CREATE OR REPLACE FUNCTION memories_clear_stale_sketch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.embedding IS DISTINCT FROM OLD.embedding
     AND NEW.embedding_sketch IS NOT DISTINCT FROM OLD.embedding_sketch THEN
    NEW.embedding_sketch := NULL;
  END IF;
  RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS memories_sketch_stale ON memories;
CREATE TRIGGER memories_sketch_stale BEFORE UPDATE OF embedding ON memories
  FOR EACH ROW EXECUTE FUNCTION memories_clear_stale_sketch();

-- Migration 019's copy, now with the sketch. The copy keeps its sketch while the embedding is the
-- same and the memory brings none (a memory stored before this migration, whose sketch the fill
-- wrote here only); a new embedding brings its own sketch or none.
CREATE OR REPLACE FUNCTION memories_sync_vectors() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    TRUNCATE memory_vectors;
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' THEN
    DELETE FROM memory_vectors v USING changed c WHERE v.memory_id = c.id;
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    DELETE FROM memory_vectors v USING changed c WHERE v.memory_id = c.id
      AND NOT memories_copies_embedding(c.embedding, c.embedder, c.embedding_dim);
  END IF;
  INSERT INTO memory_vectors AS v (memory_id, operator_id, kind, occurred_at, superseded_by, expires_at,
                                   sensitivity, source, embedder, embedding_dim, embedding, sketch)
  SELECT c.id, c.operator_id, c.kind, c.occurred_at, c.superseded_by, c.expires_at, c.sensitivity,
         c.source, c.embedder, c.embedding_dim, c.embedding::halfvec, c.embedding_sketch
  FROM changed c
  WHERE memories_copies_embedding(c.embedding, c.embedder, c.embedding_dim)
  ON CONFLICT (memory_id) DO UPDATE SET
    operator_id = EXCLUDED.operator_id, kind = EXCLUDED.kind, occurred_at = EXCLUDED.occurred_at,
    superseded_by = EXCLUDED.superseded_by, expires_at = EXCLUDED.expires_at,
    sensitivity = EXCLUDED.sensitivity, source = EXCLUDED.source, embedder = EXCLUDED.embedder,
    embedding_dim = EXCLUDED.embedding_dim, embedding = EXCLUDED.embedding,
    sketch = CASE WHEN v.embedding IS DISTINCT FROM EXCLUDED.embedding THEN EXCLUDED.sketch
                  ELSE coalesce(EXCLUDED.sketch, v.sketch) END
  -- An update of other columns (content, metadata) leaves the copy as it is.
  WHERE (v.operator_id, v.kind, v.occurred_at, v.superseded_by, v.expires_at, v.sensitivity, v.source,
         v.embedder, v.embedding_dim, v.embedding)
    IS DISTINCT FROM (EXCLUDED.operator_id, EXCLUDED.kind, EXCLUDED.occurred_at, EXCLUDED.superseded_by,
         EXCLUDED.expires_at, EXCLUDED.sensitivity, EXCLUDED.source, EXCLUDED.embedder,
         EXCLUDED.embedding_dim, EXCLUDED.embedding)
    OR (EXCLUDED.sketch IS NOT NULL AND EXCLUDED.sketch IS DISTINCT FROM v.sketch);
  RETURN NULL;
END
$$;

-- What the sketch ranking reads, in an index-only scan: migration 019's scope index with the
-- sketch in place of the embedding (~210 bytes an entry instead of ~1.1 kB).
CREATE INDEX IF NOT EXISTS memory_vectors_sketch_idx ON memory_vectors (operator_id, kind, occurred_at)
  INCLUDE (memory_id, expires_at, sensitivity, embedder, embedding_dim, sketch)
  WHERE superseded_by IS NULL;
-- The copies still without a sketch, for the fill (empty once it is done).
CREATE INDEX IF NOT EXISTS memory_vectors_unsketched_idx ON memory_vectors (memory_id) WHERE sketch IS NULL;
