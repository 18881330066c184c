-- Candles as wide as an aggregate's buckets are its rows of one asset over a time range, as they are
-- (TimeSeriesRepository.GetOhlcvAsync). A covering index serves them by an index-only scan in bucket order: no heap
-- visits and no sort. Both editions: on the community edition these are indexes on the continuous aggregates (kept
-- on their materialization hypertables), on the Apache edition on the materialized views.
CREATE INDEX IF NOT EXISTS ix_asset_prices_hourly_candles ON asset_prices_hourly (asset_id, bucket)
  INCLUDE (open, high, low, close, volume, trade_count);
CREATE INDEX IF NOT EXISTS ix_asset_prices_daily_candles ON asset_prices_daily (asset_id, bucket)
  INCLUDE (open, high, low, close, volume, trade_count);

-- The archives' content checksum, the same value computed faster: sum() over the bigint hashes (exact, accumulated
-- in 128-bit integers) instead of over each hash cast to numeric.
CREATE OR REPLACE FUNCTION financehub.content_checksum(source regclass, time_column name, range_start timestamptz, range_end timestamptz,
                                                       OUT row_count bigint, OUT checksum numeric)
LANGUAGE plpgsql STABLE AS
$fn$
BEGIN
  EXECUTE format('SELECT count(*), coalesce(sum(hash_record_extended(t, 0)), 0)
                  FROM %s t WHERE %I >= $1 AND %I < $2', source, time_column, time_column)
    INTO row_count, checksum
    USING range_start, range_end;
END
$fn$;
