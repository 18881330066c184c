-- Undo the TimescaleDB layer: policies, compression, hypertables (back to plain tables with every row kept),
-- helper functions, and the extension itself when no other hypertable needs it.
DO $fh$
DECLARE
  t text;
BEGIN
  DELETE FROM financehub.maintenance_policies WHERE kind = 'Retention'
    AND target IN ('asset_prices_historic', 'performance_metrics', 'api_usage_logs');
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    RETURN;
  END IF;
  FOREACH t IN ARRAY ARRAY['asset_prices_historic', 'performance_metrics', 'api_usage_logs'] LOOP
    IF EXISTS (SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = t) THEN
      IF financehub.timescale_license() = 'timescale' THEN
        PERFORM remove_retention_policy(t, if_exists => true);
        IF financehub.timescale_at_least('2.18.0') THEN
          CALL remove_columnstore_policy(t::regclass, if_exists => true);
        ELSE
          PERFORM remove_compression_policy(t, if_exists => true);
        END IF;
      END IF;
      PERFORM financehub.hypertable_to_plain(t::regclass);
    END IF;
  END LOOP;
END
$fh$;
DROP PROCEDURE IF EXISTS financehub.refresh_continuous_aggregate_when_free(regclass, timestamptz, timestamptz, interval);
DROP FUNCTION IF EXISTS financehub.refresh_materialized_view(regclass, boolean);
DROP FUNCTION IF EXISTS financehub.hypertable_to_plain(regclass);
DROP FUNCTION IF EXISTS financehub.apply_retention(regclass, interval);
DROP FUNCTION IF EXISTS financehub.retain_price_aggregates(timestamptz, timestamptz);
DROP FUNCTION IF EXISTS financehub.feature_support();
DROP FUNCTION IF EXISTS financehub.timescale_at_least(text);
DROP FUNCTION IF EXISTS financehub.timescale_license();
DO $fh$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
     AND NOT EXISTS (SELECT 1 FROM timescaledb_information.hypertables) THEN
    DROP EXTENSION timescaledb;
  END IF;
END
$fh$;
