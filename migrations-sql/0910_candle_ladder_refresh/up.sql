-- Materialize the candle ladder over what the daily and hourly aggregates already hold (the rungs' policies only look
-- back 7 days to 3 months). Community edition only: on the Apache edition the views were created with their data.
-- NOT TRANSACTIONAL, like 0300_price_aggregates_refresh (and for the same reasons: refresh_continuous_aggregate
-- cannot run in a transaction block, and since TimescaleDB 2.27 a refresh overlapping a policy's run fails with 55P03,
-- so each refresh waits for one under way, financehub.refresh_continuous_aggregate_when_free; the policies are left alone).
-- A rung is refreshed no further than its parent's watermark (so it never holds a candle its parent has not
-- finished; the repository reads that one from the parent). It only (re)computes aggregate rows: running it again is safe.
DO $fh$
DECLARE
  rung record;
  parent_watermark timestamptz;
BEGIN
  IF financehub.timescale_license() = 'timescale' THEN
    FOR rung IN SELECT * FROM (VALUES ('asset_prices_4hour', 'asset_prices_hourly'), ('asset_prices_weekly', 'asset_prices_daily'),
                                      ('asset_prices_monthly', 'asset_prices_daily')) AS r (view_name, parent) LOOP
      SELECT _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id)) INTO parent_watermark
      FROM _timescaledb_catalog.continuous_agg c WHERE c.user_view_name = rung.parent;
      -- With nothing materialized the watermark is the lowest time there is: nothing to roll up.
      IF parent_watermark > '1900-01-01' THEN
        CALL financehub.refresh_continuous_aggregate_when_free(rung.view_name::regclass, NULL, least(now() - INTERVAL '1 hour', parent_watermark));
      END IF;
    END LOOP;
  END IF;
END
$fh$;
