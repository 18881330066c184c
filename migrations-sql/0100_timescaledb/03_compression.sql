-- Compression (community edition only): segment by the series key, newest first inside a segment.
-- On the Apache edition compression is unavailable and financehub.feature_support() says so.
DO $fh$
BEGIN
  IF financehub.timescale_license() <> 'timescale' THEN
    RETURN;
  END IF;
  IF NOT (SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = 'asset_prices_historic') THEN
    EXECUTE $sql$ALTER TABLE asset_prices_historic SET (timescaledb.compress,
      timescaledb.compress_segmentby = 'asset_id', timescaledb.compress_orderby = 'date DESC')$sql$;
  END IF;
  IF NOT (SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = 'performance_metrics') THEN
    EXECUTE $sql$ALTER TABLE performance_metrics SET (timescaledb.compress,
      timescaledb.compress_segmentby = 'metric_name', timescaledb.compress_orderby = 'created_at DESC, id')$sql$;
  END IF;
  IF NOT (SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = 'api_usage_logs') THEN
    EXECUTE $sql$ALTER TABLE api_usage_logs SET (timescaledb.compress,
      timescaledb.compress_segmentby = 'endpoint', timescaledb.compress_orderby = 'created_at DESC, id')$sql$;
  END IF;
  PERFORM add_compression_policy('asset_prices_historic', compress_after => INTERVAL '30 days', if_not_exists => true);
  PERFORM add_compression_policy('performance_metrics', compress_after => INTERVAL '7 days', if_not_exists => true);
  PERFORM add_compression_policy('api_usage_logs', compress_after => INTERVAL '1 day', if_not_exists => true);
END
$fh$;
