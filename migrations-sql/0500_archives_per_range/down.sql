-- Going back to one archive per table and range cannot keep further archives of a range (late rows archived after
-- the range was dropped): refuse, naming them, rather than fail on the unique index or lose catalog entries.
DO $fh$
DECLARE
  ranges text;
BEGIN
  SELECT string_agg(format('%s [%s, %s) x%s', table_name, range_start, range_end, n), '; ') INTO ranges
  FROM (SELECT table_name, range_start, range_end, count(*) AS n FROM financehub.archives
        GROUP BY 1, 2, 3 HAVING count(*) > 1 ORDER BY 1, 2 LIMIT 20) d;
  IF ranges IS NOT NULL THEN
    RAISE EXCEPTION 'Cannot migrate below ArchivesPerRange: these ranges have more than one archive, which the older catalog cannot hold: %', ranges
      USING HINT = 'Keep this migration, or merge those archives by hand (restore them and archive each range again) first.';
  END IF;
END
$fh$;
