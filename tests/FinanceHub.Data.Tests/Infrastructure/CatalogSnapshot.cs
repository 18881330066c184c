using Npgsql;

namespace FinanceHub.Data.Tests.Infrastructure;

/// <summary>
/// What a migration leaves in a database, as comparable lines read from the catalog: columns, indexes, constraints,
/// hypertables and intervals, views and aggregates, jobs or maintenance policies, helper functions, history rows.
/// Ids and internal names that differ between databases (job ids, materialization tables) are left out.
/// </summary>
public static class CatalogSnapshot
{
    public static async Task<List<string>> TakeAsync(NpgsqlDataSource dataSource)
    {
        var queries = new List<string>
        {
            """
            SELECT 'column ' || table_schema || '.' || table_name || '.' || column_name || ' ' || data_type || ' '
                   || coalesce(character_maximum_length::text, '') || ' ' || coalesce(numeric_precision::text || ',' || numeric_scale::text, '')
                   || ' ' || is_nullable || ' ' || coalesce(column_default, '') || ' ' || is_identity
            FROM information_schema.columns WHERE table_schema IN ('public', 'financehub')
            """,
            "SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname IN ('public', 'financehub')",
            """
            SELECT 'constraint ' || c.conrelid::regclass::text || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
            FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname IN ('public', 'financehub')
            """,
            """
            SELECT 'relation ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'financehub') AND c.relkind IN ('r', 'v', 'm', 'S')
            """,
            """
            SELECT 'viewdef ' || c.relname || ' ' || md5(pg_get_viewdef(c.oid))
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'm'
            """,
            """
            -- Scripts indent migration SQL inside their DO $EF$ guards: compare bodies without layout whitespace.
            SELECT 'function ' || n.nspname || '.' || p.proname || ' ' || md5(btrim(regexp_replace(p.prosrc, '\s+', ' ', 'g')))
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'financehub'
            """,
            "SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname = 'financehub'",
            "SELECT 'extension ' || extname || ' ' || extversion FROM pg_extension",
        };
        if (await ExistsAsync(dataSource, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"))
        {
            queries.Add(
                """
                SELECT 'hypertable ' || hypertable_name || ' ' || column_name || ' ' || coalesce(time_interval::text, '')
                FROM timescaledb_information.dimensions WHERE hypertable_schema = 'public'
                """);
            queries.Add(
                """
                SELECT 'compression ' || hypertable_name || ' ' || attname || ' ' || coalesce(segmentby_column_index::text, '') || ' '
                       || coalesce(orderby_column_index::text, '') || ' ' || coalesce(orderby_asc::text, '')
                FROM timescaledb_information.compression_settings
                """);
            queries.Add("SELECT 'cagg ' || view_name || ' ' || materialized_only::text FROM timescaledb_information.continuous_aggregates");
            queries.Add(
                """
                SELECT 'job ' || j.proc_name || ' ' || coalesce(ca.view_name, j.hypertable_name, '') || ' ' || j.schedule_interval::text || ' '
                       || coalesce((j.config - 'hypertable_id' - 'mat_hypertable_id')::text, '')
                FROM timescaledb_information.jobs j
                LEFT JOIN timescaledb_information.continuous_aggregates ca ON ca.materialization_hypertable_name = j.hypertable_name
                WHERE j.job_id >= 1000
                """);
        }

        if (await ExistsAsync(dataSource, "SELECT to_regclass('financehub.maintenance_policies') IS NOT NULL"))
        {
            queries.Add(
                """
                SELECT 'policy ' || name || ' ' || kind || ' ' || target || ' ' || coalesce(drop_after::text, '') || ' '
                       || schedule_interval::text || ' ' || enabled::text || ' ' || coalesce(last_run_status, '')
                FROM financehub.maintenance_policies
                """);
        }

        if (await ExistsAsync(dataSource, "SELECT to_regclass('\"__EFMigrationsHistory\"') IS NOT NULL"))
        {
            queries.Add("SELECT 'history ' || migration_id || ' ' || product_version FROM \"__EFMigrationsHistory\"");
        }

        var lines = new List<string>();
        foreach (var sql in queries)
        {
            lines.AddRange((await dataSource.QueryAsync(sql)).Select(r => (string)r[0]!));
        }

        lines.Sort(StringComparer.Ordinal);
        return lines;
    }

    private static async Task<bool> ExistsAsync(NpgsqlDataSource dataSource, string sql) => await dataSource.ScalarAsync<bool>(sql);
}
