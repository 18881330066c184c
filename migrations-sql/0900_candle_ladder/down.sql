-- The rungs hold nothing their parents do not: dropping them loses no candle. Dropping a continuous aggregate also
-- removes its refresh policy job.
DROP MATERIALIZED VIEW IF EXISTS asset_prices_monthly;
DROP MATERIALIZED VIEW IF EXISTS asset_prices_weekly;
DROP MATERIALIZED VIEW IF EXISTS asset_prices_4hour;
DROP TABLE IF EXISTS financehub.candle_ladder;
