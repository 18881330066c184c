-- Community edition: TimescaleDB's scheduler completes what loads owe the aggregates, as maintain does (both
-- editions), without anyone running maintain. financehub.complete_owed_refreshes runs as a job every five minutes: for
-- each 'rows' record of financehub.pending_refreshes (the time span of rows a load wrote, recorded in the load's own
-- transaction) it refreshes what those rows need, decided against the aggregate's watermark now, then deletes the
-- record. The rule is the one the loads themselves apply after their commit:
--   * rows below the watermark: their buckets, up to the watermark;
--   * a watermark below the refresh policy's reach (nothing materialized there yet): from the rows up to where the
--     policy stops (an hour before now);
--   * otherwise the rows are the policy's, and nothing is refreshed here.
-- Never before the oldest raw chunk (those buckets would be recomputed from nothing and deleted). The candle ladder's
-- rungs over the aggregate are refreshed over the same window widened to their whole candles, never past the
-- parent's watermark or an hour before now (candles they already hold are recomputed). A refresh that meets one under
-- way (55P03) fails the run; the record stays, and the next run (or maintain) completes it.
DO $fh$
BEGIN
  IF financehub.timescale_license() <> 'timescale' THEN
    RETURN;
  END IF;
  EXECUTE $ddl$
    CREATE OR REPLACE PROCEDURE financehub.complete_owed_refreshes(job_id integer DEFAULT NULL, config jsonb DEFAULT NULL)
    LANGUAGE plpgsql AS $proc$
    DECLARE
      r record;
      rung record;
      width interval;
      agg record;
      mark timestamptz;
      rung_mark timestamptz;
      reach interval;
      floor_at timestamptz;
      first timestamptz;
      last timestamptz;
      rung_first timestamptz;
      rung_last timestamptz;
      rung_cap timestamptz;
    BEGIN
      FOR r IN SELECT p.id, p.view_name, p.range_start, p.range_end FROM financehub.pending_refreshes p
               WHERE p.kind = 'rows' AND p.range_start IS NOT NULL AND p.range_end IS NOT NULL ORDER BY p.id LOOP
        width := CASE r.view_name WHEN 'asset_prices_hourly' THEN interval '1 hour' WHEN 'asset_prices_daily' THEN interval '1 day' END;
        SELECT c.mat_hypertable_id,
               nullif(greatest(_timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id)),
                               '0001-01-01 00:00:00+00'::timestamptz), '0001-01-01 00:00:00+00'::timestamptz) AS watermark
          INTO agg
          FROM _timescaledb_catalog.continuous_agg c
          WHERE c.user_view_schema = current_schema() AND c.user_view_name = r.view_name;
        SELECT min(range_start) INTO floor_at FROM timescaledb_information.chunks
          WHERE hypertable_schema = current_schema() AND hypertable_name = 'asset_prices_historic';
        IF width IS NOT NULL AND agg.mat_hypertable_id IS NOT NULL AND floor_at IS NOT NULL THEN
          mark := agg.watermark;
          SELECT (j.config->>'start_offset')::interval INTO reach FROM _timescaledb_config.bgw_job j
            WHERE j.proc_name = 'policy_refresh_continuous_aggregate' AND j.hypertable_id = agg.mat_hypertable_id;
          first := time_bucket(width, r.range_start);
          last := NULL;
          IF reach IS NOT NULL AND (mark IS NULL OR mark < now() - reach) THEN
            IF mark IS NOT NULL AND mark < r.range_start THEN
              first := time_bucket(width, mark);
            END IF;
            last := time_bucket(width, now() - interval '1 hour');
          ELSIF mark IS NOT NULL AND r.range_start < mark THEN
            last := least(time_bucket(width, r.range_end) + width, mark);
          END IF;
          first := greatest(first, floor_at);
          IF last IS NOT NULL AND first + width <= last THEN
            CALL refresh_continuous_aggregate(r.view_name::regclass, first, last);
            SELECT nullif(greatest(_timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(agg.mat_hypertable_id)),
                                   '0001-01-01 00:00:00+00'::timestamptz), '0001-01-01 00:00:00+00'::timestamptz) INTO mark;
            FOR rung IN SELECT l.view_name::text AS view_name, l.width FROM financehub.candle_ladder l
                        WHERE l.parent = r.view_name::regclass ORDER BY l.width LOOP
              rung_cap := time_bucket(rung.width, least(coalesce(mark, '-infinity'), now() - interval '1 hour'));
              SELECT nullif(greatest(_timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id)),
                                     '0001-01-01 00:00:00+00'::timestamptz), '0001-01-01 00:00:00+00'::timestamptz)
                INTO rung_mark FROM _timescaledb_catalog.continuous_agg c
                WHERE c.user_view_schema = current_schema() AND c.user_view_name = rung.view_name;
              IF rung_mark IS NOT NULL AND rung_mark > rung_cap THEN
                rung_cap := rung_mark;
              END IF;
              rung_first := time_bucket(rung.width, first);
              rung_last := least(time_bucket(rung.width, last - interval '1 microsecond') + rung.width, rung_cap);
              IF rung_first + rung.width <= rung_last THEN
                CALL refresh_continuous_aggregate(rung.view_name::regclass, rung_first, rung_last);
              END IF;
            END LOOP;
          END IF;
        END IF;
        DELETE FROM financehub.pending_refreshes WHERE id = r.id;
        COMMIT;
      END LOOP;
    END
    $proc$
  $ddl$;
  IF NOT EXISTS (SELECT 1 FROM timescaledb_information.jobs WHERE proc_schema = 'financehub' AND proc_name = 'complete_owed_refreshes') THEN
    PERFORM add_job('financehub.complete_owed_refreshes', interval '5 minutes');
  END IF;
END
$fh$;
