DROP FUNCTION IF EXISTS financehub.drop_archived_chunks(regclass, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS financehub.content_checksum(regclass, name, timestamptz, timestamptz);
