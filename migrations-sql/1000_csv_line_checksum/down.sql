-- Nothing is lost below this migration: archives keep their manifests, and coming back up makes the function again.
-- In between, this version's archives (content_checksum_algorithm csv-line-hash) cannot be verified or restored: an
-- older archiver computes the other checksum, refuses them as not matching, and archives a not yet dropped range again.
DROP FUNCTION IF EXISTS financehub.content_checksum_csv(regclass, name, timestamptz, timestamptz, name[], text);
