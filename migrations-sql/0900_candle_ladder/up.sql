-- The candle ladder: 4-hour candles from the hourly aggregate, weekly (ISO weeks, Monday 00:00 UTC: time_bucket's
-- default origin is Monday 2000-01-03) and monthly (calendar months, UTC) candles from the daily one. Rolled up the
-- way the rows were: open = first(open), high = max, low = min, close = last(close), volume and trade_count summed.
--
-- Community edition: continuous aggregates on continuous aggregates (hierarchical, TimescaleDB 2.9+), real-time,
-- refreshed by policies whose windows cover at least two of their buckets. They read their parent's rows, never the
-- raw ones, so what retention dropped from asset_prices_historic but the parent keeps stays in them too.
--
-- Apache edition: materialized views over the parents' materialized views, with a unique index (REFRESH ...
-- CONCURRENTLY). They have no policy of their own: financehub.refresh_materialized_view refreshes a parent's rungs
-- (financehub.candle_ladder) after it, in the same transaction, so a rung is always exactly its parent rolled up and
-- shares its watermark.
--
-- financehub.candle_ladder declares the rungs, on both editions: which view rolls up which, at what width.
CREATE TABLE IF NOT EXISTS financehub.candle_ladder (
  view_name regclass PRIMARY KEY,
  parent regclass NOT NULL,
  width interval NOT NULL);

DO $fh$
DECLARE
  rung record;
BEGIN
  FOR rung IN
    SELECT * FROM (VALUES
      ('asset_prices_4hour', 'asset_prices_hourly', INTERVAL '4 hours', INTERVAL '7 days', INTERVAL '1 hour', INTERVAL '30 minutes'),
      ('asset_prices_weekly', 'asset_prices_daily', INTERVAL '7 days', INTERVAL '35 days', INTERVAL '1 hour', INTERVAL '1 hour'),
      ('asset_prices_monthly', 'asset_prices_daily', INTERVAL '1 month', INTERVAL '3 months', INTERVAL '1 hour', INTERVAL '1 hour'))
      AS r (view_name, parent, width, start_offset, end_offset, schedule)
  LOOP
    IF financehub.timescale_license() = 'timescale' THEN
      EXECUTE format(
        $sql$
        CREATE MATERIALIZED VIEW IF NOT EXISTS %1$I
        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT asset_id, time_bucket(%3$L::interval, bucket) AS bucket,
               first(open, bucket) AS open, max(high) AS high, min(low) AS low, last(close, bucket) AS close,
               sum(volume) AS volume, sum(trade_count)::bigint AS trade_count
        FROM %2$I
        GROUP BY asset_id, time_bucket(%3$L::interval, bucket)
        WITH NO DATA
        $sql$, rung.view_name, rung.parent, rung.width);
      PERFORM add_continuous_aggregate_policy(rung.view_name::regclass, start_offset => rung.start_offset,
        end_offset => rung.end_offset, schedule_interval => rung.schedule, if_not_exists => true);
    ELSE
      EXECUTE format(
        $sql$
        CREATE MATERIALIZED VIEW IF NOT EXISTS %1$I AS
        SELECT asset_id, time_bucket(%3$L::interval, bucket) AS bucket,
               first(open, bucket) AS open, max(high) AS high, min(low) AS low, last(close, bucket) AS close,
               sum(volume) AS volume, sum(trade_count)::bigint AS trade_count
        FROM %2$I
        GROUP BY asset_id, time_bucket(%3$L::interval, bucket)
        $sql$, rung.view_name, rung.parent, rung.width);
      EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS %I ON %I (asset_id, bucket)', 'ux_' || rung.view_name || '_asset_id_bucket', rung.view_name);
    END IF;
    INSERT INTO financehub.candle_ladder (view_name, parent, width)
    VALUES (rung.view_name::regclass, rung.parent::regclass, rung.width)
    ON CONFLICT (view_name) DO NOTHING;
  END LOOP;
END
$fh$;
