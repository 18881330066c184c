-- The three hypertables. create_default_indexes => false: the model declares the indexes the queries need
-- (see the entity configurations), so the database holds exactly what the EF model says.
-- migrate_data => true lets a database that already has rows (a baselined one) convert in place; large existing
-- tables are better converted online with `financehub-data convert`.
DO $fh$
BEGIN
  PERFORM create_hypertable('asset_prices_historic', by_range('date', INTERVAL '7 days'),
                            create_default_indexes => false, if_not_exists => true, migrate_data => true);
  PERFORM set_chunk_time_interval('asset_prices_historic', INTERVAL '7 days');

  PERFORM create_hypertable('performance_metrics', by_range('created_at', INTERVAL '1 day'),
                            create_default_indexes => false, if_not_exists => true, migrate_data => true);
  PERFORM set_chunk_time_interval('performance_metrics', INTERVAL '1 day');

  PERFORM create_hypertable('api_usage_logs', by_range('created_at', INTERVAL '1 hour'),
                            create_default_indexes => false, if_not_exists => true, migrate_data => true);
  PERFORM set_chunk_time_interval('api_usage_logs', INTERVAL '1 hour');
END
$fh$;
