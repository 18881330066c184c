-- Helper functions of FinanceHub.Data (the seed's setup_timescale_functions). Idempotent: CREATE OR REPLACE.

-- 'timescale' (community edition), 'apache' (Apache-2 edition), or 'none' (extension not loaded).
CREATE OR REPLACE FUNCTION financehub.timescale_license() RETURNS text
LANGUAGE sql STABLE AS
$fn$ SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
                 THEN coalesce(current_setting('timescaledb.license', true), 'apache')
                 ELSE 'none' END $fn$;

-- Whether the TimescaleDB installed in this database is at least release_number ('2.18.0'); false without the extension.
-- The SQL files use it to pick the current API names where the server has them (see TimescaleRelease in the C# code).
CREATE OR REPLACE FUNCTION financehub.timescale_at_least(release_number text) RETURNS boolean
LANGUAGE sql STABLE AS
$fn$ SELECT coalesce((SELECT string_to_array(split_part(extversion, '-', 1), '.')::int[] >= string_to_array(release_number, '.')::int[]
                      FROM pg_extension WHERE extname = 'timescaledb'), false) $fn$;

-- Per-feature support on this server: native, emulated (run by the project) or unavailable.
CREATE OR REPLACE FUNCTION financehub.feature_support()
RETURNS TABLE (feature text, support text, detail text)
LANGUAGE sql STABLE AS
$fn$
  WITH l AS (SELECT financehub.timescale_license() AS license)
  SELECT f.feature,
         CASE WHEN l.license = 'none' THEN 'unavailable'
              WHEN l.license = 'timescale' OR f.apache = 'native' THEN 'native'
              ELSE f.apache END,
         CASE WHEN l.license = 'none' THEN 'the timescaledb extension is not installed'
              WHEN l.license = 'timescale' OR f.apache = 'native' THEN f.native_detail
              ELSE f.apache_detail END
  FROM l, (VALUES
    ('hypertables',            'native',      'create_hypertable, chunks, drop_chunks', NULL),
    ('time_bucket',            'native',      'time_bucket, first, last', NULL),
    ('compression',            'unavailable', 'columnstore compression with policies',
                                              'needs the community edition (timescaledb.license = timescale)'),
    ('retention_policies',     'emulated',    'add_retention_policy jobs',
                                              'financehub.maintenance_policies, run by financehub-data maintain'),
    ('continuous_aggregates',  'emulated',    'continuous aggregates, real-time',
                                              'materialized views refreshed by financehub-data maintain'),
    ('aggregate_refresh',      'emulated',    'add_continuous_aggregate_policy jobs',
                                              'financehub.maintenance_policies, run by financehub-data maintain'),
    ('jobs',                   'unavailable', 'TimescaleDB background jobs',
                                              'needs the community edition; project policies stand in'),
    ('gapfill',                'emulated',    'time_bucket_gapfill, locf',
                                              'generate_series over buckets with carried-forward close')
  ) AS f(feature, apache, native_detail, apache_detail)
$fn$;

-- Keeps the OHLCV aggregates of the price rows in [range_start, range_end) in financehub.asset_prices_*_retained, which the
-- Apache edition's emulated aggregates read for buckets that no longer have raw rows. Called before such rows are
-- dropped (retention, archiving). Does nothing where those tables do not exist (community edition: the continuous
-- aggregates keep their own rows).
CREATE OR REPLACE FUNCTION financehub.retain_price_aggregates(range_start timestamptz, range_end timestamptz) RETURNS void
LANGUAGE plpgsql AS
$fn$
BEGIN
  IF to_regclass('financehub.asset_prices_hourly_retained') IS NULL THEN
    RETURN;
  END IF;
  INSERT INTO financehub.asset_prices_hourly_retained
  SELECT asset_id, time_bucket(interval '1 hour', date), first(open, date), max(high), min(low), last(close, date),
         sum(volume), coalesce(sum(trade_count), 0) + count(*) FILTER (WHERE trade_count IS NULL)
  FROM asset_prices_historic WHERE date >= range_start AND date < range_end GROUP BY 1, 2
  ON CONFLICT (asset_id, bucket) DO UPDATE SET open = excluded.open, high = excluded.high, low = excluded.low,
    close = excluded.close, volume = excluded.volume, trade_count = excluded.trade_count;
  INSERT INTO financehub.asset_prices_daily_retained
  SELECT asset_id, time_bucket(interval '1 day', date), first(open, date), max(high), min(low), last(close, date),
         sum(volume), coalesce(sum(trade_count), 0) + count(*) FILTER (WHERE trade_count IS NULL)
  FROM asset_prices_historic WHERE date >= range_start AND date < range_end GROUP BY 1, 2
  ON CONFLICT (asset_id, bucket) DO UPDATE SET open = excluded.open, high = excluded.high, low = excluded.low,
    close = excluded.close, volume = excluded.volume, trade_count = excluded.trade_count;
END
$fn$;

-- Drops chunks of a hypertable whose data is entirely older than now() - drop_after, and returns how many.
-- Before dropping chunks of asset_prices_historic on the Apache edition, it keeps the OHLCV aggregate rows of the
-- dropped range in financehub.asset_prices_*_retained, which the emulated aggregates read, so retention never
-- silently deletes aggregate history (a continuous aggregate keeps it natively as long as its refresh window is
-- shorter than the retention).
CREATE OR REPLACE FUNCTION financehub.apply_retention(hypertable regclass, drop_after interval) RETURNS integer
LANGUAGE plpgsql AS
$fn$
DECLARE
  boundary timestamptz;
  dropped integer;
BEGIN
  IF drop_after IS NULL OR drop_after <= interval '0' THEN
    RAISE EXCEPTION 'drop_after must be a positive interval, got %', drop_after;
  END IF;
  SELECT max(c.range_end) INTO boundary
  FROM timescaledb_information.chunks c
  WHERE format('%I.%I', c.hypertable_schema, c.hypertable_name)::regclass = hypertable
    AND c.range_end <= now() - drop_after;
  IF boundary IS NULL THEN
    RETURN 0;
  END IF;
  IF hypertable = 'asset_prices_historic'::regclass THEN
    PERFORM financehub.retain_price_aggregates('-infinity', boundary);
  END IF;
  SELECT count(*) INTO dropped FROM drop_chunks(hypertable, older_than => boundary);
  RETURN dropped;
END
$fn$;

-- Turns a hypertable back into a plain table with the same name, columns, defaults, identity, constraints (same
-- names), indexes and rows. Used by the Down of the TimescaleDB migration.
CREATE OR REPLACE FUNCTION financehub.hypertable_to_plain(hypertable regclass) RETURNS void
LANGUAGE plpgsql AS
$fn$
DECLARE
  tbl_schema text;
  tbl_name text;
  tmp_name text;
  r record;
  constraint_defs text[] := '{}';
  index_defs text[] := '{}';
  identity_cols text[] := '{}';
  seq_names text[] := '{}';
  def text;
  i integer;
BEGIN
  SELECT n.nspname, c.relname INTO tbl_schema, tbl_name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = hypertable;
  tmp_name := left(tbl_name, 50) || '_plain_tmp';

  FOR r IN SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
           WHERE conrelid = hypertable AND contype IN ('p', 'u', 'f', 'c', 'x') ORDER BY contype = 'f', conname LOOP
    constraint_defs := constraint_defs || format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', tbl_schema, tbl_name, r.conname, r.def);
  END LOOP;
  FOR r IN SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
           WHERE i.indrelid = hypertable AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) LOOP
    index_defs := index_defs || r.def;
  END LOOP;
  FOR r IN SELECT a.attname, pg_get_serial_sequence(format('%I.%I', tbl_schema, tbl_name), a.attname) AS seq
           FROM pg_attribute a WHERE a.attrelid = hypertable AND a.attidentity <> '' AND NOT a.attisdropped LOOP
    identity_cols := identity_cols || r.attname::text;
    seq_names := seq_names || r.seq;
  END LOOP;

  EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)',
                 tbl_schema, tmp_name, tbl_schema, tbl_name);
  EXECUTE format('INSERT INTO %I.%I OVERRIDING SYSTEM VALUE SELECT * FROM %I.%I', tbl_schema, tmp_name, tbl_schema, tbl_name);
  EXECUTE format('DROP TABLE %I.%I', tbl_schema, tbl_name);
  EXECUTE format('ALTER TABLE %I.%I RENAME TO %I', tbl_schema, tmp_name, tbl_name);
  FOR i IN 1 .. coalesce(array_length(identity_cols, 1), 0) LOOP
    -- The copy got a new sequence; give it the old name and carry on numbering after the highest value.
    EXECUTE format('ALTER SEQUENCE %s RENAME TO %I',
                   pg_get_serial_sequence(format('%I.%I', tbl_schema, tbl_name), identity_cols[i]),
                   split_part(seq_names[i], '.', 2));
    EXECUTE format('SELECT setval(%L, coalesce((SELECT max(%I) FROM %I.%I), 0) + 1, false)',
                   seq_names[i], identity_cols[i], tbl_schema, tbl_name);
  END LOOP;
  FOREACH def IN ARRAY constraint_defs LOOP EXECUTE def; END LOOP;
  FOREACH def IN ARRAY index_defs LOOP EXECUTE def; END LOOP;
END
$fn$;

-- Refreshes a materialized view given as regclass (so the name is resolved by the catalog, never spliced from text),
-- then the candle ladder's views over it (financehub.candle_ladder; the Apache edition's rungs: weekly candles over the
-- daily view), in the same transaction: a rung is always exactly what its parent holds.
CREATE OR REPLACE FUNCTION financehub.refresh_materialized_view(target regclass, use_concurrently boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql AS
$fn$
DECLARE
  rung regclass;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = target AND relkind = 'm') THEN
    RAISE EXCEPTION '% is not a materialized view', target;
  END IF;
  IF use_concurrently AND EXISTS (SELECT 1 FROM pg_class WHERE oid = target AND relispopulated) THEN
    EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %s', target);
  ELSE
    EXECUTE format('REFRESH MATERIALIZED VIEW %s', target);
  END IF;
  IF to_regclass('financehub.candle_ladder') IS NOT NULL THEN
    FOR rung IN SELECT l.view_name FROM financehub.candle_ladder l JOIN pg_class c ON c.oid = l.view_name
                WHERE l.parent = target AND c.relkind = 'm' ORDER BY l.view_name::text LOOP
      PERFORM financehub.refresh_materialized_view(rung, use_concurrently);
    END LOOP;
  END IF;
END
$fn$;

-- refresh_continuous_aggregate that waits for a concurrent refresh of the same aggregate instead of failing with it.
-- Since TimescaleDB 2.26.3 a refresh registers its window in _timescaledb_catalog.continuous_aggs_jobs_refresh_ranges
-- and one overlapping a live registration fails with 55P03 (a policy job, another deployment step, the application).
-- Here the registrations are serialized the way TimescaleDB serializes them, with the table's SHARE UPDATE EXCLUSIVE
-- lock: taken, then held while a live registration of the aggregate is waited for (its owner deletes it under a ROW
-- EXCLUSIVE lock, which does not conflict), then the refresh registers its own window in the same transaction. A policy
-- that starts meanwhile waits for the lock and then fails on this refresh's window (its job retries); this one never
-- does. Where the lock cannot be taken (a role without UPDATE on TimescaleDB's catalog, as on some managed services)
-- it waits without it, which leaves a window of microseconds. Older releases make a concurrent refresh wait on a lock
-- by themselves. The refresh is one pass (no batches, each of which would register anew). Bounded by max_wait; then
-- it fails with 55P03 and says what held it. Like refresh_continuous_aggregate
-- it commits, so it runs only with CALL outside a transaction block (a migration step with suppressTransaction).
CREATE OR REPLACE PROCEDURE financehub.refresh_continuous_aggregate_when_free(
  aggregate regclass, window_start timestamptz, window_end timestamptz, max_wait interval DEFAULT INTERVAL '30 minutes')
LANGUAGE plpgsql AS
$fn$
DECLARE
  tracking regclass := to_regclass('_timescaledb_catalog.continuous_aggs_jobs_refresh_ranges');
  lockable boolean;
  mat_id integer;
  holder record;
  deadline timestamptz := clock_timestamp() + max_wait;
  pause double precision := 0.02;
BEGIN
  IF tracking IS NOT NULL THEN
    SELECT c.mat_hypertable_id INTO mat_id FROM _timescaledb_catalog.continuous_agg c
    WHERE to_regclass(format('%I.%I', c.user_view_schema, c.user_view_name)) = aggregate;
    IF mat_id IS NULL THEN
      RAISE EXCEPTION '% is not a continuous aggregate', aggregate USING ERRCODE = 'wrong_object_type';
    END IF;
    lockable := has_table_privilege(tracking, 'UPDATE');
    LOOP
      IF lockable THEN
        LOCK TABLE _timescaledb_catalog.continuous_aggs_jobs_refresh_ranges IN SHARE UPDATE EXCLUSIVE MODE;
      END IF;
      PERFORM pg_stat_clear_snapshot();
      SELECT r.pid, r.job_id, clock_timestamp() - r.created_at AS held INTO holder
      FROM _timescaledb_catalog.continuous_aggs_jobs_refresh_ranges r
      WHERE r.materialization_id = mat_id AND r.pid <> pg_backend_pid()
        AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.pid)
      LIMIT 1;
      EXIT WHEN NOT FOUND;
      IF clock_timestamp() > deadline THEN
        RAISE EXCEPTION 'could not refresh continuous aggregate % within %: a concurrent refresh (backend %, job %) has held it for %',
                        aggregate, max_wait, holder.pid, holder.job_id, holder.held
          USING ERRCODE = 'lock_not_available',
                HINT = 'Run the step again once that refresh has finished (pg_stat_activity shows the backend), or end it with pg_cancel_backend.';
      END IF;
      PERFORM pg_sleep(pause);
      pause := least(pause * 2, 0.5);
    END LOOP;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_proc p JOIN pg_extension e ON e.extnamespace = p.pronamespace AND e.extname = 'timescaledb'
             WHERE p.proname = 'refresh_continuous_aggregate' AND p.pronargs = 5) THEN
    -- Since 2.21 a manual refresh runs in batches of 10 buckets by default, each registering its window in a
    -- transaction of its own; any batch after the first could meet a policy that started in between. One pass.
    CALL refresh_continuous_aggregate(aggregate, window_start, window_end, false, '{"buckets_per_batch": 0}'::jsonb);
  ELSE
    CALL refresh_continuous_aggregate(aggregate, window_start, window_end);
  END IF;
END
$fn$;
