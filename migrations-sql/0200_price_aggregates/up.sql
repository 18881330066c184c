-- OHLCV per asset and bucket: open = first(open), high = max, low = min, close = last(close), volume = sum,
-- trade_count = sum of the rows' trade_count, a row without one counting as one trade.
--
-- Community edition: continuous aggregates, real-time (materialized_only = false, so the newest, not yet
-- materialized rows are included), refreshed by policies. Their refresh windows (7 and 30 days) are far shorter
-- than the raw retention (2 years): a refresh only rewrites buckets inside its window, so buckets whose raw rows
-- retention has dropped are never recomputed from nothing and stay in the aggregate.
--
-- Apache edition: plain materialized views with the same columns and a unique index (so REFRESH ... CONCURRENTLY
-- works), refreshed by project-run policies. A plain refresh recomputes everything, so rows that retention drops
-- would vanish from it; financehub.apply_retention first keeps their aggregates in financehub.*_retained, and the
-- views read those for buckets that no longer have raw rows.
DO $fh$
BEGIN
  IF financehub.timescale_license() = 'timescale' THEN
    EXECUTE $sql$
      CREATE MATERIALIZED VIEW IF NOT EXISTS asset_prices_hourly
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT asset_id, time_bucket(INTERVAL '1 hour', date) AS bucket,
             first(open, date) AS open, max(high) AS high, min(low) AS low, last(close, date) AS close,
             sum(volume) AS volume, coalesce(sum(trade_count), 0) + count(*) FILTER (WHERE trade_count IS NULL) AS trade_count
      FROM asset_prices_historic
      GROUP BY asset_id, time_bucket(INTERVAL '1 hour', date)
      WITH NO DATA $sql$;
    EXECUTE $sql$
      CREATE MATERIALIZED VIEW IF NOT EXISTS asset_prices_daily
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT asset_id, time_bucket(INTERVAL '1 day', date) AS bucket,
             first(open, date) AS open, max(high) AS high, min(low) AS low, last(close, date) AS close,
             sum(volume) AS volume, coalesce(sum(trade_count), 0) + count(*) FILTER (WHERE trade_count IS NULL) AS trade_count
      FROM asset_prices_historic
      GROUP BY asset_id, time_bucket(INTERVAL '1 day', date)
      WITH NO DATA $sql$;
    PERFORM add_continuous_aggregate_policy('asset_prices_hourly', start_offset => INTERVAL '7 days',
      end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '30 minutes', if_not_exists => true);
    PERFORM add_continuous_aggregate_policy('asset_prices_daily', start_offset => INTERVAL '30 days',
      end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour', if_not_exists => true);
  ELSE
    CREATE TABLE IF NOT EXISTS financehub.asset_prices_hourly_retained (
      asset_id integer NOT NULL, bucket timestamptz NOT NULL, open numeric NOT NULL, high numeric NOT NULL,
      low numeric NOT NULL, close numeric NOT NULL, volume numeric NOT NULL, trade_count bigint NOT NULL,
      PRIMARY KEY (asset_id, bucket));
    CREATE TABLE IF NOT EXISTS financehub.asset_prices_daily_retained (LIKE financehub.asset_prices_hourly_retained INCLUDING ALL);
    CREATE MATERIALIZED VIEW IF NOT EXISTS asset_prices_hourly AS
      WITH live AS (
        SELECT asset_id, time_bucket(INTERVAL '1 hour', date) AS bucket,
               first(open, date) AS open, max(high) AS high, min(low) AS low, last(close, date) AS close,
               sum(volume) AS volume, coalesce(sum(trade_count), 0) + count(*) FILTER (WHERE trade_count IS NULL) AS trade_count
        FROM asset_prices_historic
        GROUP BY asset_id, time_bucket(INTERVAL '1 hour', date))
      SELECT * FROM live
      UNION ALL
      SELECT r.* FROM financehub.asset_prices_hourly_retained r
      WHERE NOT EXISTS (SELECT 1 FROM live WHERE live.asset_id = r.asset_id AND live.bucket = r.bucket);
    CREATE UNIQUE INDEX IF NOT EXISTS ux_asset_prices_hourly_asset_id_bucket ON asset_prices_hourly (asset_id, bucket);
    CREATE MATERIALIZED VIEW IF NOT EXISTS asset_prices_daily AS
      WITH live AS (
        SELECT asset_id, time_bucket(INTERVAL '1 day', date) AS bucket,
               first(open, date) AS open, max(high) AS high, min(low) AS low, last(close, date) AS close,
               sum(volume) AS volume, coalesce(sum(trade_count), 0) + count(*) FILTER (WHERE trade_count IS NULL) AS trade_count
        FROM asset_prices_historic
        GROUP BY asset_id, time_bucket(INTERVAL '1 day', date))
      SELECT * FROM live
      UNION ALL
      SELECT r.* FROM financehub.asset_prices_daily_retained r
      WHERE NOT EXISTS (SELECT 1 FROM live WHERE live.asset_id = r.asset_id AND live.bucket = r.bucket);
    CREATE UNIQUE INDEX IF NOT EXISTS ux_asset_prices_daily_asset_id_bucket ON asset_prices_daily (asset_id, bucket);
    INSERT INTO financehub.maintenance_policies (name, kind, target, schedule_interval, enabled, next_run_at, materialized_through)
    VALUES ('refresh:asset_prices_hourly', 'Refresh', 'asset_prices_hourly', INTERVAL '30 minutes', true, now(), NULL),
           ('refresh:asset_prices_daily', 'Refresh', 'asset_prices_daily', INTERVAL '1 hour', true, now(), NULL)
    ON CONFLICT (name) DO NOTHING;
  END IF;
END
$fh$;
