-- Pending windows are still owed to the aggregates: refuse to forget them, unless the user says so.
DO $fh$
BEGIN
  IF EXISTS (SELECT 1 FROM financehub.pending_refreshes)
     AND coalesce(current_setting('financehub.allow_data_loss', true), '') <> 'on' THEN
    RAISE EXCEPTION 'Migrating below PendingRefreshes would forget % aggregate refresh window(s) still owed', (SELECT count(*) FROM financehub.pending_refreshes)
      USING HINT = 'Run financehub-data maintain first; to go ahead anyway, connect with Options=-c financehub.allow_data_loss=on.';
  END IF;
END
$fh$;
DROP TABLE IF EXISTS financehub.pending_refreshes;
