-- Materialize the aggregates over rows that were already there (a baselined or converted database): the refresh
-- policies only look back 7 / 30 days. NOT TRANSACTIONAL: refresh_continuous_aggregate commits as it goes and
-- cannot run inside a transaction block, so this runs on its own (suppressTransaction) and cannot be rolled back;
-- it only (re)computes aggregate rows, so running it again is safe.
--
-- The refresh policies created by the previous migration start at once, and since TimescaleDB 2.27 a refresh whose
-- window overlaps a running one fails (55P03) instead of waiting. So their next run is postponed (committed, so the
-- scheduler sees it), a run already under way is waited for, and they are due again right after. Were this step to
-- fail, the policies still run at the postponed time: nothing stays switched off.
DO $fh$
DECLARE
  policy_jobs integer[];
  waited integer := 0;
BEGIN
  IF financehub.timescale_license() = 'timescale' THEN
    SELECT coalesce(array_agg(j.job_id), '{}') INTO policy_jobs
    FROM timescaledb_information.jobs j
    JOIN timescaledb_information.continuous_aggregates ca
      -- Since 2.20 the jobs view names the aggregate; before, its materialization hypertable.
      ON (j.hypertable_schema, j.hypertable_name) IN ((ca.view_schema, ca.view_name),
                                                     (ca.materialization_hypertable_schema, ca.materialization_hypertable_name))
    WHERE j.proc_name = 'policy_refresh_continuous_aggregate' AND ca.view_name IN ('asset_prices_hourly', 'asset_prices_daily');
    PERFORM alter_job(id, next_start => now() + INTERVAL '1 hour') FROM unnest(policy_jobs) AS id;
    COMMIT;
    WHILE waited < 500 AND EXISTS (SELECT 1 FROM timescaledb_information.job_stats
                                    WHERE job_id = ANY (policy_jobs) AND job_status = 'Running') LOOP
      PERFORM pg_sleep(0.05);
      waited := waited + 1;
    END LOOP;
    CALL refresh_continuous_aggregate('asset_prices_hourly', NULL, now() - INTERVAL '1 hour');
    CALL refresh_continuous_aggregate('asset_prices_daily', NULL, now() - INTERVAL '1 hour');
    PERFORM alter_job(id, next_start => now()) FROM unnest(policy_jobs) AS id;
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
