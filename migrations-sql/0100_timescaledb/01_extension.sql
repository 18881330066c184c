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
