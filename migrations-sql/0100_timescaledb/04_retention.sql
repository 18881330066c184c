-- Retention: 2 years / 30 days / 7 days. Native policies on the community edition; on the Apache edition the same
-- policies are recorded for the project to run (financehub-data maintain), through financehub.apply_retention.
DO $fh$
BEGIN
  IF financehub.timescale_license() = 'timescale' THEN
    PERFORM add_retention_policy('asset_prices_historic', drop_after => INTERVAL '730 days', if_not_exists => true);
    PERFORM add_retention_policy('performance_metrics', drop_after => INTERVAL '30 days', if_not_exists => true);
    PERFORM add_retention_policy('api_usage_logs', drop_after => INTERVAL '7 days', if_not_exists => true);
  ELSE
    INSERT INTO financehub.maintenance_policies (name, kind, target, drop_after, schedule_interval, enabled, next_run_at)
    VALUES ('retention:asset_prices_historic', 'Retention', 'asset_prices_historic', INTERVAL '730 days', INTERVAL '1 day', true, now()),
           ('retention:performance_metrics', 'Retention', 'performance_metrics', INTERVAL '30 days', INTERVAL '1 day', true, now()),
           ('retention:api_usage_logs', 'Retention', 'api_usage_logs', INTERVAL '7 days', INTERVAL '1 hour', true, now())
    ON CONFLICT (name) DO NOTHING;
  END IF;
END
$fh$;
