-- Materialize the aggregates over rows that were already there (a baselined or converted database): the refresh
-- policies only look back 7 / 30 days. NOT TRANSACTIONAL: refresh_continuous_aggregate commits as it goes and
-- cannot run inside a transaction block, so this runs on its own (suppressTransaction) and cannot be rolled back;
-- it only (re)computes aggregate rows, so running it again is safe.
--
-- The refresh policies created by the previous migration start at once, and since TimescaleDB 2.27 a refresh whose
-- window overlaps a running one fails (55P03) instead of waiting: financehub.refresh_continuous_aggregate_when_free
-- waits for a refresh under way instead, and a policy run that starts meanwhile is the one that fails (its job runs
-- again at its retry period). The policies themselves are left alone, scheduled as they are, whatever happens here.
DO $fh$
BEGIN
  IF financehub.timescale_license() = 'timescale' THEN
    CALL financehub.refresh_continuous_aggregate_when_free('asset_prices_hourly', NULL, now() - INTERVAL '1 hour');
    CALL financehub.refresh_continuous_aggregate_when_free('asset_prices_daily', NULL, now() - INTERVAL '1 hour');
  ELSE
    -- The watermark is the newest price time the refresh covers (read first), as for a continuous aggregate.
    UPDATE financehub.maintenance_policies
    SET materialized_through = (SELECT max(date) FROM asset_prices_historic),
        last_run_started_at = now(), last_run_finished_at = clock_timestamp(), last_run_status = 'Success'
    WHERE kind = 'Refresh' AND target IN ('asset_prices_hourly', 'asset_prices_daily');
    REFRESH MATERIALIZED VIEW asset_prices_hourly;
    REFRESH MATERIALIZED VIEW asset_prices_daily;
  END IF;
END
$fh$;
