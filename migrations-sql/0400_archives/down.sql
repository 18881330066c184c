-- The archive catalog is the only index of the rows that were archived and then dropped from their tables: refuse to
-- drop it while it records any, unless the user says so (financehub.allow_data_loss = on for this session).
DO $fh$
DECLARE
  dropped bigint;
  archived_rows numeric;
BEGIN
  SELECT count(*), coalesce(sum(row_count), 0) INTO dropped, archived_rows FROM financehub.archives WHERE status = 'Dropped';
  IF dropped > 0 AND coalesce(current_setting('financehub.allow_data_loss', true), '') <> 'on' THEN
    RAISE EXCEPTION 'Migrating below ArchiveCatalog would drop financehub.archives, which records % archive(s) (% rows) whose rows exist only in their archive files', dropped, archived_rows
      USING HINT = 'Keep the migration, or copy financehub.archives somewhere first; to go ahead anyway, connect with '
                || 'Options=-c financehub.allow_data_loss=on (or PGOPTIONS="-c financehub.allow_data_loss=on").';
  END IF;
END
$fh$;
DROP FUNCTION IF EXISTS financehub.drop_archived_chunks(regclass, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS financehub.content_checksum(regclass, name, timestamptz, timestamptz);
