-- The aggregates hold the only candles of prices that retention or archiving dropped (the retained tables on the
-- Apache edition; buckets older than the oldest raw row in a continuous aggregate). Refuse to drop them while they do,
-- unless the user says so (financehub.allow_data_loss = on for this session).
DO $fh$
DECLARE
  kept bigint := 0;
BEGIN
  IF to_regclass('financehub.asset_prices_daily_retained') IS NOT NULL THEN
    kept := kept + (SELECT count(*) FROM financehub.asset_prices_daily_retained d
                    WHERE NOT EXISTS (SELECT 1 FROM asset_prices_historic p
                                      WHERE p.asset_id = d.asset_id AND p.date >= d.bucket AND p.date < d.bucket + INTERVAL '1 day'));
  END IF;
  IF to_regclass('asset_prices_daily') IS NOT NULL AND financehub.timescale_license() = 'timescale' THEN
    kept := kept + (SELECT count(*) FROM asset_prices_daily d
                    WHERE NOT EXISTS (SELECT 1 FROM asset_prices_historic p
                                      WHERE p.asset_id = d.asset_id AND p.date >= d.bucket AND p.date < d.bucket + INTERVAL '1 day'));
  END IF;
  IF kept > 0 AND coalesce(current_setting('financehub.allow_data_loss', true), '') <> 'on' THEN
    RAISE EXCEPTION 'Migrating below PriceAggregates would drop % daily candle(s) whose price rows are no longer in asset_prices_historic (retention or archiving dropped them)', kept
      USING HINT = 'Keep the migration, or restore the archived ranges first; to go ahead anyway, connect with '
                || 'Options=-c financehub.allow_data_loss=on (or PGOPTIONS="-c financehub.allow_data_loss=on").';
  END IF;
END
$fh$;
-- Dropping a continuous aggregate also removes its refresh policy job.
DROP MATERIALIZED VIEW IF EXISTS asset_prices_daily;
DROP MATERIALIZED VIEW IF EXISTS asset_prices_hourly;
DROP TABLE IF EXISTS financehub.asset_prices_daily_retained;
DROP TABLE IF EXISTS financehub.asset_prices_hourly_retained;
DELETE FROM financehub.maintenance_policies WHERE kind = 'Refresh' AND target IN ('asset_prices_hourly', 'asset_prices_daily');
