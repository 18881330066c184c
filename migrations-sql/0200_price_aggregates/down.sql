-- Dropping a continuous aggregate also removes its refresh policy job.
DROP MATERIALIZED VIEW IF EXISTS asset_prices_daily;
DROP MATERIALIZED VIEW IF EXISTS asset_prices_hourly;
DROP TABLE IF EXISTS financehub.asset_prices_daily_retained;
DROP TABLE IF EXISTS financehub.asset_prices_hourly_retained;
DELETE FROM financehub.maintenance_policies WHERE kind = 'Refresh' AND target IN ('asset_prices_hourly', 'asset_prices_daily');
