-- Keep a memory's row whole in its page (issue 9). Postgres moves a row's largest compressible values
-- (its full-text vector, its text) out to the TOAST table until the row is under about 2 kB. A
-- 512-dimension embedding alone is 2 kB and cannot move, so nearly every memory lost its `tsv` that
-- way, and ranking a word's matches read the vector back from TOAST once for every query word
-- (ts_rank): about 18 buffers a memory instead of one. Rows up to 8,160 bytes now stay whole.
-- Rows written from now on; a memory stored before this migration moves back when it is updated.
ALTER TABLE memories SET (toast_tuple_target = 8160);
