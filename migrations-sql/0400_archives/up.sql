-- Helpers of the data archiver.

-- An order-independent checksum of rows: the sum of each row's 64-bit hash (hash_record_extended hashes the typed
-- values, no text conversion). The archiver computes it over a range of a table and over the same rows read back from
-- an archive into a table of the same column types, so equal checksums mean equal contents, whatever the row order.
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

-- Drops exactly the chunks of a hypertable that lie inside [range_start, range_end), keeping the OHLCV aggregates of
-- those rows on the Apache edition (financehub.retain_price_aggregates, as financehub.apply_retention does). Returns how many chunks it dropped.
CREATE OR REPLACE FUNCTION financehub.drop_archived_chunks(hypertable regclass, range_start timestamptz, range_end timestamptz) RETURNS integer
LANGUAGE plpgsql AS
$fn$
DECLARE
  dropped integer;
BEGIN
  IF hypertable = 'asset_prices_historic'::regclass THEN
    PERFORM financehub.retain_price_aggregates(range_start, range_end);
  END IF;
  SELECT count(*) INTO dropped FROM drop_chunks(hypertable, older_than => range_end, newer_than => range_start);
  RETURN dropped;
END
$fn$;
