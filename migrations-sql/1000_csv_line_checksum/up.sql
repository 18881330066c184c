-- The content checksum of gzip CSV archives (algorithm csv-line-hash, see ContentChecksum.cs): the sum, as an exact
-- integer, of hashtextextended(line, 0) over each row's CSV line exactly as COPY ... (FORMAT csv, NULL '\N') writes it
-- under the archiver's output settings (the SET clauses below). The exporter adds it up over the bytes it compresses, in
-- the COPY's one scan; this function computes it again over rows in the database (restored, staged, or about to be
-- dropped), so that the two must agree byte for byte.
--
-- Each field is the value's output function (what COPY writes), NULL as the marker, and quoted as COPY quotes it: a
-- value holding a comma, a quote, CR or LF, one equal to the marker, or \. as the only column. Types whose output can
-- hold none of those are left unquoted without looking; casts to text that differ from the output function (boolean,
-- inet, character) are avoided by concat(), which calls the output function.
CREATE OR REPLACE FUNCTION financehub.content_checksum_csv(source regclass, time_column name, range_start timestamptz, range_end timestamptz,
                                                           columns name[], null_marker text,
                                                           OUT row_count bigint, OUT checksum numeric)
LANGUAGE plpgsql STABLE
SET TimeZone = 'UTC' SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET extra_float_digits = 1 SET bytea_output = 'hex'
AS
$fn$
DECLARE
  fields text[] := '{}';
  column_name name;
  column_type regtype;
  value text;
BEGIN
  IF coalesce(cardinality(columns), 0) = 0 THEN
    RAISE EXCEPTION 'content_checksum_csv needs the columns of the CSV lines, in their order' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOREACH column_name IN ARRAY columns LOOP
    SELECT a.atttypid::regtype INTO column_type
    FROM pg_attribute a WHERE a.attrelid = source AND a.attname = column_name AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'column % of % does not exist', column_name, source USING ERRCODE = 'undefined_column';
    END IF;
    IF column_type IN ('smallint', 'integer', 'bigint', 'numeric', 'real', 'double precision', 'timestamp with time zone',
                       'timestamp without time zone', 'date', 'uuid') THEN
      fields := fields || format('coalesce(t.%I::text, %L)', column_name, null_marker);
    ELSIF column_type IN ('boolean', 'inet') THEN
      fields := fields || format('CASE WHEN t.%I IS NULL THEN %L ELSE concat(t.%I) END', column_name, null_marker, column_name);
    ELSE
      -- Compared and searched byte for byte, whatever the column's collation.
      value := CASE WHEN column_type IN ('text', 'character varying') THEN format('(t.%I::text COLLATE "C")', column_name)
                    ELSE format('(concat(t.%I) COLLATE "C")', column_name) END;
      fields := fields || format(
        'CASE WHEN t.%1$I IS NULL THEN %2$L WHEN %3$s = %2$L OR %3$s ~ %4$L %5$s THEN ''"'' || replace(%3$s, ''"'', ''""'') || ''"'' ELSE %3$s END',
        column_name, null_marker, value, E'[,"\r\n]', CASE WHEN cardinality(columns) = 1 THEN format('OR %s = %L', value, '\.') ELSE '' END);
    END IF;
  END LOOP;

  EXECUTE format('SELECT count(*), coalesce(sum(hashtextextended(concat_ws('','', %s) COLLATE "C", 0)), 0)
                  FROM %s t WHERE t.%I >= $1 AND t.%I < $2', array_to_string(fields, ', '), source, time_column, time_column)
    INTO row_count, checksum
    USING range_start, range_end;
END
$fn$;
