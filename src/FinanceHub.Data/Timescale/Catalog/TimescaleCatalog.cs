using System.Globalization;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Infrastructure;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Timescale.Catalog;

/// <summary>The edition and release of TimescaleDB in the connected database.</summary>
/// <param name="Edition">From <c>timescaledb.license</c>; <see cref="TimescaleEdition.None"/> without the extension.</param>
/// <param name="Release">The installed release; null without the extension.</param>
internal sealed record TimescaleServer(TimescaleEdition Edition, TimescaleRelease? Release)
{
    public TimescaleRelease RequireRelease() => Release ?? throw new InvalidOperationException(
        "The timescaledb extension is not installed in this database. Apply the migrations (financehub-data migrate) first.");
}

/// <summary>A refresh policy of a continuous aggregate, or the aggregate's lack of one (<see cref="JobId"/> null).</summary>
/// <param name="ViewSchema">Schema of the aggregate.</param>
/// <param name="View">The aggregate.</param>
/// <param name="SourceSchema">Schema of the hypertable it reads.</param>
/// <param name="Source">The hypertable it reads.</param>
/// <param name="JobId">The policy's job, or null when the aggregate has no refresh policy.</param>
/// <param name="StartOffset">How far back a refresh reaches; null with a job means unbounded (the whole history).</param>
internal sealed record RefreshPolicy(string ViewSchema, string View, string SourceSchema, string Source, int? JobId, TimeSpan? StartOffset);

/// <summary>
/// Everything the project reads from TimescaleDB's catalog (jobs, policies, aggregates, chunks, columnstore statistics,
/// sizes), in one place that knows how the catalog differs between releases (<see cref="TimescaleRelease"/>).
/// An object that the project's migrations create and that cannot be found is an error that names it, never an empty answer.
/// </summary>
internal sealed class TimescaleCatalog(NpgsqlDataSource dataSource)
{
    public async Task<TimescaleServer> GetServerAsync(CancellationToken cancellationToken)
    {
        var rows = await dataSource.QueryAsync(
            """
            SELECT (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'), current_setting('timescaledb.license', true)
            """, [], r => (Version: r.IsDBNull(0) ? null : r.GetString(0), License: r.IsDBNull(1) ? null : r.GetString(1)), cancellationToken);
        var (version, license) = rows[0];
        if (version is null)
        {
            return new TimescaleServer(TimescaleEdition.None, null);
        }

        var release = TimescaleRelease.Parse(version)
            ?? throw new InvalidOperationException($"TimescaleDB reports version '{version}', which this project cannot read as a release number.");
        return new TimescaleServer(license == "timescale" ? TimescaleEdition.Community : TimescaleEdition.Apache, release);
    }

    /// <summary>
    /// The refresh policies of the continuous aggregates over <paramref name="sourceSchema"/>.<paramref name="source"/> (all
    /// aggregates when null): one row per policy, and one row with no job for an aggregate without a policy. Throws when
    /// one of the project's price aggregates exists without a refresh policy: the migrations create one.
    /// </summary>
    public async Task<IReadOnlyList<RefreshPolicy>> GetRefreshPoliciesAsync(string? sourceSchema, string? source, CancellationToken cancellationToken)
        => await GetRefreshPoliciesAsync(await GetServerAsync(cancellationToken), sourceSchema, source, cancellationToken);

    private async Task<IReadOnlyList<RefreshPolicy>> GetRefreshPoliciesAsync(
        TimescaleServer server, string? sourceSchema, string? source, CancellationToken cancellationToken)
    {
        if (server.Edition != TimescaleEdition.Community)
        {
            return [];
        }

        var policies = await dataSource.QueryAsync(
            $"""
            SELECT ca.view_schema::text, ca.view_name::text, ca.hypertable_schema::text, ca.hypertable_name::text, j.job_id,
                   -- As a duration (a policy of '3 months' reaches back 89 to 92 days: how far, as of now).
                   CASE WHEN j.job_id IS NULL THEN NULL
                        ELSE (now() AT TIME ZONE 'UTC') - ((now() AT TIME ZONE 'UTC') - (j.config->>'start_offset')::interval) END
            FROM timescaledb_information.continuous_aggregates ca
            LEFT JOIN timescaledb_information.jobs j
              ON j.proc_name = 'policy_refresh_continuous_aggregate' AND {JobOfAggregate(server.RequireRelease(), "j", "ca")}
            WHERE $1::text IS NULL OR (ca.hypertable_schema = $1 AND ca.hypertable_name = $2)
            ORDER BY 1, 2, 5
            """,
            [NpgsqlCommands.Text(sourceSchema), NpgsqlCommands.Text(source)],
            r => new RefreshPolicy(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3),
                r.IsDBNull(4) ? null : r.GetInt32(4), r.IsDBNull(5) ? null : r.GetFieldValue<TimeSpan>(5)),
            cancellationToken);
        var orphans = policies.Where(p => p.JobId is null && (Aggregates.All.Contains(p.View) || Aggregates.Ladder.Any(r => r.View == p.View)))
            .Select(p => p.View).ToList();
        if (orphans.Count > 0)
        {
            throw new TimescaleCatalogException(
                $"No refresh policy was found for continuous aggregate(s) {string.Join(", ", orphans)} in timescaledb_information.jobs " +
                $"(TimescaleDB {server.Release}). The migrations create one for each; without it nothing keeps the aggregate current and " +
                "nothing tells how far back a refresh reaches, so retention cannot be checked against it. Re-create it with " +
                "add_continuous_aggregate_policy (see migrations-sql/0200_price_aggregates/up.sql and 0900_candle_ladder/up.sql), or report the TimescaleDB version if it exists.");
        }

        return policies;
    }

    /// <summary>
    /// Refuses to drop raw rows that a continuous aggregate's refresh policy still reaches: its next refresh would recompute
    /// those buckets from nothing and delete them from the aggregate. A price aggregate whose policy cannot be found is an error
    /// (<see cref="TimescaleCatalogException"/>), never "nothing to protect".
    /// </summary>
    public async Task RequireRefreshWindowsInsideAsync(string? schema, string table, TimeSpan dropAfter, string what, CancellationToken cancellationToken)
    {
        foreach (var policy in await GetRefreshPoliciesAsync(schema ?? await dataSource.ScalarAsync<string>("SELECT current_schema()::text", [], cancellationToken), table, cancellationToken))
        {
            if (policy.JobId is null)
            {
                continue;
            }

            if (policy.StartOffset is not { } startOffset)
            {
                throw new InvalidOperationException(
                    $"{what} {Durations.Describe(dropAfter)} on {table} would drop rows that the refresh policy (job {policy.JobId}) of " +
                    $"continuous aggregate {policy.View} still reaches: it has no start_offset, so every refresh recomputes the whole history and " +
                    "would delete the buckets whose raw rows are gone. Give the policy a start_offset shorter than the retention first.");
            }

            if (dropAfter <= startOffset)
            {
                throw new InvalidOperationException(
                    $"{what} {Durations.Describe(dropAfter)} on {table} is not longer than the refresh window " +
                    $"({Durations.Describe(startOffset)}) of continuous aggregate {policy.View} (job {policy.JobId}): its next refresh would " +
                    "recompute buckets whose raw rows are gone and delete them from the aggregate. Choose a longer retention, or shorten " +
                    "the aggregate's refresh window first.");
            }
        }
    }

    /// <summary>
    /// The retention of a hypertable (in <paramref name="schema"/>, or the current schema when null): TimescaleDB's retention
    /// job and the project's emulated policy, whichever exist.
    /// </summary>
    public async Task<IReadOnlyList<TimeSpan>> GetRetentionsAsync(string? schema, string table, CancellationToken cancellationToken)
    {
        var server = await GetServerAsync(cancellationToken);
        var native = server.Edition == TimescaleEdition.Community
            ? await dataSource.QueryAsync(
                """
                SELECT coalesce(config->>'drop_after', config->>'drop_created_before')::interval FROM timescaledb_information.jobs
                WHERE proc_name = 'policy_retention' AND hypertable_schema = coalesce($1, current_schema()) AND hypertable_name = $2
                """, [NpgsqlCommands.Text(schema), table], r => r.GetFieldValue<TimeSpan>(0), cancellationToken)
            : [];
        var emulated = await dataSource.QueryAsync(
            """
            SELECT drop_after FROM financehub.maintenance_policies
            WHERE kind = 'Retention' AND target = $1 AND enabled AND drop_after IS NOT NULL
            """, [table], r => r.GetFieldValue<TimeSpan>(0), cancellationToken);
        return [.. native, .. emulated];
    }

    /// <summary>TimescaleDB's jobs (community edition), each with the aggregate or hypertable it works on.</summary>
    public async Task<IReadOnlyList<JobInfo>> GetJobsAsync(TimescaleRelease release, CancellationToken cancellationToken)
        => await dataSource.QueryAsync(
            $"""
            SELECT j.job_id::text, replace(j.proc_name::text, 'policy_', ''), coalesce(ca.view_name, j.hypertable_name, '')::text,
                   j.schedule_interval::text, j.scheduled, js.last_run_started_at, js.last_run_status::text, js.next_start,
                   coalesce(js.total_failures, 0)::bigint,
                   (SELECT e.err_message FROM timescaledb_information.job_errors e WHERE e.job_id = j.job_id ORDER BY e.finish_time DESC LIMIT 1),
                   j.config::text
            FROM timescaledb_information.jobs j
            LEFT JOIN timescaledb_information.job_stats js ON js.job_id = j.job_id
            LEFT JOIN timescaledb_information.continuous_aggregates ca ON {JobOfAggregate(release, "j", "ca")}
            ORDER BY j.job_id
            """, [], r => new JobInfo(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetBoolean(4), true,
                r.IsDBNull(5) ? null : r.GetFieldValue<DateTimeOffset>(5), r.IsDBNull(6) ? null : r.GetString(6),
                r.IsDBNull(7) ? null : r.GetFieldValue<DateTimeOffset>(7), r.GetInt64(8), r.IsDBNull(9) ? null : r.GetString(9),
                r.IsDBNull(10) ? null : r.GetString(10)), cancellationToken);

    /// <summary>
    /// The native jobs on the project's hypertables and price aggregates: retention first, then refresh, then the rest.
    /// Throws when a price aggregate exists without its refresh policy.
    /// </summary>
    public async Task<IReadOnlyList<(int Id, string Proc, string Target)>> GetProjectJobsAsync(CancellationToken cancellationToken)
    {
        var server = await GetServerAsync(cancellationToken);
        _ = await GetRefreshPoliciesAsync(server, null, null, cancellationToken);
        return await dataSource.QueryAsync(
            $"""
            SELECT j.job_id, j.proc_name::text, coalesce(ca.view_name, j.hypertable_name)::text
            FROM timescaledb_information.jobs j
            LEFT JOIN timescaledb_information.continuous_aggregates ca ON {JobOfAggregate(server.RequireRelease(), "j", "ca")}
            WHERE (ca.view_name IS NULL AND j.hypertable_name = ANY($1)) OR ca.view_name = ANY($2)
            ORDER BY CASE j.proc_name WHEN 'policy_retention' THEN 0 WHEN 'policy_refresh_continuous_aggregate' THEN 1 ELSE 2 END, j.job_id
            """,
            [Hypertables.All.Select(h => h.Table).ToArray(), Aggregates.All.Concat(Aggregates.Ladder.Select(r => r.View)).ToArray()],
            r => (r.GetInt32(0), r.GetString(1), r.GetString(2)), cancellationToken);
    }

    /// <summary>Continuous aggregates with their watermarks and how far back their refresh policies reach (community edition).</summary>
    public async Task<IReadOnlyList<AggregateInfo>> GetContinuousAggregatesAsync(CancellationToken cancellationToken)
    {
        var reach = (await GetRefreshPoliciesAsync(null, null, cancellationToken)).Where(p => p.JobId is not null)
            .GroupBy(p => (p.ViewSchema, p.View))
            .ToDictionary(g => g.Key.View, g => g.Max(p => p.StartOffset ?? TimeSpan.MaxValue));
        var aggregates = await dataSource.QueryAsync(
            """
            SELECT ca.view_name::text, ca.materialized_only,
                   -- With nothing materialized, the watermark is the lowest time PostgreSQL has (before year 1).
                   nullif(greatest(_timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id)),
                                   '0001-01-01 00:00:00+00'::timestamptz), '0001-01-01 00:00:00+00'::timestamptz),
                   format('%I.%I', ca.materialization_hypertable_schema, ca.materialization_hypertable_name)
            FROM timescaledb_information.continuous_aggregates ca
            JOIN _timescaledb_catalog.continuous_agg c ON c.user_view_schema = ca.view_schema AND c.user_view_name = ca.view_name
            ORDER BY 1
            """, [], r => new AggregateInfo(r.GetString(0), "continuous aggregate",
                r.IsDBNull(2) ? null : r.GetFieldValue<DateTimeOffset>(2), !r.GetBoolean(1), MaterializedTable: r.GetString(3)), cancellationToken);
        return [.. aggregates.Select(a => a with { RefreshReach = reach.TryGetValue(a.View, out var r) ? r : null })];
    }

    /// <summary>The watermark of one continuous aggregate (<paramref name="view"/> as <c>schema.name</c> or a bare name), null when nothing is materialized.</summary>
    public async Task<DateTimeOffset?> GetWatermarkAsync(string view, CancellationToken cancellationToken)
    {
        var rows = await dataSource.QueryAsync(
            """
            SELECT nullif(greatest(_timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id)),
                                   '0001-01-01 00:00:00+00'::timestamptz), '0001-01-01 00:00:00+00'::timestamptz)
            FROM _timescaledb_catalog.continuous_agg c
            JOIN pg_class v ON v.relname = c.user_view_name
            JOIN pg_namespace n ON n.oid = v.relnamespace AND n.nspname = c.user_view_schema
            WHERE v.oid = $1::regclass
            """, [view], r => r.IsDBNull(0) ? (DateTimeOffset?)null : r.GetFieldValue<DateTimeOffset>(0), cancellationToken);
        return rows is [var watermark] ? watermark : null;
    }

    /// <summary>The hypertable a continuous aggregate reads, or null when <paramref name="view"/> is not one.</summary>
    public async Task<(string Schema, string Name)?> GetAggregateSourceAsync(string viewSchema, string view, CancellationToken cancellationToken)
    {
        var rows = await dataSource.QueryAsync(
            "SELECT hypertable_schema::text, hypertable_name::text FROM timescaledb_information.continuous_aggregates WHERE view_schema = $1 AND view_name = $2",
            [viewSchema, view], r => (r.GetString(0), r.GetString(1)), cancellationToken);
        return rows is [var source] ? source : null;
    }

    /// <summary>Whether <paramref name="schema"/>.<paramref name="table"/> (the current schema when null) is a hypertable.</summary>
    public async Task<bool> IsHypertableAsync(string? schema, string table, CancellationToken cancellationToken)
        => await dataSource.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_schema = coalesce($1, current_schema()) AND hypertable_name = $2)",
            [NpgsqlCommands.Text(schema), table], cancellationToken);

    /// <summary>The time column of a hypertable (its first dimension).</summary>
    public async Task<string> GetTimeColumnAsync(string schema, string table, CancellationToken cancellationToken)
        => await dataSource.ScalarAsync<string>(
               "SELECT column_name::text FROM timescaledb_information.dimensions WHERE hypertable_schema = $1 AND hypertable_name = $2 AND dimension_number = 1",
               [schema, table], cancellationToken)
           ?? throw new TimescaleCatalogException($"Hypertable {schema}.{table} has no time dimension in timescaledb_information.dimensions.");

    /// <summary>The hypertables that are not continuous aggregates' materialization tables, with sizes and columnstore statistics.</summary>
    public async Task<IReadOnlyList<HypertableInfo>> GetHypertablesAsync(CancellationToken cancellationToken)
    {
        var server = await GetServerAsync(cancellationToken);
        var stats = server.Edition == TimescaleEdition.Community
            ? $"(SELECT ROW(s.before_compression_total_bytes, s.after_compression_total_bytes) FROM {StatsFunction(server.RequireRelease(), "hypertable")}(format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass) s)"
            : "NULL::record";
        return await dataSource.QueryAsync(
            $"""
            SELECT h.hypertable_schema::text, h.hypertable_name::text, d.column_name::text, coalesce(d.time_interval::text, d.integer_interval::text),
                   h.num_chunks::bigint,
                   (SELECT count(*) FROM timescaledb_information.chunks c
                    WHERE c.hypertable_schema = h.hypertable_schema AND c.hypertable_name = h.hypertable_name AND c.is_compressed),
                   h.compression_enabled,
                   coalesce(hypertable_size(format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass), 0),
                   {stats}
            FROM timescaledb_information.hypertables h
            JOIN timescaledb_information.dimensions d
              ON d.hypertable_schema = h.hypertable_schema AND d.hypertable_name = h.hypertable_name AND d.dimension_number = 1
            WHERE {NotMaterialization("h")}
            ORDER BY 1, 2
            """, [], r =>
            {
                long? before = null, after = null;
                if (!r.IsDBNull(8))
                {
                    var values = r.GetFieldValue<object[]>(8);
                    before = values[0] is DBNull ? null : Convert.ToInt64(values[0], CultureInfo.InvariantCulture);
                    after = values[1] is DBNull ? null : Convert.ToInt64(values[1], CultureInfo.InvariantCulture);
                }

                return new HypertableInfo(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt64(4), r.GetInt64(5),
                    r.GetBoolean(6), r.GetInt64(7), before, after);
            }, cancellationToken);
    }

    /// <summary>Chunks of a hypertable, oldest first, with sizes and columnstore statistics.</summary>
    public async Task<IReadOnlyList<ChunkInfo>> GetChunksAsync(uint oid, string schema, string table, CancellationToken cancellationToken)
    {
        var server = await GetServerAsync(cancellationToken);
        var statsJoin = server.Edition == TimescaleEdition.Community
            ? $"LEFT JOIN {StatsFunction(server.RequireRelease(), "chunk")}($1::oid::regclass) cs ON cs.chunk_schema = c.chunk_schema AND cs.chunk_name = c.chunk_name"
            : "LEFT JOIN (SELECT NULL::name AS chunk_schema, NULL::name AS chunk_name, NULL::bigint AS before_compression_total_bytes, NULL::bigint AS after_compression_total_bytes) cs ON false";
        return await dataSource.QueryAsync(
            $"""
            SELECT c.chunk_schema::text, c.chunk_name::text, c.range_start, c.range_end, c.is_compressed,
                   coalesce(s.total_bytes, 0), cs.before_compression_total_bytes, cs.after_compression_total_bytes
            FROM timescaledb_information.chunks c
            LEFT JOIN chunks_detailed_size($1::oid::regclass) s ON s.chunk_schema = c.chunk_schema AND s.chunk_name = c.chunk_name
            {statsJoin}
            WHERE c.hypertable_schema = $2 AND c.hypertable_name = $3
            ORDER BY c.range_start
            """, [Oid(oid), schema, table], r => new ChunkInfo(
                r.GetString(0), r.GetString(1),
                r.IsDBNull(2) ? null : r.GetFieldValue<DateTimeOffset>(2), r.IsDBNull(3) ? null : r.GetFieldValue<DateTimeOffset>(3),
                r.GetBoolean(4), r.GetInt64(5), r.IsDBNull(6) ? null : r.GetInt64(6), r.IsDBNull(7) ? null : r.GetInt64(7)), cancellationToken);
    }

    /// <summary>The distinct time ranges of the chunks of a hypertable in the current schema that end at or before <paramref name="endsBy"/>.</summary>
    public async Task<IReadOnlyList<(DateTimeOffset Start, DateTimeOffset End)>> GetChunkRangesAsync(
        string table, DateTimeOffset endsBy, CancellationToken cancellationToken)
        => await dataSource.QueryAsync(
            """
            SELECT range_start, range_end FROM timescaledb_information.chunks
            WHERE hypertable_schema = current_schema() AND hypertable_name = $1 AND range_end <= $2
            GROUP BY range_start, range_end ORDER BY range_start
            """, [table, NpgsqlCommands.TimestampTz(endsBy)],
            r => (r.GetFieldValue<DateTimeOffset>(0), r.GetFieldValue<DateTimeOffset>(1)), cancellationToken);

    /// <summary>The chunks (as qualified names) of a hypertable in the current schema that lie wholly inside [start, end).</summary>
    public static async Task<IReadOnlyList<string>> GetChunksWithinAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string table, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
        => await connection.QueryAsync(transaction,
            """
            SELECT format('%I.%I', chunk_schema, chunk_name) FROM timescaledb_information.chunks
            WHERE hypertable_schema = current_schema() AND hypertable_name = $1 AND range_start >= $2 AND range_end <= $3
            """, [table, NpgsqlCommands.TimestampTz(start), NpgsqlCommands.TimestampTz(end)], r => r.GetString(0), cancellationToken);

    /// <summary>
    /// The dimensions of a table in the current schema (none: it is not a hypertable): column and, for time, interval.
    /// On a connection of the caller's, as the parallel restore reads them.
    /// </summary>
    public static async Task<IReadOnlyList<(string Column, TimeSpan? Interval)>> GetDimensionsAsync(
        NpgsqlConnection connection, string table, CancellationToken cancellationToken)
        => await connection.QueryAsync(null,
            """
            SELECT column_name::text, time_interval FROM timescaledb_information.dimensions
            WHERE hypertable_schema = current_schema() AND hypertable_name = $1 ORDER BY dimension_number
            """, [table], r => (r.GetString(0), r.IsDBNull(1) ? (TimeSpan?)null : r.GetTimeSpan(1)), cancellationToken);

    /// <summary>The chunks (quoted qualified names, time ranges) of a hypertable in the current schema that overlap [start, end), oldest first.</summary>
    public static async Task<IReadOnlyList<(string Name, DateTimeOffset Start, DateTimeOffset End)>> GetChunksOverlappingAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string table, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
        => await connection.QueryAsync(transaction,
            """
            SELECT format('%I.%I', chunk_schema, chunk_name), range_start, range_end FROM timescaledb_information.chunks
            WHERE hypertable_schema = current_schema() AND hypertable_name = $1 AND range_end > $2 AND range_start < $3
            ORDER BY range_start
            """, [table, NpgsqlCommands.TimestampTz(start), NpgsqlCommands.TimestampTz(end)],
            r => (r.GetString(0), r.GetFieldValue<DateTimeOffset>(1), r.GetFieldValue<DateTimeOffset>(2)), cancellationToken);

    /// <summary>Where the oldest chunk of a hypertable starts, or null without chunks.</summary>
    public async Task<DateTimeOffset?> GetOldestChunkStartAsync(string schema, string table, CancellationToken cancellationToken)
        => await dataSource.ScalarAsync<DateTimeOffset?>(
            "SELECT min(range_start) FROM timescaledb_information.chunks WHERE hypertable_schema = $1 AND hypertable_name = $2",
            [schema, table], cancellationToken);

    /// <summary>Size of the database and of each hypertable.</summary>
    public async Task<StorageInfo> GetStorageAsync(CancellationToken cancellationToken)
    {
        var (database, size) = (await dataSource.QueryAsync("SELECT current_database()::text, pg_database_size(current_database())", [],
            r => (r.GetString(0), r.GetInt64(1)), cancellationToken))[0];
        var hypertables = await dataSource.QueryAsync(
            $"""
            SELECT h.hypertable_name::text, coalesce(s.table_bytes, 0), coalesce(s.index_bytes, 0), coalesce(s.toast_bytes, 0), coalesce(s.total_bytes, 0)
            FROM timescaledb_information.hypertables h
            CROSS JOIN LATERAL hypertable_detailed_size(format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass) s
            WHERE {NotMaterialization("h")}
            ORDER BY 1
            """, [], r => new HypertableStorage(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4)), cancellationToken);
        return new StorageInfo(database, size, hypertables);
    }

    /// <summary>Columnstore (compression) statistics of a hypertable (community edition).</summary>
    public async Task<CompressionStats> GetCompressionStatsAsync(uint oid, string table, CancellationToken cancellationToken)
    {
        var server = await GetServerAsync(cancellationToken);
        var rows = await dataSource.QueryAsync(
            $"""
            SELECT coalesce(total_chunks, 0)::bigint, coalesce(number_compressed_chunks, 0)::bigint,
                   before_compression_total_bytes, after_compression_total_bytes
            FROM {StatsFunction(server.RequireRelease(), "hypertable")}($1::oid::regclass)
            """, [Oid(oid)], r => new CompressionStats(table, r.GetInt64(0), r.GetInt64(1),
                r.IsDBNull(2) ? null : r.GetInt64(2), r.IsDBNull(3) ? null : r.GetInt64(3)), cancellationToken);
        return rows.Count > 0 ? rows[0] : new CompressionStats(table, 0, 0, null, null);
    }

    /// <summary>The join condition between a job (alias <paramref name="job"/>) and the continuous aggregate it refreshes.</summary>
    internal static string JobOfAggregate(TimescaleRelease release, string job, string aggregate) => release.JobsNameContinuousAggregates
        ? $"{job}.hypertable_schema = {aggregate}.view_schema AND {job}.hypertable_name = {aggregate}.view_name"
        : $"{job}.hypertable_schema = {aggregate}.materialization_hypertable_schema AND {job}.hypertable_name = {aggregate}.materialization_hypertable_name";

    /// <summary><c>hypertable_columnstore_stats</c> / <c>chunk_columnstore_stats</c>, or their compression names before 2.18.</summary>
    private static string StatsFunction(TimescaleRelease release, string level)
        => release.HasColumnstore ? $"{level}_columnstore_stats" : $"{level}_compression_stats";

    private static string NotMaterialization(string hypertable) => $"""
        NOT EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates ca
                    WHERE ca.materialization_hypertable_schema = {hypertable}.hypertable_schema
                      AND ca.materialization_hypertable_name = {hypertable}.hypertable_name)
        """;

    private static NpgsqlParameter Oid(uint oid) => new() { Value = oid, NpgsqlDbType = NpgsqlDbType.Oid };

}

/// <summary>Thrown when an object that the project's migrations create is missing from TimescaleDB's catalog.</summary>
public sealed class TimescaleCatalogException(string message) : InvalidOperationException(message);
