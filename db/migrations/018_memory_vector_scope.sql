-- The filtered vector search's own index (issue 9). When a kind/time filter leaves few memories
-- (under 10,000), the store ranks them all by exact distance. Through memories_scope_idx that read one
-- heap page per memory, ~1 µs each: 10 of a 13 ms search at 100k memories. This index holds every
-- column that ranking reads, the embedding included, so it runs as an index-only scan over about half
-- as many pages and no heap. The search takes ~40 % less time. It costs ~4 KB per memory on disk at
-- 512 dimensions: a 2 kB embedding, and a B-tree page fits only two such entries.
-- Only embeddings of up to 512 dimensions: a B-tree entry must fit in a third of a page (2,704 bytes),
-- and a larger one would make the insert fail. Larger embeddings are ranked through the heap, as before.
CREATE INDEX IF NOT EXISTS memories_scope_vector_idx ON memories (operator_id, kind, occurred_at)
  INCLUDE (id, expires_at, sensitivity, embedder, embedding_dim, embedding)
  WHERE superseded_by IS NULL AND embedding_dim <= 512;

-- An index-only scan reads the heap for pages not yet marked all-visible, and new memories are the ones
-- a "recent" filter asks for. Vacuum after 2 % new rows, not the default 20 %, to keep that rare.
ALTER TABLE memories SET (autovacuum_vacuum_insert_scale_factor = 0.02);
