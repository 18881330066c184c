-- Compression (community edition only): segment by the series key, newest first inside a segment. Since TimescaleDB 2.18
-- this is the columnstore (timescaledb.enable_columnstore, add_columnstore_policy); the compression names before.
-- On the Apache edition compression is unavailable and financehub.feature_support() says so.
DO $fh$
DECLARE
  t record;
BEGIN
  IF financehub.timescale_license() <> 'timescale' THEN
    RETURN;
  END IF;
  FOR t IN SELECT * FROM (VALUES
      ('asset_prices_historic', 'asset_id',    'date DESC',          INTERVAL '30 days'),
      ('performance_metrics',   'metric_name', 'created_at DESC, id', INTERVAL '7 days'),
      ('api_usage_logs',        'endpoint',    'created_at DESC, id', INTERVAL '1 day')) AS v(tbl, segment_by, order_by, after) LOOP
    IF NOT (SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = t.tbl) THEN
      IF financehub.timescale_at_least('2.18.0') THEN
        EXECUTE format('ALTER TABLE %I SET (timescaledb.enable_columnstore, timescaledb.segmentby = %L, timescaledb.orderby = %L)',
                       t.tbl, t.segment_by, t.order_by);
      ELSE
        EXECUTE format('ALTER TABLE %I SET (timescaledb.compress, timescaledb.compress_segmentby = %L, timescaledb.compress_orderby = %L)',
                       t.tbl, t.segment_by, t.order_by);
      END IF;
    END IF;
    IF financehub.timescale_at_least('2.18.0') THEN
      CALL add_columnstore_policy(t.tbl::regclass, after => t.after, if_not_exists => true);
    ELSE
      PERFORM add_compression_policy(t.tbl::regclass, compress_after => t.after, if_not_exists => true);
    END IF;
  END LOOP;
END
$fh$;
