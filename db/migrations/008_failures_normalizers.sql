-- Failures as first-class objects: which remedy closed a failure and who chose it.
ALTER TABLE failures ADD COLUMN IF NOT EXISTS remedy text;
ALTER TABLE failures ADD COLUMN IF NOT EXISTS resolved_by text;

-- Normalizers: `spine renormalize` replays the normalisation events of one normalizer.
CREATE INDEX IF NOT EXISTS events_normalised_idx ON events ((payload->>'normalizer'), id)
  WHERE verb = 'normalised';
-- One normalisation event per fact written, and one renormalisation per new fact version: a
-- repeated write (a job run twice, Confirm tapped twice) cannot record its history twice.
CREATE UNIQUE INDEX IF NOT EXISTS events_normalisation_fact_idx ON events (verb, (payload->>'factId'))
  WHERE verb IN ('normalised', 'renormalised');
