DROP INDEX IF EXISTS ix_asset_prices_daily_candles;
DROP INDEX IF EXISTS ix_asset_prices_hourly_candles;

CREATE OR REPLACE FUNCTION financehub.content_checksum(source regclass, time_column name, range_start timestamptz, range_end timestamptz,
                                                       OUT row_count bigint, OUT checksum numeric)
LANGUAGE plpgsql STABLE AS
$fn$
BEGIN
  EXECUTE format('SELECT count(*), coalesce(sum(hash_record_extended(t, 0)::numeric), 0)
                  FROM %s t WHERE %I >= $1 AND %I < $2', source, time_column, time_column)
    INTO row_count, checksum
    USING range_start, range_end;
END
$fn$;
