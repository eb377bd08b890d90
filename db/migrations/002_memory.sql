-- Memory: layered retrieval with provenance (issue 9).
-- Embeddings keep the `vector` type without a dimension (the embedder decides it); each row records
-- the embedder and dimension, and an HNSW index is built per dimension on an expression cast
-- (`embedding::vector(D)`, partial on `embedding_dim = D`) by the memory store when it starts.

ALTER TABLE memories ADD COLUMN context text;
ALTER TABLE memories ADD COLUMN embedder text;
ALTER TABLE memories ADD COLUMN embedding_dim integer;
ALTER TABLE memories ADD COLUMN document_id bigint REFERENCES memories(id) ON DELETE CASCADE;
ALTER TABLE memories ADD COLUMN chunk_index integer;
ALTER TABLE memories ADD COLUMN thread_ref text;
-- Keep vectors in the row, never in TOAST: a toasted vector makes sequential scans look cheap to the
-- planner (it skips the HNSW index) and slow in fact. Limits embeddings to about 1,900 dimensions.
ALTER TABLE memories ALTER COLUMN embedding SET STORAGE PLAIN;

-- Full text over the memory's own text (weight A) and its context (weight C): neighbouring turns,
-- a document's title. Replaces 001's tsv, which only saw `content`.
DROP INDEX IF EXISTS memories_tsv_idx;
ALTER TABLE memories DROP COLUMN tsv;
ALTER TABLE memories ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
  setweight(to_tsvector('english', content), 'A') ||
  setweight(to_tsvector('english', coalesce(context, '')), 'C')
) STORED;
CREATE INDEX memories_tsv_idx ON memories USING gin (tsv);

CREATE INDEX memories_scope_idx ON memories (operator_id, kind, occurred_at) WHERE superseded_by IS NULL;
CREATE INDEX memories_expiry_idx ON memories (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX memories_document_idx ON memories (document_id, chunk_index) WHERE document_id IS NOT NULL;
CREATE INDEX memories_goal_idx ON memories (goal_id) WHERE goal_id IS NOT NULL;
CREATE INDEX memories_reembed_idx ON memories (embedder, id);

-- Which embedder the memories are embedded with. One row is `active`; a row `pending` is the target
-- of a re-embed job, with its progress.
CREATE TABLE memory_embedders (
  id           text PRIMARY KEY,
  dimension    integer NOT NULL,
  state        text NOT NULL CHECK (state IN ('active', 'pending', 'retired')),
  done         integer NOT NULL DEFAULT 0,
  total        integer NOT NULL DEFAULT 0,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX memory_embedders_one_active ON memory_embedders (state) WHERE state = 'active';

-- `forget <query>` asks before deleting: the request lists what would go, and waits for a confirmation.
CREATE TABLE memory_forget_requests (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  operator_id  bigint NOT NULL REFERENCES operators(id),
  query        text   NOT NULL,
  memory_ids   bigint[] NOT NULL,
  status       text   NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'cancelled')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  decided_at   timestamptz
);
