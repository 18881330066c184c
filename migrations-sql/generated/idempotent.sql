CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory" (
    migration_id character varying(150) NOT NULL,
    product_version character varying(32) NOT NULL,
    CONSTRAINT pk___ef_migrations_history PRIMARY KEY (migration_id)
);

START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125163800_InitialSchema') THEN
        IF NOT EXISTS(SELECT 1 FROM pg_namespace WHERE nspname = 'financehub') THEN
            CREATE SCHEMA financehub;
        END IF;
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125163800_InitialSchema') THEN
    CREATE TABLE api_usage_logs (
        id bigint GENERATED ALWAYS AS IDENTITY,
        created_at timestamp with time zone NOT NULL,
        endpoint character varying(256) NOT NULL,
        method character varying(10) NOT NULL,
        status_code smallint NOT NULL,
        duration_ms double precision NOT NULL,
        caller_id character varying(128),
        client_ip inet,
        user_agent character varying(512),
        request_bytes bigint,
        response_bytes bigint,
        CONSTRAINT pk_api_usage_logs PRIMARY KEY (created_at, id)
    );
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125163800_InitialSchema') THEN
    CREATE TABLE assets (
        id integer GENERATED ALWAYS AS IDENTITY,
        symbol character varying(32) NOT NULL,
        name character varying(200),
        asset_type character varying(16) NOT NULL,
        exchange character varying(64),
        quote_currency character(3) NOT NULL,
        is_active boolean NOT NULL,
        created_at timestamp with time zone NOT NULL DEFAULT (now()),
        CONSTRAINT pk_assets PRIMARY KEY (id),
        CONSTRAINT ck_assets_symbol_upper CHECK (symbol = upper(symbol) AND symbol <> '')
    );
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125163800_InitialSchema') THEN
    CREATE TABLE financehub.maintenance_policies (
        name character varying(200) NOT NULL,
        kind character varying(16) NOT NULL,
        target character varying(200) NOT NULL,
        drop_after interval,
        schedule_interval interval NOT NULL,
        enabled boolean NOT NULL,
        next_run_at timestamp with time zone NOT NULL,
        last_run_started_at timestamp with time zone,
        last_run_finished_at timestamp with time zone,
        last_run_status character varying(16),
        last_error text,
        materialized_through timestamp with time zone,
        CONSTRAINT pk_maintenance_policies PRIMARY KEY (name)
    );
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125163800_InitialSchema') THEN
    CREATE TABLE performance_metrics (
        id bigint GENERATED ALWAYS AS IDENTITY,
        created_at timestamp with time zone NOT NULL,
        metric_name character varying(128) NOT NULL,
        value double precision NOT NULL,
        unit character varying(16),
        service character varying(64),
        host character varying(128),
        asset_id integer,
        CONSTRAINT pk_performance_metrics PRIMARY KEY (created_at, id)
    );
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125163800_InitialSchema') THEN
    CREATE TABLE asset_prices_historic (
        asset_id integer NOT NULL,
        date timestamp with time zone NOT NULL,
        open numeric(20,8) NOT NULL,
        high numeric(20,8) NOT NULL,
        low numeric(20,8) NOT NULL,
        close numeric(20,8) NOT NULL,
        adjusted_close numeric(20,8),
        volume numeric(28,8) NOT NULL,
        trade_count integer,
        source character varying(64),
        CONSTRAINT pk_asset_prices_historic PRIMARY KEY (asset_id, date),
        CONSTRAINT ck_asset_prices_historic_high_low CHECK (high >= low),
        CONSTRAINT ck_asset_prices_historic_volume CHECK (volume >= 0),
        CONSTRAINT fk_asset_prices_historic_assets_asset_id FOREIGN KEY (asset_id) REFERENCES assets (id) ON DELETE RESTRICT
    );
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125163800_InitialSchema') THEN
    CREATE INDEX ix_api_usage_logs_caller_id_created_at ON api_usage_logs (caller_id, created_at DESC);
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125163800_InitialSchema') THEN
    CREATE INDEX ix_api_usage_logs_created_at ON api_usage_logs (created_at DESC);
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125163800_InitialSchema') THEN
    CREATE INDEX ix_api_usage_logs_endpoint_created_at ON api_usage_logs (endpoint, created_at DESC);
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125163800_InitialSchema') THEN
    CREATE INDEX ix_asset_prices_historic_date ON asset_prices_historic (date DESC);
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125163800_InitialSchema') THEN
    CREATE UNIQUE INDEX ix_assets_symbol ON assets (symbol);
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125163800_InitialSchema') THEN
    CREATE INDEX ix_performance_metrics_created_at ON performance_metrics (created_at DESC);
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125163800_InitialSchema') THEN
    CREATE INDEX ix_performance_metrics_metric_name_created_at ON performance_metrics (metric_name, created_at DESC);
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125163800_InitialSchema') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261125163800_InitialSchema', '10.0.15');
    END IF;
END $EF$;
COMMIT;

START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125164002_TimescaleLayer') THEN
    -- TimescaleDB itself, with an error that says what to do when the server cannot load it.
    DO $fh$
    BEGIN
      IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        RETURN;
      END IF;
      IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        RAISE EXCEPTION 'FinanceHub.Data needs the TimescaleDB extension, and this PostgreSQL server (%) does not have it installed.',
          current_setting('server_version')
          USING HINT = 'Install TimescaleDB for this server version (Debian: apt-get install postgresql-17-timescaledb), set '
                    || 'shared_preload_libraries = ''timescaledb'' and restart PostgreSQL; or use the local stack: sudo eng/devstack.sh up.';
      END IF;
      IF current_setting('shared_preload_libraries') NOT LIKE '%timescaledb%' THEN
        RAISE EXCEPTION 'TimescaleDB is installed on this server but not preloaded.'
          USING HINT = 'Add timescaledb to shared_preload_libraries in postgresql.conf and restart PostgreSQL.';
      END IF;
      CREATE EXTENSION IF NOT EXISTS timescaledb;
    END
    $fh$;

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125164002_TimescaleLayer') THEN
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

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125164002_TimescaleLayer') THEN
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

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125164002_TimescaleLayer') THEN
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

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125164002_TimescaleLayer') THEN
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

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125164002_TimescaleLayer') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261125164002_TimescaleLayer', '10.0.15');
    END IF;
END $EF$;
COMMIT;

START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125164014_PriceAggregates') THEN
    -- OHLCV per asset and bucket: open = first(open), high = max, low = min, close = last(close), volume = sum,
    -- trade_count = sum of the rows' trade_count, a row without one counting as one trade.
    --
    -- Community edition: continuous aggregates, real-time (materialized_only = false, so the newest, not yet
    -- materialized rows are included), refreshed by policies. Their refresh windows (7 and 30 days) are far shorter
    -- than the raw retention (2 years): a refresh only rewrites buckets inside its window, so buckets whose raw rows
    -- retention has dropped are never recomputed from nothing and stay in the aggregate.
    --
    -- Apache edition: plain materialized views with the same columns and a unique index (so REFRESH ... CONCURRENTLY
    -- works), refreshed by project-run policies. A plain refresh recomputes everything, so rows that retention drops
    -- would vanish from it; financehub.apply_retention first keeps their aggregates in financehub.*_retained, and the
    -- views read those for buckets that no longer have raw rows.
    DO $fh$
    BEGIN
      IF financehub.timescale_license() = 'timescale' THEN
        EXECUTE $sql$
          CREATE MATERIALIZED VIEW IF NOT EXISTS asset_prices_hourly
          WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
          SELECT asset_id, time_bucket(INTERVAL '1 hour', date) AS bucket,
                 first(open, date) AS open, max(high) AS high, min(low) AS low, last(close, date) AS close,
                 sum(volume) AS volume, coalesce(sum(trade_count), 0) + count(*) FILTER (WHERE trade_count IS NULL) AS trade_count
          FROM asset_prices_historic
          GROUP BY asset_id, time_bucket(INTERVAL '1 hour', date)
          WITH NO DATA $sql$;
        EXECUTE $sql$
          CREATE MATERIALIZED VIEW IF NOT EXISTS asset_prices_daily
          WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
          SELECT asset_id, time_bucket(INTERVAL '1 day', date) AS bucket,
                 first(open, date) AS open, max(high) AS high, min(low) AS low, last(close, date) AS close,
                 sum(volume) AS volume, coalesce(sum(trade_count), 0) + count(*) FILTER (WHERE trade_count IS NULL) AS trade_count
          FROM asset_prices_historic
          GROUP BY asset_id, time_bucket(INTERVAL '1 day', date)
          WITH NO DATA $sql$;
        PERFORM add_continuous_aggregate_policy('asset_prices_hourly', start_offset => INTERVAL '7 days',
          end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '30 minutes', if_not_exists => true);
        PERFORM add_continuous_aggregate_policy('asset_prices_daily', start_offset => INTERVAL '30 days',
          end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour', if_not_exists => true);
      ELSE
        CREATE TABLE IF NOT EXISTS financehub.asset_prices_hourly_retained (
          asset_id integer NOT NULL, bucket timestamptz NOT NULL, open numeric NOT NULL, high numeric NOT NULL,
          low numeric NOT NULL, close numeric NOT NULL, volume numeric NOT NULL, trade_count bigint NOT NULL,
          PRIMARY KEY (asset_id, bucket));
        CREATE TABLE IF NOT EXISTS financehub.asset_prices_daily_retained (LIKE financehub.asset_prices_hourly_retained INCLUDING ALL);
        CREATE MATERIALIZED VIEW IF NOT EXISTS asset_prices_hourly AS
          WITH live AS (
            SELECT asset_id, time_bucket(INTERVAL '1 hour', date) AS bucket,
                   first(open, date) AS open, max(high) AS high, min(low) AS low, last(close, date) AS close,
                   sum(volume) AS volume, coalesce(sum(trade_count), 0) + count(*) FILTER (WHERE trade_count IS NULL) AS trade_count
            FROM asset_prices_historic
            GROUP BY asset_id, time_bucket(INTERVAL '1 hour', date))
          SELECT * FROM live
          UNION ALL
          SELECT r.* FROM financehub.asset_prices_hourly_retained r
          WHERE NOT EXISTS (SELECT 1 FROM live WHERE live.asset_id = r.asset_id AND live.bucket = r.bucket);
        CREATE UNIQUE INDEX IF NOT EXISTS ux_asset_prices_hourly_asset_id_bucket ON asset_prices_hourly (asset_id, bucket);
        CREATE MATERIALIZED VIEW IF NOT EXISTS asset_prices_daily AS
          WITH live AS (
            SELECT asset_id, time_bucket(INTERVAL '1 day', date) AS bucket,
                   first(open, date) AS open, max(high) AS high, min(low) AS low, last(close, date) AS close,
                   sum(volume) AS volume, coalesce(sum(trade_count), 0) + count(*) FILTER (WHERE trade_count IS NULL) AS trade_count
            FROM asset_prices_historic
            GROUP BY asset_id, time_bucket(INTERVAL '1 day', date))
          SELECT * FROM live
          UNION ALL
          SELECT r.* FROM financehub.asset_prices_daily_retained r
          WHERE NOT EXISTS (SELECT 1 FROM live WHERE live.asset_id = r.asset_id AND live.bucket = r.bucket);
        CREATE UNIQUE INDEX IF NOT EXISTS ux_asset_prices_daily_asset_id_bucket ON asset_prices_daily (asset_id, bucket);
        INSERT INTO financehub.maintenance_policies (name, kind, target, schedule_interval, enabled, next_run_at, materialized_through)
        VALUES ('refresh:asset_prices_hourly', 'Refresh', 'asset_prices_hourly', INTERVAL '30 minutes', true, now(), NULL),
               ('refresh:asset_prices_daily', 'Refresh', 'asset_prices_daily', INTERVAL '1 hour', true, now(), NULL)
        ON CONFLICT (name) DO NOTHING;
      END IF;
    END
    $fh$;

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125164014_PriceAggregates') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261125164014_PriceAggregates', '10.0.15');
    END IF;
END $EF$;
COMMIT;


DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125164026_PriceAggregatesInitialRefresh') THEN
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

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125164026_PriceAggregatesInitialRefresh') THEN
    -- Materialize the aggregates over rows that were already there (a baselined or converted database): the refresh
    -- policies only look back 7 / 30 days. NOT TRANSACTIONAL: refresh_continuous_aggregate commits as it goes and
    -- cannot run inside a transaction block, so this runs on its own (suppressTransaction) and cannot be rolled back;
    -- it only (re)computes aggregate rows, so running it again is safe.
    --
    -- The refresh policies created by the previous migration start at once, and since TimescaleDB 2.27 a refresh whose
    -- window overlaps a running one fails (55P03) instead of waiting: financehub.refresh_continuous_aggregate_when_free
    -- waits for a refresh under way instead, and a policy run that starts meanwhile is the one that fails (its job runs
    -- again at its retry period). The policies themselves are left alone, scheduled as they are, whatever happens here.
    DO $fh$
    BEGIN
      IF financehub.timescale_license() = 'timescale' THEN
        CALL financehub.refresh_continuous_aggregate_when_free('asset_prices_hourly', NULL, now() - INTERVAL '1 hour');
        CALL financehub.refresh_continuous_aggregate_when_free('asset_prices_daily', NULL, now() - INTERVAL '1 hour');
      ELSE
        -- The watermark is the newest price time the refresh covers (read first), as for a continuous aggregate.
        UPDATE financehub.maintenance_policies
        SET materialized_through = (SELECT max(date) FROM asset_prices_historic),
            last_run_started_at = now(), last_run_finished_at = clock_timestamp(), last_run_status = 'Success'
        WHERE kind = 'Refresh' AND target IN ('asset_prices_hourly', 'asset_prices_daily');
        REFRESH MATERIALIZED VIEW asset_prices_hourly;
        REFRESH MATERIALIZED VIEW asset_prices_daily;
      END IF;
    END
    $fh$;

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125164026_PriceAggregatesInitialRefresh') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261125164026_PriceAggregatesInitialRefresh', '10.0.15');
    END IF;
END $EF$;
START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125173343_ArchiveCatalog') THEN
    CREATE TABLE financehub.archives (
        id uuid NOT NULL,
        table_name character varying(200) NOT NULL,
        range_start timestamp with time zone NOT NULL,
        range_end timestamp with time zone NOT NULL,
        status character varying(16) NOT NULL,
        row_count bigint NOT NULL,
        content_checksum character varying(64),
        file_sha256 character varying(64),
        file_size bigint NOT NULL,
        local_path text,
        s3bucket character varying(255),
        s3key character varying(1024),
        schema_version character varying(150),
        created_at timestamp with time zone NOT NULL,
        verified_at timestamp with time zone,
        remote_verified_at timestamp with time zone,
        dropped_at timestamp with time zone,
        last_error text,
        CONSTRAINT pk_archives PRIMARY KEY (id)
    );
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125173343_ArchiveCatalog') THEN
    CREATE UNIQUE INDEX ix_archives_table_name_range_start_range_end ON financehub.archives (table_name, range_start, range_end);
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125173343_ArchiveCatalog') THEN
    -- Helpers of the data archiver.

    -- An order-independent checksum of rows: the sum of each row's 64-bit hash (hash_record_extended hashes the typed
    -- values, no text conversion). The archiver computes it over a range of a table and over the same rows read back from
    -- an archive into a table of the same column types, so equal checksums mean equal contents, whatever the row order.
    CREATE OR REPLACE FUNCTION financehub.content_checksum(source regclass, time_column name, range_start timestamptz, range_end timestamptz,
                                                           OUT row_count bigint, OUT checksum numeric)
    LANGUAGE plpgsql STABLE AS
    $fn$
    BEGIN
      EXECUTE format('SELECT count(*), coalesce(sum(hash_record_extended(t, 0)::numeric), 0)
                      FROM %s t WHERE %I >= $1 AND %I < $2', source, time_column, time_column)
        INTO row_count, checksum
        USING range_start, range_end;
    END
    $fn$;

    -- Drops exactly the chunks of a hypertable that lie inside [range_start, range_end), keeping the OHLCV aggregates of
    -- those rows on the Apache edition (financehub.retain_price_aggregates, as financehub.apply_retention does). Returns how many chunks it dropped.
    CREATE OR REPLACE FUNCTION financehub.drop_archived_chunks(hypertable regclass, range_start timestamptz, range_end timestamptz) RETURNS integer
    LANGUAGE plpgsql AS
    $fn$
    DECLARE
      dropped integer;
    BEGIN
      IF hypertable = 'asset_prices_historic'::regclass THEN
        PERFORM financehub.retain_price_aggregates(range_start, range_end);
      END IF;
      SELECT count(*) INTO dropped FROM drop_chunks(hypertable, older_than => range_end, newer_than => range_start);
      RETURN dropped;
    END
    $fn$;

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261125173343_ArchiveCatalog') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261125173343_ArchiveCatalog', '10.0.15');
    END IF;
END $EF$;
COMMIT;

START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261128212356_ArchivesPerRange') THEN
    DROP INDEX financehub.ix_archives_table_name_range_start_range_end;
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261128212356_ArchivesPerRange') THEN
    CREATE INDEX ix_archives_table_name_range_start_range_end ON financehub.archives (table_name, range_start, range_end);
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261128212356_ArchivesPerRange') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261128212356_ArchivesPerRange', '10.0.15');
    END IF;
END $EF$;
COMMIT;

START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261128214936_PendingRefreshes') THEN
    -- Refresh windows that a refresh started by the project could not run because a concurrent refresh held them
    -- (TimescaleDB 2.27+ fails such a refresh with 55P03). Recorded so that nothing depends on luck: the next
    -- `financehub-data maintain` (IMaintenanceRunner.RunDueAsync) refreshes them and deletes the rows.
    CREATE TABLE IF NOT EXISTS financehub.pending_refreshes (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      view_name text NOT NULL,
      range_start timestamptz,
      range_end timestamptz,
      reason text,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261128214936_PendingRefreshes') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261128214936_PendingRefreshes', '10.0.15');
    END IF;
END $EF$;
COMMIT;

START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261128231529_AssetDefaults') THEN
    ALTER TABLE assets ALTER COLUMN quote_currency SET DEFAULT 'USD';
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261128231529_AssetDefaults') THEN
    ALTER TABLE assets ALTER COLUMN is_active SET DEFAULT TRUE;
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261128231529_AssetDefaults') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261128231529_AssetDefaults', '10.0.15');
    END IF;
END $EF$;
COMMIT;

START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261129021500_CandleIndexes') THEN
    -- Candles as wide as an aggregate's buckets are its rows of one asset over a time range, as they are
    -- (TimeSeriesRepository.GetOhlcvAsync). A covering index serves them by an index-only scan in bucket order: no heap
    -- visits and no sort. Both editions: on the community edition these are indexes on the continuous aggregates (kept
    -- on their materialization hypertables), on the Apache edition on the materialized views.
    CREATE INDEX IF NOT EXISTS ix_asset_prices_hourly_candles ON asset_prices_hourly (asset_id, bucket)
      INCLUDE (open, high, low, close, volume, trade_count);
    CREATE INDEX IF NOT EXISTS ix_asset_prices_daily_candles ON asset_prices_daily (asset_id, bucket)
      INCLUDE (open, high, low, close, volume, trade_count);

    -- The archives' content checksum, the same value computed faster: sum() over the bigint hashes (exact, accumulated
    -- in 128-bit integers) instead of over each hash cast to numeric.
    CREATE OR REPLACE FUNCTION financehub.content_checksum(source regclass, time_column name, range_start timestamptz, range_end timestamptz,
                                                           OUT row_count bigint, OUT checksum numeric)
    LANGUAGE plpgsql STABLE AS
    $fn$
    BEGIN
      EXECUTE format('SELECT count(*), coalesce(sum(hash_record_extended(t, 0)), 0)
                      FROM %s t WHERE %I >= $1 AND %I < $2', source, time_column, time_column)
        INTO row_count, checksum
        USING range_start, range_end;
    END
    $fn$;

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261129021500_CandleIndexes') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261129021500_CandleIndexes', '10.0.15');
    END IF;
END $EF$;
COMMIT;

START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261129043740_PricesAsOf') THEN
    -- As-of prices: the latest price at or before each requested instant, per asset, reading a few rows per asset, never
    -- a scan of the table.
    --
    -- prices_as_of_join zips its arrays (symbols[i] as of instants[i]: an as-of join) and returns rows in no particular
    -- order (ordinal is i); prices_as_of asks every symbol as of one instant, in the order given. A row older than max_age
    -- counts as missing: its columns are NULL and latest_date says when it was. Unknown symbols give a row with asset_id
    -- NULL. Both editions (nothing here is community-only).
    --
    -- How: the chunks are walked newest first. In each, the requests still open whose instant is not before the chunk's
    -- start are answered:
    --   - many assets as of one instant (a portfolio): from the chunk's last N rows before the instant (N open requests),
    --     one range scan, when the assets trade about as often as each other;
    --   - the others: one probe of the (asset_id, date) key each, ORDER BY date DESC LIMIT 1, LATERAL.
    -- Answered requests leave; the rest go on to the next chunk. Statements read the chunk itself (TimescaleDB decompresses
    -- a compressed chunk read directly). Measured on 13 chunks, this is what makes it fast: one LATERAL probe through the
    -- hypertable pays TimescaleDB's run-time chunk exclusion on every loop (about 20 us, against 6 us for the probe), and
    -- a statement over the hypertable, even with a chunk's bounds as constants, took 9 ms to plan. PostgreSQL already
    -- turns the naive "date = (SELECT max(date) ...)" per asset into the first kind of probe.
    -- The time index (date DESC) orders rows like the key does, and on chunks not yet vacuumed PostgreSQL's costs prefer
    -- walking it and filtering by asset: cheap for an asset that trades every minute, a walk through every other asset's
    -- rows for one that stopped trading (199,325 rows instead of 1, measured). Index tuples are therefore costed higher
    -- inside the function (SET cpu_index_tuple_cost), which makes a walk cost what it does and leaves the key probe.

    -- One answer; the row type of both functions.
    DO $fh$
    BEGIN
      CREATE TYPE financehub.price_as_of AS (
        ordinal bigint, symbol text, requested_at timestamptz, asset_id integer, latest_date timestamptz,
        date timestamptz, open numeric, high numeric, low numeric, close numeric, adjusted_close numeric,
        volume numeric, trade_count integer);
    EXCEPTION WHEN duplicate_object THEN NULL;
    END
    $fh$;

    CREATE OR REPLACE FUNCTION financehub.prices_as_of_join(symbols text[], instants timestamptz[], max_age interval DEFAULT NULL)
    RETURNS SETOF financehub.price_as_of
    LANGUAGE plpgsql STABLE
    SET cpu_index_tuple_cost = 1
    AS
    $fn$
    #variable_conflict use_column
    DECLARE
      chunk record;
      window_start timestamptz;
      answers financehub.price_as_of[];
      -- Requests still open: ordinal, symbol, instant, asset.
      o_ord bigint[]; o_sym text[]; o_at timestamptz[]; o_asset integer[];
      -- What a chunk's statement returns: the answers it found (a NULL array when none) and the requests still open.
      -- A row older than max_age counts as missing: its columns are NULL, and latest_date says when it was.
      answered CONSTANT text := $q$
          SELECT array_agg(ROW(r.o, r.s, r.t, r.a, p.date,
                               CASE WHEN f.fresh THEN p.date END, CASE WHEN f.fresh THEN p.open END, CASE WHEN f.fresh THEN p.high END,
                               CASE WHEN f.fresh THEN p.low END, CASE WHEN f.fresh THEN p.close END, CASE WHEN f.fresh THEN p.adjusted_close END,
                               CASE WHEN f.fresh THEN p.volume END, CASE WHEN f.fresh THEN p.trade_count END)::financehub.price_as_of)
                   FILTER (WHERE p.date IS NOT NULL),
                 coalesce(array_agg(r.o) FILTER (WHERE p.date IS NULL), '{}'), coalesce(array_agg(r.s) FILTER (WHERE p.date IS NULL), '{}'),
                 coalesce(array_agg(r.t) FILTER (WHERE p.date IS NULL), '{}'), coalesce(array_agg(r.a) FILTER (WHERE p.date IS NULL), '{}')
          FROM unnest($1, $2, $3, $4) AS r (o, s, t, a)
          $q$;
      -- Ages are compared in seconds: an interval of days subtracted from a time would follow the session's calendar and
      -- make a day 23 or 25 hours long across a clock change.
      fresh CONSTANT text :=
        ' CROSS JOIN LATERAL (SELECT $5::interval IS NULL OR extract(epoch FROM r.t - p.date) <= extract(epoch FROM $5::interval) AS fresh) f';
    BEGIN
      IF symbols IS NULL OR instants IS NULL OR cardinality(symbols) <> cardinality(instants) THEN
        RAISE EXCEPTION 'prices_as_of_join needs two arrays of the same length (symbols[i] as of instants[i]); got % symbols and % instants',
          coalesce(cardinality(symbols)::text, 'NULL'), coalesce(cardinality(instants)::text, 'NULL') USING ERRCODE = 'invalid_parameter_value';
      END IF;
      IF array_position(instants, NULL) IS NOT NULL OR array_position(symbols, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'prices_as_of_join: request % has no %', coalesce(array_position(symbols, NULL), array_position(instants, NULL)),
          CASE WHEN array_position(symbols, NULL) IS NOT NULL THEN 'symbol' ELSE 'instant' END USING ERRCODE = 'invalid_parameter_value';
      END IF;
      IF max_age < interval '0' THEN
        RAISE EXCEPTION 'prices_as_of: the staleness limit (%) must not be negative', max_age USING ERRCODE = 'invalid_parameter_value';
      END IF;

      -- Requests of known assets are open; unknown symbols are answered at once, asset_id NULL.
      SELECT coalesce(array_agg(r.ord) FILTER (WHERE a.id IS NOT NULL), '{}'), coalesce(array_agg(r.sym) FILTER (WHERE a.id IS NOT NULL), '{}'),
             coalesce(array_agg(r.at) FILTER (WHERE a.id IS NOT NULL), '{}'), coalesce(array_agg(a.id) FILTER (WHERE a.id IS NOT NULL), '{}'),
             array_agg(ROW(r.ord, r.sym, r.at, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::financehub.price_as_of)
               FILTER (WHERE a.id IS NULL)
        INTO o_ord, o_sym, o_at, o_asset, answers
        FROM unnest(symbols, instants) WITH ORDINALITY AS r (sym, at, ord)
        LEFT JOIN assets a ON a.symbol = r.sym;
      RETURN QUERY SELECT * FROM unnest(answers);

      FOR chunk IN
        SELECT format('%I.%I', c.chunk_schema, c.chunk_name) AS relation, c.range_start
        FROM timescaledb_information.chunks c
        JOIN pg_class t ON t.oid = 'asset_prices_historic'::regclass
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE c.hypertable_schema = n.nspname AND c.hypertable_name = t.relname
        ORDER BY c.range_end DESC
      LOOP
        EXIT WHEN cardinality(o_ord) = 0;
        CONTINUE WHEN NOT EXISTS (SELECT FROM unnest(o_at) t WHERE t >= chunk.range_start);

        -- Many assets as of one instant (a portfolio): when they trade about as often as each other, the latest row of
        -- each is among the chunk's last rows before the instant. One range scan of the last N rows (N the number of open
        -- requests; the window's start is read by walking N entries of the time index) answers them all; the assets not
        -- in that window are probed below.
        IF cardinality(o_ord) >= 16 AND (SELECT count(DISTINCT t) FROM unnest(o_at) t) = 1 AND o_at[1] >= chunk.range_start THEN
          EXECUTE format('SELECT h.date FROM %s h WHERE h.date <= $1 ORDER BY h.date DESC OFFSET $2 LIMIT 1', chunk.relation)
            INTO window_start USING o_at[1], cardinality(o_ord) - 1;
          EXECUTE answered || format(
            $q$
            LEFT JOIN (
              SELECT DISTINCT ON (h.asset_id) h.asset_id, h.date, h.open, h.high, h.low, h.close, h.adjusted_close, h.volume, h.trade_count
              FROM %1$s h
              WHERE h.date <= $6 AND h.date >= $7
              ORDER BY h.asset_id, h.date DESC) p ON p.asset_id = r.a
            $q$, chunk.relation) || fresh
            INTO answers, o_ord, o_sym, o_at, o_asset
            USING o_ord, o_sym, o_at, o_asset, max_age, o_at[1], coalesce(window_start, chunk.range_start);
          RETURN QUERY SELECT * FROM unnest(answers);
          CONTINUE WHEN cardinality(o_ord) = 0;
        END IF;

        -- Each open request whose instant is not before the chunk: one probe of the (asset_id, date) key.
        EXECUTE answered || format(
          $q$
          LEFT JOIN LATERAL (
            SELECT h.date, h.open, h.high, h.low, h.close, h.adjusted_close, h.volume, h.trade_count
            FROM %1$s h
            WHERE r.t >= %2$L::timestamptz AND h.asset_id = r.a AND h.date <= r.t
            ORDER BY h.date DESC
            LIMIT 1) p ON true
          $q$, chunk.relation, chunk.range_start) || fresh
          INTO answers, o_ord, o_sym, o_at, o_asset
          USING o_ord, o_sym, o_at, o_asset, max_age;
        RETURN QUERY SELECT * FROM unnest(answers);
      END LOOP;

      -- No row at or before the instant.
      RETURN QUERY
        SELECT u.ord, u.sym, u.at, u.asset, NULL::timestamptz, NULL::timestamptz, NULL::numeric, NULL::numeric, NULL::numeric,
               NULL::numeric, NULL::numeric, NULL::numeric, NULL::integer
        FROM unnest(o_ord, o_sym, o_at, o_asset) AS u (ord, sym, at, asset);
    END
    $fn$;

    CREATE OR REPLACE FUNCTION financehub.prices_as_of(symbols text[], instant timestamptz, max_age interval DEFAULT NULL)
    RETURNS SETOF financehub.price_as_of
    LANGUAGE sql STABLE AS
    $fn$
      SELECT * FROM financehub.prices_as_of_join(symbols, array_fill(instant, ARRAY[coalesce(cardinality(symbols), 0)]), max_age) p ORDER BY p.ordinal
    $fn$;

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261129043740_PricesAsOf') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261129043740_PricesAsOf', '10.0.15');
    END IF;
END $EF$;
COMMIT;

START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261129052619_CorporateActions') THEN
    CREATE TABLE corporate_actions (
        id bigint GENERATED ALWAYS AS IDENTITY,
        asset_id integer NOT NULL,
        kind character varying(16) NOT NULL,
        effective_at timestamp with time zone NOT NULL,
        new_shares numeric(20,10),
        old_shares numeric(20,10),
        amount numeric(20,8),
        source character varying(64),
        created_at timestamp with time zone NOT NULL DEFAULT (now()),
        CONSTRAINT pk_corporate_actions PRIMARY KEY (id),
        CONSTRAINT ck_corporate_actions_value CHECK ((kind = 'split' AND new_shares > 0 AND old_shares > 0 AND amount IS NULL) OR (kind = 'dividend' AND amount > 0 AND new_shares IS NULL AND old_shares IS NULL)),
        CONSTRAINT fk_corporate_actions_assets_asset_id FOREIGN KEY (asset_id) REFERENCES assets (id) ON DELETE RESTRICT
    );
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261129052619_CorporateActions') THEN
    CREATE UNIQUE INDEX ix_corporate_actions_asset_id_kind_effective_at ON corporate_actions (asset_id, kind, effective_at);
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261129052619_CorporateActions') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261129052619_CorporateActions', '10.0.15');
    END IF;
END $EF$;
COMMIT;

START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261129070203_CandleLadder') THEN
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

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261129070203_CandleLadder') THEN
    -- The candle ladder: 4-hour candles from the hourly aggregate, weekly (ISO weeks, Monday 00:00 UTC: time_bucket's
    -- default origin is Monday 2000-01-03) and monthly (calendar months, UTC) candles from the daily one. Rolled up the
    -- way the rows were: open = first(open), high = max, low = min, close = last(close), volume and trade_count summed.
    --
    -- Community edition: continuous aggregates on continuous aggregates (hierarchical, TimescaleDB 2.9+), real-time,
    -- refreshed by policies whose windows cover at least two of their buckets. They read their parent's rows, never the
    -- raw ones, so what retention dropped from asset_prices_historic but the parent keeps stays in them too.
    --
    -- Apache edition: materialized views over the parents' materialized views, with a unique index (REFRESH ...
    -- CONCURRENTLY). They have no policy of their own: financehub.refresh_materialized_view refreshes a parent's rungs
    -- (financehub.candle_ladder) after it, in the same transaction, so a rung is always exactly its parent rolled up and
    -- shares its watermark.
    --
    -- financehub.candle_ladder declares the rungs, on both editions: which view rolls up which, at what width.
    CREATE TABLE IF NOT EXISTS financehub.candle_ladder (
      view_name regclass PRIMARY KEY,
      parent regclass NOT NULL,
      width interval NOT NULL);

    DO $fh$
    DECLARE
      rung record;
    BEGIN
      FOR rung IN
        SELECT * FROM (VALUES
          ('asset_prices_4hour', 'asset_prices_hourly', INTERVAL '4 hours', INTERVAL '7 days', INTERVAL '1 hour', INTERVAL '30 minutes'),
          ('asset_prices_weekly', 'asset_prices_daily', INTERVAL '7 days', INTERVAL '35 days', INTERVAL '1 hour', INTERVAL '1 hour'),
          ('asset_prices_monthly', 'asset_prices_daily', INTERVAL '1 month', INTERVAL '3 months', INTERVAL '1 hour', INTERVAL '1 hour'))
          AS r (view_name, parent, width, start_offset, end_offset, schedule)
      LOOP
        IF financehub.timescale_license() = 'timescale' THEN
          EXECUTE format(
            $sql$
            CREATE MATERIALIZED VIEW IF NOT EXISTS %1$I
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT asset_id, time_bucket(%3$L::interval, bucket) AS bucket,
                   first(open, bucket) AS open, max(high) AS high, min(low) AS low, last(close, bucket) AS close,
                   sum(volume) AS volume, sum(trade_count)::bigint AS trade_count
            FROM %2$I
            GROUP BY asset_id, time_bucket(%3$L::interval, bucket)
            WITH NO DATA
            $sql$, rung.view_name, rung.parent, rung.width);
          PERFORM add_continuous_aggregate_policy(rung.view_name::regclass, start_offset => rung.start_offset,
            end_offset => rung.end_offset, schedule_interval => rung.schedule, if_not_exists => true);
        ELSE
          EXECUTE format(
            $sql$
            CREATE MATERIALIZED VIEW IF NOT EXISTS %1$I AS
            SELECT asset_id, time_bucket(%3$L::interval, bucket) AS bucket,
                   first(open, bucket) AS open, max(high) AS high, min(low) AS low, last(close, bucket) AS close,
                   sum(volume) AS volume, sum(trade_count)::bigint AS trade_count
            FROM %2$I
            GROUP BY asset_id, time_bucket(%3$L::interval, bucket)
            $sql$, rung.view_name, rung.parent, rung.width);
          EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS %I ON %I (asset_id, bucket)', 'ux_' || rung.view_name || '_asset_id_bucket', rung.view_name);
        END IF;
        INSERT INTO financehub.candle_ladder (view_name, parent, width)
        VALUES (rung.view_name::regclass, rung.parent::regclass, rung.width)
        ON CONFLICT (view_name) DO NOTHING;
      END LOOP;
    END
    $fh$;

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261129070203_CandleLadder') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261129070203_CandleLadder', '10.0.15');
    END IF;
END $EF$;
COMMIT;


DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261129070218_CandleLadderInitialRefresh') THEN
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

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261129070218_CandleLadderInitialRefresh') THEN
    -- Materialize the candle ladder over what the daily and hourly aggregates already hold (the rungs' policies only look
    -- back 7 days to 3 months). Community edition only: on the Apache edition the views were created with their data.
    -- NOT TRANSACTIONAL, like 0300_price_aggregates_refresh (and for the same reasons: refresh_continuous_aggregate
    -- cannot run in a transaction block, and since TimescaleDB 2.27 a refresh overlapping a policy's run fails with 55P03,
    -- so each refresh waits for one under way, financehub.refresh_continuous_aggregate_when_free; the policies are left alone).
    -- A rung is refreshed no further than its parent's watermark (so it never holds a candle its parent has not
    -- finished; the repository reads that one from the parent). It only (re)computes aggregate rows: running it again is safe.
    DO $fh$
    DECLARE
      rung record;
      parent_watermark timestamptz;
    BEGIN
      IF financehub.timescale_license() = 'timescale' THEN
        FOR rung IN SELECT * FROM (VALUES ('asset_prices_4hour', 'asset_prices_hourly'), ('asset_prices_weekly', 'asset_prices_daily'),
                                          ('asset_prices_monthly', 'asset_prices_daily')) AS r (view_name, parent) LOOP
          SELECT _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id)) INTO parent_watermark
          FROM _timescaledb_catalog.continuous_agg c WHERE c.user_view_name = rung.parent;
          -- With nothing materialized the watermark is the lowest time there is: nothing to roll up.
          IF parent_watermark > '1900-01-01' THEN
            CALL financehub.refresh_continuous_aggregate_when_free(rung.view_name::regclass, NULL, least(now() - INTERVAL '1 hour', parent_watermark));
          END IF;
        END LOOP;
      END IF;
    END
    $fh$;

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261129070218_CandleLadderInitialRefresh') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261129070218_CandleLadderInitialRefresh', '10.0.15');
    END IF;
END $EF$;
START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261203164832_CsvLineChecksum') THEN
    ALTER TABLE financehub.archives ADD content_checksum_algorithm character varying(32);
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261203164832_CsvLineChecksum') THEN
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

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261203164832_CsvLineChecksum') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261203164832_CsvLineChecksum', '10.0.15');
    END IF;
END $EF$;
COMMIT;

START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261203195832_AsOfColdTier') THEN
    ALTER TABLE financehub.archives ADD restored_at timestamp with time zone;
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261203195832_AsOfColdTier') THEN
    -- As-of prices and the cold tier. Rows of asset_prices_historic that were archived and dropped are no longer in the
    -- database, and an as-of answer older than them could be wrong: the true latest price may be in the archive. Such an
    -- answer now says so: its price columns are NULL, and archived_from, archived_to and archive_ids name the ranges to
    -- restore. financehub.cold_ranges is the one test of "archived, dropped and not all back"; candle and bucket reads
    -- (Querying/ColdTier.cs) use it too.

    -- The archived-and-dropped ranges of a table that the given [start, end) parts overlap and whose rows are not all
    -- back. A range is back when every archive of it that was dropped has been restored since (financehub.archives
    -- .restored_at, which a restore into the archive's own table sets) and the table still holds at least as many rows in
    -- it as the largest of those archives (rows dropped again after a restore, by retention say, would be missed
    -- otherwise: nothing tells the catalog).
    -- Late rows, another asset's backfill or one restored archive of several do not make a range look back. The catalog
    -- decides most ranges; counting (one statement, planned with the range's bounds) is paid only for a reached range
    -- whose archives were all restored.
    CREATE OR REPLACE FUNCTION financehub.cold_ranges(table_name text, time_column text, starts timestamptz[], ends timestamptz[])
    RETURNS TABLE (range_start timestamptz, range_end timestamptz, archive_ids uuid[])
    LANGUAGE plpgsql STABLE
    AS
    $fn$
    #variable_conflict use_column
    DECLARE
      lo timestamptz;
      hi timestamptz;
      reached record;
      short boolean;
    BEGIN
      SELECT min(r.s), max(r.e) INTO lo, hi FROM unnest(starts, ends) AS r (s, e) WHERE r.s < r.e;
      IF lo IS NULL THEN
        RETURN;
      END IF;

      FOR reached IN
        SELECT a.range_start, a.range_end, array_agg(a.id ORDER BY a.created_at, a.id) AS ids, max(a.row_count) AS largest,
               bool_or(a.restored_at IS NULL OR a.dropped_at IS NULL OR a.restored_at < a.dropped_at) AS missing
        FROM financehub.archives a
        WHERE a.table_name = cold_ranges.table_name AND a.status = 'Dropped' AND a.range_start < hi AND a.range_end > lo
          AND EXISTS (SELECT FROM unnest(starts, ends) AS r (s, e) WHERE r.s < r.e AND a.range_start < r.e AND a.range_end > r.s)
        GROUP BY a.range_start, a.range_end
        ORDER BY a.range_start, a.range_end
      LOOP
        short := reached.missing;
        IF NOT short THEN
          EXECUTE format('SELECT count(*) < $3 FROM %1$I t WHERE t.%2$I >= $1 AND t.%2$I < $2', cold_ranges.table_name, time_column)
            INTO short USING reached.range_start, reached.range_end, reached.largest;
        END IF;
        IF short THEN
          range_start := reached.range_start;
          range_end := reached.range_end;
          archive_ids := reached.ids;
          RETURN NEXT;
        END IF;
      END LOOP;
    END
    $fn$;

    -- The row type gains the cold-tier columns; the functions below build rows of all sixteen.
    DO $fh$
    BEGIN
      IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'financehub.price_as_of'::regclass AND attname = 'archived_from' AND NOT attisdropped) THEN
        ALTER TYPE financehub.price_as_of
          ADD ATTRIBUTE archived_from timestamptz, ADD ATTRIBUTE archived_to timestamptz, ADD ATTRIBUTE archive_ids uuid[];
      END IF;
    END
    $fh$;

    -- As 0800's (which says how they read), with the cold-tier check at the end.
    CREATE OR REPLACE FUNCTION financehub.prices_as_of_join(symbols text[], instants timestamptz[], max_age interval DEFAULT NULL)
    RETURNS SETOF financehub.price_as_of
    LANGUAGE plpgsql STABLE
    SET cpu_index_tuple_cost = 1
    AS
    $fn$
    #variable_conflict use_column
    DECLARE
      chunk record;
      window_start timestamptz;
      answers financehub.price_as_of[];
      -- Whether any rows of the table were archived and dropped: then every answer is kept and returned at the end, after
      -- the cold-tier check (otherwise each is returned as it is found).
      checking boolean;
      found_rows financehub.price_as_of[];
      -- Requests still open: ordinal, symbol, instant, asset.
      o_ord bigint[]; o_sym text[]; o_at timestamptz[]; o_asset integer[];
      -- What a chunk's statement returns: the answers it found (a NULL array when none) and the requests still open.
      -- A row older than max_age counts as missing: its columns are NULL, and latest_date says when it was.
      answered CONSTANT text := $q$
          SELECT array_agg(ROW(r.o, r.s, r.t, r.a, p.date,
                               CASE WHEN f.fresh THEN p.date END, CASE WHEN f.fresh THEN p.open END, CASE WHEN f.fresh THEN p.high END,
                               CASE WHEN f.fresh THEN p.low END, CASE WHEN f.fresh THEN p.close END, CASE WHEN f.fresh THEN p.adjusted_close END,
                               CASE WHEN f.fresh THEN p.volume END, CASE WHEN f.fresh THEN p.trade_count END, NULL, NULL, NULL)::financehub.price_as_of)
                   FILTER (WHERE p.date IS NOT NULL),
                 coalesce(array_agg(r.o) FILTER (WHERE p.date IS NULL), '{}'), coalesce(array_agg(r.s) FILTER (WHERE p.date IS NULL), '{}'),
                 coalesce(array_agg(r.t) FILTER (WHERE p.date IS NULL), '{}'), coalesce(array_agg(r.a) FILTER (WHERE p.date IS NULL), '{}')
          FROM unnest($1, $2, $3, $4) AS r (o, s, t, a)
          $q$;
      -- Ages are compared in seconds: an interval of days subtracted from a time would follow the session's calendar and
      -- make a day 23 or 25 hours long across a clock change.
      fresh CONSTANT text :=
        ' CROSS JOIN LATERAL (SELECT $5::interval IS NULL OR extract(epoch FROM r.t - p.date) <= extract(epoch FROM $5::interval) AS fresh) f';
    BEGIN
      IF symbols IS NULL OR instants IS NULL OR cardinality(symbols) <> cardinality(instants) THEN
        RAISE EXCEPTION 'prices_as_of_join needs two arrays of the same length (symbols[i] as of instants[i]); got % symbols and % instants',
          coalesce(cardinality(symbols)::text, 'NULL'), coalesce(cardinality(instants)::text, 'NULL') USING ERRCODE = 'invalid_parameter_value';
      END IF;
      IF array_position(instants, NULL) IS NOT NULL OR array_position(symbols, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'prices_as_of_join: request % has no %', coalesce(array_position(symbols, NULL), array_position(instants, NULL)),
          CASE WHEN array_position(symbols, NULL) IS NOT NULL THEN 'symbol' ELSE 'instant' END USING ERRCODE = 'invalid_parameter_value';
      END IF;
      IF max_age < interval '0' THEN
        RAISE EXCEPTION 'prices_as_of: the staleness limit (%) must not be negative', max_age USING ERRCODE = 'invalid_parameter_value';
      END IF;

      checking := EXISTS (SELECT FROM financehub.archives a WHERE a.table_name = 'asset_prices_historic' AND a.status = 'Dropped');

      -- Requests of known assets are open; unknown symbols are answered at once, asset_id NULL.
      SELECT coalesce(array_agg(r.ord) FILTER (WHERE a.id IS NOT NULL), '{}'), coalesce(array_agg(r.sym) FILTER (WHERE a.id IS NOT NULL), '{}'),
             coalesce(array_agg(r.at) FILTER (WHERE a.id IS NOT NULL), '{}'), coalesce(array_agg(a.id) FILTER (WHERE a.id IS NOT NULL), '{}'),
             array_agg(ROW(r.ord, r.sym, r.at, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::financehub.price_as_of)
               FILTER (WHERE a.id IS NULL)
        INTO o_ord, o_sym, o_at, o_asset, answers
        FROM unnest(symbols, instants) WITH ORDINALITY AS r (sym, at, ord)
        LEFT JOIN assets a ON a.symbol = r.sym;
      IF checking THEN found_rows := found_rows || answers; ELSE RETURN QUERY SELECT * FROM unnest(answers); END IF;

      FOR chunk IN
        SELECT format('%I.%I', c.chunk_schema, c.chunk_name) AS relation, c.range_start
        FROM timescaledb_information.chunks c
        JOIN pg_class t ON t.oid = 'asset_prices_historic'::regclass
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE c.hypertable_schema = n.nspname AND c.hypertable_name = t.relname
        ORDER BY c.range_end DESC
      LOOP
        EXIT WHEN cardinality(o_ord) = 0;
        CONTINUE WHEN NOT EXISTS (SELECT FROM unnest(o_at) t WHERE t >= chunk.range_start);

        -- Many assets as of one instant (a portfolio): when they trade about as often as each other, the latest row of
        -- each is among the chunk's last rows before the instant. One range scan of the last N rows (N the number of open
        -- requests; the window's start is read by walking N entries of the time index) answers them all; the assets not
        -- in that window are probed below.
        IF cardinality(o_ord) >= 16 AND (SELECT count(DISTINCT t) FROM unnest(o_at) t) = 1 AND o_at[1] >= chunk.range_start THEN
          EXECUTE format('SELECT h.date FROM %s h WHERE h.date <= $1 ORDER BY h.date DESC OFFSET $2 LIMIT 1', chunk.relation)
            INTO window_start USING o_at[1], cardinality(o_ord) - 1;
          EXECUTE answered || format(
            $q$
            LEFT JOIN (
              SELECT DISTINCT ON (h.asset_id) h.asset_id, h.date, h.open, h.high, h.low, h.close, h.adjusted_close, h.volume, h.trade_count
              FROM %1$s h
              WHERE h.date <= $6 AND h.date >= $7
              ORDER BY h.asset_id, h.date DESC) p ON p.asset_id = r.a
            $q$, chunk.relation) || fresh
            INTO answers, o_ord, o_sym, o_at, o_asset
            USING o_ord, o_sym, o_at, o_asset, max_age, o_at[1], coalesce(window_start, chunk.range_start);
          IF checking THEN found_rows := found_rows || answers; ELSE RETURN QUERY SELECT * FROM unnest(answers); END IF;
          CONTINUE WHEN cardinality(o_ord) = 0;
        END IF;

        -- Each open request whose instant is not before the chunk: one probe of the (asset_id, date) key.
        EXECUTE answered || format(
          $q$
          LEFT JOIN LATERAL (
            SELECT h.date, h.open, h.high, h.low, h.close, h.adjusted_close, h.volume, h.trade_count
            FROM %1$s h
            WHERE r.t >= %2$L::timestamptz AND h.asset_id = r.a AND h.date <= r.t
            ORDER BY h.date DESC
            LIMIT 1) p ON true
          $q$, chunk.relation, chunk.range_start) || fresh
          INTO answers, o_ord, o_sym, o_at, o_asset
          USING o_ord, o_sym, o_at, o_asset, max_age;
        IF checking THEN found_rows := found_rows || answers; ELSE RETURN QUERY SELECT * FROM unnest(answers); END IF;
      END LOOP;

      -- No row at or before the instant.
      answers := ARRAY(
        SELECT ROW(u.ord, u.sym, u.at, u.asset, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::financehub.price_as_of
        FROM unnest(o_ord, o_sym, o_at, o_asset) AS u (ord, sym, at, asset));
      IF NOT checking THEN
        RETURN QUERY SELECT * FROM unnest(answers);
        RETURN;
      END IF;
      found_rows := found_rows || answers;

      -- The cold tier: an answer is only as good as the rows between it and its instant. Where rows of
      -- (latest_date, instant] were archived and dropped and are not all back, the true latest price may be among them:
      -- the answer's price columns are NULL, and archived_from, archived_to and archive_ids name what to restore.
      RETURN QUERY
        WITH r AS MATERIALIZED (SELECT * FROM unnest(found_rows)),
        -- (latest_date, instant] as a half-open range of microseconds, [latest_date + 1 us, instant + 1 us); of the answers
        -- for one instant (a portfolio) only the oldest matters for which ranges are reached.
        cold AS MATERIALIZED (
          SELECT k.*
          FROM (SELECT array_agg(g.s) AS s, array_agg(g.e) AS e
                FROM (SELECT min(coalesce(r.latest_date + interval '1 microsecond', '-infinity')) AS s, r.requested_at + interval '1 microsecond' AS e
                      FROM r WHERE r.asset_id IS NOT NULL GROUP BY r.requested_at) g) q
          CROSS JOIN LATERAL financehub.cold_ranges('asset_prices_historic', 'date', q.s, q.e) k)
        SELECT r.ordinal, r.symbol, r.requested_at, r.asset_id, r.latest_date,
               CASE WHEN c.ids IS NULL THEN r.date END, CASE WHEN c.ids IS NULL THEN r.open END, CASE WHEN c.ids IS NULL THEN r.high END,
               CASE WHEN c.ids IS NULL THEN r.low END, CASE WHEN c.ids IS NULL THEN r.close END, CASE WHEN c.ids IS NULL THEN r.adjusted_close END,
               CASE WHEN c.ids IS NULL THEN r.volume END, CASE WHEN c.ids IS NULL THEN r.trade_count END,
               c.archived_from, c.archived_to, c.ids
        FROM r
        LEFT JOIN LATERAL (
          SELECT min(k.range_start) AS archived_from, max(k.range_end) AS archived_to, array_agg(u.id ORDER BY k.range_start, u.n) AS ids
          FROM cold k CROSS JOIN LATERAL unnest(k.archive_ids) WITH ORDINALITY AS u (id, n)
          WHERE r.asset_id IS NOT NULL AND k.range_start <= r.requested_at
            AND k.range_end > coalesce(r.latest_date + interval '1 microsecond', '-infinity')
          HAVING count(*) > 0) c ON true;
    END
    $fn$;

    CREATE OR REPLACE FUNCTION financehub.prices_as_of(symbols text[], instant timestamptz, max_age interval DEFAULT NULL)
    RETURNS SETOF financehub.price_as_of
    LANGUAGE sql STABLE AS
    $fn$
      SELECT * FROM financehub.prices_as_of_join(symbols, array_fill(instant, ARRAY[coalesce(cardinality(symbols), 0)]), max_age) p ORDER BY p.ordinal
    $fn$;

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261203195832_AsOfColdTier') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261203195832_AsOfColdTier', '10.0.15');
    END IF;
END $EF$;
COMMIT;

START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261208011110_LoadLedger') THEN
    -- A load's refresh is owed before the load commits. A load (ingest, restore) records, in the same transaction as its
    -- rows, one row per price aggregate whose `kind` is 'rows': [range_start, range_end] is the time span of the rows it
    -- wrote. Completing it refreshes what those rows need (their buckets up to the aggregate's watermark, or to where
    -- its refresh policy stops), then deletes it. The load completes its own rows after committing; whatever an
    -- interruption leaves (a lost connection, a killed process) the next `financehub-data maintain`, or the same load run
    -- again, completes, however old. 'window' rows, as before, are windows to refresh exactly as recorded.
    ALTER TABLE financehub.pending_refreshes ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'window';
    DO $fh$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'pending_refreshes_kind_check'
                     AND conrelid = 'financehub.pending_refreshes'::regclass) THEN
        ALTER TABLE financehub.pending_refreshes ADD CONSTRAINT pending_refreshes_kind_check CHECK (kind IN ('window', 'rows'));
      END IF;
    END
    $fh$;

    -- Loads that committed, by the key the loader gave (a CLI load: the SHA-256 of its file). A parallel load commits
    -- one transaction per stream, and each records its part of the attempt here in that transaction: a load run again
    -- finds an attempt with every part (nothing left to load), none (load it), or only attempts with some parts (an
    -- interruption between the streams' commits: the rest is loaded as a new attempt, keeping the rows that are there).
    CREATE TABLE IF NOT EXISTS financehub.loads (
      load_key text NOT NULL,
      attempt uuid NOT NULL,
      part integer NOT NULL,
      parts integer NOT NULL,
      table_name text NOT NULL,
      rows_written bigint NOT NULL,
      first_time timestamptz,
      last_time timestamptz,
      loaded_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (load_key, attempt, part),
      CHECK (part >= 0 AND part < parts)
    );

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261208011110_LoadLedger') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261208011110_LoadLedger', '10.0.15');
    END IF;
END $EF$;
COMMIT;

START TRANSACTION;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261208030000_OwedRefreshJob') THEN
    -- Community edition: TimescaleDB's scheduler completes what loads owe the aggregates, as maintain does (both
    -- editions), without anyone running maintain. financehub.complete_owed_refreshes runs as a job every five minutes: for
    -- each 'rows' record of financehub.pending_refreshes (the time span of rows a load wrote, recorded in the load's own
    -- transaction) it refreshes what those rows need, decided against the aggregate's watermark now, then deletes the
    -- record. The rule is the one the loads themselves apply after their commit:
    --   * rows below the watermark: their buckets, up to the watermark;
    --   * a watermark below the refresh policy's reach (nothing materialized there yet): from the rows up to where the
    --     policy stops (an hour before now);
    --   * otherwise the rows are the policy's, and nothing is refreshed here.
    -- Never before the oldest raw chunk (those buckets would be recomputed from nothing and deleted). The candle ladder's
    -- rungs over the aggregate are refreshed over the same window widened to their whole candles, never past the
    -- parent's watermark or an hour before now (candles they already hold are recomputed). A refresh that meets one under
    -- way (55P03) fails the run; the record stays, and the next run (or maintain) completes it.
    DO $fh$
    BEGIN
      IF financehub.timescale_license() <> 'timescale' THEN
        RETURN;
      END IF;
      EXECUTE $ddl$
        CREATE OR REPLACE PROCEDURE financehub.complete_owed_refreshes(job_id integer DEFAULT NULL, config jsonb DEFAULT NULL)
        LANGUAGE plpgsql AS $proc$
        DECLARE
          r record;
          rung record;
          width interval;
          agg record;
          mark timestamptz;
          rung_mark timestamptz;
          reach interval;
          floor_at timestamptz;
          first timestamptz;
          last timestamptz;
          rung_first timestamptz;
          rung_last timestamptz;
          rung_cap timestamptz;
        BEGIN
          FOR r IN SELECT p.id, p.view_name, p.range_start, p.range_end FROM financehub.pending_refreshes p
                   WHERE p.kind = 'rows' AND p.range_start IS NOT NULL AND p.range_end IS NOT NULL ORDER BY p.id LOOP
            width := CASE r.view_name WHEN 'asset_prices_hourly' THEN interval '1 hour' WHEN 'asset_prices_daily' THEN interval '1 day' END;
            SELECT c.mat_hypertable_id,
                   nullif(greatest(_timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id)),
                                   '0001-01-01 00:00:00+00'::timestamptz), '0001-01-01 00:00:00+00'::timestamptz) AS watermark
              INTO agg
              FROM _timescaledb_catalog.continuous_agg c
              WHERE c.user_view_schema = current_schema() AND c.user_view_name = r.view_name;
            SELECT min(range_start) INTO floor_at FROM timescaledb_information.chunks
              WHERE hypertable_schema = current_schema() AND hypertable_name = 'asset_prices_historic';
            IF width IS NOT NULL AND agg.mat_hypertable_id IS NOT NULL AND floor_at IS NOT NULL THEN
              mark := agg.watermark;
              SELECT (j.config->>'start_offset')::interval INTO reach FROM _timescaledb_config.bgw_job j
                WHERE j.proc_name = 'policy_refresh_continuous_aggregate' AND j.hypertable_id = agg.mat_hypertable_id;
              first := time_bucket(width, r.range_start);
              last := NULL;
              IF reach IS NOT NULL AND (mark IS NULL OR mark < now() - reach) THEN
                IF mark IS NOT NULL AND mark < r.range_start THEN
                  first := time_bucket(width, mark);
                END IF;
                last := time_bucket(width, now() - interval '1 hour');
              ELSIF mark IS NOT NULL AND r.range_start < mark THEN
                last := least(time_bucket(width, r.range_end) + width, mark);
              END IF;
              first := greatest(first, floor_at);
              IF last IS NOT NULL AND first + width <= last THEN
                CALL refresh_continuous_aggregate(r.view_name::regclass, first, last);
                SELECT nullif(greatest(_timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(agg.mat_hypertable_id)),
                                       '0001-01-01 00:00:00+00'::timestamptz), '0001-01-01 00:00:00+00'::timestamptz) INTO mark;
                FOR rung IN SELECT l.view_name::text AS view_name, l.width FROM financehub.candle_ladder l
                            WHERE l.parent = r.view_name::regclass ORDER BY l.width LOOP
                  rung_cap := time_bucket(rung.width, least(coalesce(mark, '-infinity'), now() - interval '1 hour'));
                  SELECT nullif(greatest(_timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id)),
                                         '0001-01-01 00:00:00+00'::timestamptz), '0001-01-01 00:00:00+00'::timestamptz)
                    INTO rung_mark FROM _timescaledb_catalog.continuous_agg c
                    WHERE c.user_view_schema = current_schema() AND c.user_view_name = rung.view_name;
                  IF rung_mark IS NOT NULL AND rung_mark > rung_cap THEN
                    rung_cap := rung_mark;
                  END IF;
                  rung_first := time_bucket(rung.width, first);
                  rung_last := least(time_bucket(rung.width, last - interval '1 microsecond') + rung.width, rung_cap);
                  IF rung_first + rung.width <= rung_last THEN
                    CALL refresh_continuous_aggregate(rung.view_name::regclass, rung_first, rung_last);
                  END IF;
                END LOOP;
              END IF;
            END IF;
            DELETE FROM financehub.pending_refreshes WHERE id = r.id;
            COMMIT;
          END LOOP;
        END
        $proc$
      $ddl$;
      IF NOT EXISTS (SELECT 1 FROM timescaledb_information.jobs WHERE proc_schema = 'financehub' AND proc_name = 'complete_owed_refreshes') THEN
        PERFORM add_job('financehub.complete_owed_refreshes', interval '5 minutes');
      END IF;
    END
    $fh$;

    END IF;
END $EF$;

DO $EF$
BEGIN
    IF NOT EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "migration_id" = '20261208030000_OwedRefreshJob') THEN
    INSERT INTO "__EFMigrationsHistory" (migration_id, product_version)
    VALUES ('20261208030000_OwedRefreshJob', '10.0.15');
    END IF;
END $EF$;
COMMIT;

