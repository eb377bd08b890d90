-- Deliveries whose work takes long (a shared file being read into memory) hold their inbox row
-- under a lease that the working process renews. NULL: done (the first delivery wins, as before).
-- A lease that lapsed belongs to a process that crashed mid-work: a redelivery takes it over.
ALTER TABLE inbox ADD COLUMN IF NOT EXISTS lease_until timestamptz;
