-- Refuses while a load's refresh is still owed: dropping the record would leave candles without the load's rows.
DO $fh$
BEGIN
  IF EXISTS (SELECT 1 FROM financehub.pending_refreshes WHERE kind = 'rows')
     AND coalesce(current_setting('financehub.allow_data_loss', true), '') <> 'on' THEN
    RAISE EXCEPTION 'financehub.pending_refreshes records loads whose aggregate refresh is still owed'
      USING HINT = 'Run financehub-data maintain first (it completes them), or SET financehub.allow_data_loss = on to drop them.';
  END IF;
END
$fh$;
DELETE FROM financehub.pending_refreshes WHERE kind = 'rows';
ALTER TABLE financehub.pending_refreshes DROP CONSTRAINT IF EXISTS pending_refreshes_kind_check;
ALTER TABLE financehub.pending_refreshes DROP COLUMN IF EXISTS kind;
DROP TABLE IF EXISTS financehub.loads;
