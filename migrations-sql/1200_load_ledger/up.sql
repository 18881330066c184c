-- A load's refresh is owed before the load commits. A load (ingest, restore) records, in the same transaction as its
-- rows, one row per price aggregate whose `kind` is 'rows': [range_start, range_end] is the time span of the rows it
-- wrote. Completing it refreshes what those rows need (their buckets up to the aggregate's watermark, or to where
-- its refresh policy stops), then deletes it. The load completes its own rows after committing; whatever an
-- interruption leaves (a lost connection, a killed process) the next `financehub-data maintain`, or the same load run
-- again, completes, however old. 'window' rows, as before, are windows to refresh exactly as recorded.
ALTER TABLE financehub.pending_refreshes ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'window';
DO $fh$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'pending_refreshes_kind_check'
                 AND conrelid = 'financehub.pending_refreshes'::regclass) THEN
    ALTER TABLE financehub.pending_refreshes ADD CONSTRAINT pending_refreshes_kind_check CHECK (kind IN ('window', 'rows'));
  END IF;
END
$fh$;

-- Loads that committed, by the key the loader gave (a CLI load: the SHA-256 of its file). A parallel load commits
-- one transaction per stream, and each records its part of the attempt here in that transaction: a load run again
-- finds an attempt with every part (nothing left to load), none (load it), or only attempts with some parts (an
-- interruption between the streams' commits: the rest is loaded as a new attempt, keeping the rows that are there).
CREATE TABLE IF NOT EXISTS financehub.loads (
  load_key text NOT NULL,
  attempt uuid NOT NULL,
  part integer NOT NULL,
  parts integer NOT NULL,
  table_name text NOT NULL,
  rows_written bigint NOT NULL,
  first_time timestamptz,
  last_time timestamptz,
  loaded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (load_key, attempt, part),
  CHECK (part >= 0 AND part < parts)
);
