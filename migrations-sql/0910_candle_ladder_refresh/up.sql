-- Materialize the candle ladder over what the daily and hourly aggregates already hold (the rungs' policies only look
-- back 7 days to 3 months). Community edition only: on the Apache edition the views were created with their data.
-- NOT TRANSACTIONAL, like 0300_price_aggregates_refresh (and for the same reasons: refresh_continuous_aggregate
-- cannot run in a transaction block, and since TimescaleDB 2.27 a refresh overlapping a policy's run fails with 55P03,
-- so the rungs' new policies are postponed, a run under way is waited for, and they are due again right after).
-- A rung is refreshed no further than its parent's watermark (so it never holds a candle its parent has not
-- finished; the repository reads that one from the parent). It only (re)computes aggregate rows: running it again is safe.
DO $fh$
DECLARE
  policy_jobs integer[];
  waited integer := 0;
  rung record;
  parent_watermark timestamptz;
BEGIN
  IF financehub.timescale_license() = 'timescale' THEN
    SELECT coalesce(array_agg(j.job_id), '{}') INTO policy_jobs
    FROM timescaledb_information.jobs j
    JOIN timescaledb_information.continuous_aggregates ca
      -- Since 2.20 the jobs view names the aggregate; before, its materialization hypertable.
      ON (j.hypertable_schema, j.hypertable_name) IN ((ca.view_schema, ca.view_name),
                                                     (ca.materialization_hypertable_schema, ca.materialization_hypertable_name))
    WHERE j.proc_name = 'policy_refresh_continuous_aggregate'
      AND ca.view_name IN ('asset_prices_4hour', 'asset_prices_weekly', 'asset_prices_monthly');
    PERFORM alter_job(id, next_start => now() + INTERVAL '1 hour') FROM unnest(policy_jobs) AS id;
    COMMIT;
    WHILE waited < 500 AND EXISTS (SELECT 1 FROM timescaledb_information.job_stats
                                    WHERE job_id = ANY (policy_jobs) AND job_status = 'Running') LOOP
      PERFORM pg_sleep(0.05);
      waited := waited + 1;
    END LOOP;
    FOR rung IN SELECT * FROM (VALUES ('asset_prices_4hour', 'asset_prices_hourly'), ('asset_prices_weekly', 'asset_prices_daily'),
                                      ('asset_prices_monthly', 'asset_prices_daily')) AS r (view_name, parent) LOOP
      SELECT _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id)) INTO parent_watermark
      FROM _timescaledb_catalog.continuous_agg c WHERE c.user_view_name = rung.parent;
      -- With nothing materialized the watermark is the lowest time there is: nothing to roll up.
      IF parent_watermark > '1900-01-01' THEN
        CALL refresh_continuous_aggregate(rung.view_name::regclass, NULL, least(now() - INTERVAL '1 hour', parent_watermark));
      END IF;
    END LOOP;
    PERFORM alter_job(id, next_start => now()) FROM unnest(policy_jobs) AS id;
  END IF;
END
$fh$;
