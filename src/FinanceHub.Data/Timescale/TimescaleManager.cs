using System.Globalization;
using FinanceHub.Data.Migrations.Infrastructure;
using FinanceHub.Data.Timescale.Maintenance;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Timescale;

/// <inheritdoc />
public sealed partial class TimescaleManager(NpgsqlDataSource dataSource, IMaintenanceRunner maintenance, ILogger<TimescaleManager> logger)
    : ITimescaleManager
{
    private static readonly string[] AllowedAggregateFunctions = ["first", "last", "min", "max", "sum", "avg", "count"];
    private static readonly string[] OrderDirections = ["DESC", "ASC"];

    /// <summary>A relation resolved against the catalog.</summary>
    private sealed record Relation(uint Oid, string Schema, string Name, char Kind)
    {
        public string QualifiedName => SqlIdentifiers.Quote(Schema) + "." + SqlIdentifiers.Quote(Name);
    }

    /// <inheritdoc />
    public async Task SetupAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var sql in new[]
                 {
                     "CREATE SCHEMA IF NOT EXISTS financehub",
                     SqlResources.Read("0100_timescaledb/01_extension.sql"),
                     SqlResources.Read("functions/timescale_functions.sql"),
                 })
        {
            await using var command = new NpgsqlCommand(sql, connection, transaction);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        LogSetup();
    }

    /// <inheritdoc />
    public async Task<bool> IsAvailableAsync(CancellationToken cancellationToken = default)
        => (await GetHealthAsync(cancellationToken)).Healthy;

    /// <inheritdoc />
    public async Task<TimescaleHealth> GetHealthAsync(CancellationToken cancellationToken = default)
    {
        const string sql = """
            SELECT current_setting('server_version'),
                   (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),
                   (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'),
                   current_setting('timescaledb.license', true),
                   current_setting('timescaledb.max_background_workers', true),
                   (SELECT count(*) FROM pg_stat_activity WHERE backend_type ILIKE '%timescaledb%')::int,
                   EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb_toolkit')
            """;
        try
        {
            await using var command = dataSource.CreateCommand(sql);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            var installed = !reader.IsDBNull(1);
            var edition = !installed ? TimescaleEdition.None : reader.IsDBNull(3) || reader.GetString(3) != "timescale" ? TimescaleEdition.Apache : TimescaleEdition.Community;
            return new TimescaleHealth(
                Reachable: true,
                ServerVersion: reader.GetString(0),
                ExtensionInstalled: installed,
                ExtensionVersion: installed ? reader.GetString(1) : null,
                AvailableVersion: reader.IsDBNull(2) ? null : reader.GetString(2),
                Edition: edition,
                MaxBackgroundWorkers: reader.IsDBNull(4) ? null : int.Parse(reader.GetString(4), CultureInfo.InvariantCulture),
                RunningBackgroundWorkers: reader.GetInt32(5),
                ToolkitInstalled: reader.GetBoolean(6),
                Error: installed ? null : "the timescaledb extension is not installed in this database (run the migrations or SetupAsync)");
        }
        catch (NpgsqlException ex) when (ex is not PostgresException)
        {
            return new TimescaleHealth(false, null, false, null, null, TimescaleEdition.None, null, 0, false, ex.Message);
        }
    }

    /// <inheritdoc />
    public async Task<TimescaleEdition> GetEditionAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            """
            SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN 'none'
                        ELSE coalesce(current_setting('timescaledb.license', true), 'apache') END
            """);
        return (string?)await command.ExecuteScalarAsync(cancellationToken) switch
        {
            "timescale" => TimescaleEdition.Community,
            "none" => TimescaleEdition.None,
            _ => TimescaleEdition.Apache,
        };
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<FeatureSupport>> GetFeatureSupportAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await QueryAsync("SELECT feature, support, detail FROM financehub.feature_support()", [],
                r => new FeatureSupport(r.GetString(0), Enum.Parse<FeatureSupportLevel>(r.GetString(1), ignoreCase: true), r.GetString(2)),
                cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.UndefinedFunction or PostgresErrorCodes.InvalidSchemaName)
        {
            throw new InvalidOperationException(
                "The project's SQL functions are not installed in this database. Apply the migrations (financehub-data migrate) " +
                "or call ITimescaleManager.SetupAsync.", ex);
        }
    }

    /// <inheritdoc />
    public async Task CreateHypertableAsync(
        string table, string timeColumn, TimeSpan chunkInterval, bool migrateData = false, CancellationToken cancellationToken = default)
    {
        RequirePositive(chunkInterval, nameof(chunkInterval));
        var relation = await ResolveAsync(table, "r", cancellationToken);
        await RequireColumnAsync(relation, timeColumn, cancellationToken);
        await ExecuteAsync(
            "SELECT create_hypertable($1::oid::regclass, by_range($2::name, $3::interval), migrate_data => $4, if_not_exists => true)",
            [Oid(relation), timeColumn, chunkInterval, migrateData], cancellationToken);
        LogCreatedHypertable(relation.QualifiedName, timeColumn);
    }

    /// <inheritdoc />
    public async Task AddDimensionAsync(string table, string column, int partitions, CancellationToken cancellationToken = default)
    {
        if (partitions < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(partitions), partitions, "A hash dimension needs at least 1 partition.");
        }

        var relation = await ResolveHypertableAsync(table, cancellationToken);
        await RequireColumnAsync(relation, column, cancellationToken);
        await ExecuteAsync("SELECT add_dimension($1::oid::regclass, by_hash($2::name, $3), if_not_exists => true)",
            [Oid(relation), column, partitions], cancellationToken);
    }

    /// <inheritdoc />
    public async Task SetChunkTimeIntervalAsync(string table, TimeSpan chunkInterval, CancellationToken cancellationToken = default)
    {
        RequirePositive(chunkInterval, nameof(chunkInterval));
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        await ExecuteAsync("SELECT set_chunk_time_interval($1::oid::regclass, $2::interval)", [Oid(relation), chunkInterval], cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<HypertableInfo>> GetHypertablesAsync(CancellationToken cancellationToken = default)
    {
        var community = await GetEditionAsync(cancellationToken) == TimescaleEdition.Community;
        var compressionStats = community
            ? "(SELECT ROW(s.before_compression_total_bytes, s.after_compression_total_bytes) FROM hypertable_compression_stats(format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass) s)"
            : "NULL::record";
        var sql = $"""
            SELECT h.hypertable_schema::text, h.hypertable_name::text, d.column_name::text, coalesce(d.time_interval::text, d.integer_interval::text),
                   h.num_chunks::bigint,
                   (SELECT count(*) FROM timescaledb_information.chunks c
                    WHERE c.hypertable_schema = h.hypertable_schema AND c.hypertable_name = h.hypertable_name AND c.is_compressed),
                   h.compression_enabled,
                   coalesce(hypertable_size(format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass), 0),
                   {compressionStats}
            FROM timescaledb_information.hypertables h
            JOIN timescaledb_information.dimensions d
              ON d.hypertable_schema = h.hypertable_schema AND d.hypertable_name = h.hypertable_name AND d.dimension_number = 1
            WHERE NOT EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates ca
                              WHERE ca.materialization_hypertable_schema = h.hypertable_schema
                                AND ca.materialization_hypertable_name = h.hypertable_name)
            ORDER BY 1, 2
            """;
        return await QueryAsync(sql, [], r =>
        {
            long? before = null, after = null;
            if (!r.IsDBNull(8))
            {
                var stats = r.GetFieldValue<object[]>(8);
                before = stats[0] is DBNull ? null : Convert.ToInt64(stats[0], CultureInfo.InvariantCulture);
                after = stats[1] is DBNull ? null : Convert.ToInt64(stats[1], CultureInfo.InvariantCulture);
            }

            return new HypertableInfo(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt64(4), r.GetInt64(5),
                r.GetBoolean(6), r.GetInt64(7), before, after);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ChunkInfo>> GetChunksAsync(string table, CancellationToken cancellationToken = default)
    {
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        var community = await GetEditionAsync(cancellationToken) == TimescaleEdition.Community;
        var compressionJoin = community
            ? "LEFT JOIN chunk_compression_stats($1::oid::regclass) cs ON cs.chunk_schema = c.chunk_schema AND cs.chunk_name = c.chunk_name"
            : "LEFT JOIN (SELECT NULL::name AS chunk_schema, NULL::name AS chunk_name, NULL::bigint AS before_compression_total_bytes, NULL::bigint AS after_compression_total_bytes) cs ON false";
        var sql = $"""
            SELECT c.chunk_schema::text, c.chunk_name::text, c.range_start, c.range_end, c.is_compressed,
                   coalesce(s.total_bytes, 0), cs.before_compression_total_bytes, cs.after_compression_total_bytes
            FROM timescaledb_information.chunks c
            LEFT JOIN chunks_detailed_size($1::oid::regclass) s ON s.chunk_schema = c.chunk_schema AND s.chunk_name = c.chunk_name
            {compressionJoin}
            WHERE c.hypertable_schema = $2 AND c.hypertable_name = $3
            ORDER BY c.range_start
            """;
        return await QueryAsync(sql, [Oid(relation), relation.Schema, relation.Name], r => new ChunkInfo(
            r.GetString(0), r.GetString(1),
            r.IsDBNull(2) ? null : r.GetFieldValue<DateTimeOffset>(2), r.IsDBNull(3) ? null : r.GetFieldValue<DateTimeOffset>(3),
            r.GetBoolean(4), r.GetInt64(5), r.IsDBNull(6) ? null : r.GetInt64(6), r.IsDBNull(7) ? null : r.GetInt64(7)), cancellationToken);
    }

    /// <inheritdoc />
    public async Task SetRetentionPolicyAsync(string table, TimeSpan dropAfter, CancellationToken cancellationToken = default)
    {
        RequirePositive(dropAfter, nameof(dropAfter));
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        if (await GetEditionAsync(cancellationToken) == TimescaleEdition.Community)
        {
            var widest = await QueryAsync(
                """
                SELECT ca.view_name::text, (j.config->>'start_offset')::interval
                FROM timescaledb_information.continuous_aggregates ca
                JOIN timescaledb_information.jobs j ON j.hypertable_name = ca.materialization_hypertable_name
                     AND j.proc_name = 'policy_refresh_continuous_aggregate'
                WHERE ca.hypertable_schema = $1 AND ca.hypertable_name = $2 AND j.config->>'start_offset' IS NOT NULL
                ORDER BY 2 DESC LIMIT 1
                """, [relation.Schema, relation.Name], r => (View: r.GetString(0), StartOffset: r.GetFieldValue<TimeSpan>(1)), cancellationToken);
            if (widest is [var (view, startOffset)] && dropAfter <= startOffset)
            {
                throw new InvalidOperationException(
                    $"A retention of {dropAfter.TotalDays:0.##} days on {relation.Name} is not longer than the refresh window " +
                    $"({startOffset.TotalDays:0.##} days) of continuous aggregate {view}: its next refresh would recompute buckets whose " +
                    "raw rows are gone and delete them from the aggregate. Choose a longer retention, or shorten the aggregate's refresh window first.");
            }

            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await ExecuteAsync(connection, transaction, "SELECT remove_retention_policy($1::oid::regclass, if_exists => true)", [Oid(relation)], cancellationToken);
            await ExecuteAsync(connection, transaction, "SELECT add_retention_policy($1::oid::regclass, drop_after => $2::interval)", [Oid(relation), dropAfter], cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        else
        {
            await ExecuteAsync(
                """
                INSERT INTO financehub.maintenance_policies (name, kind, target, drop_after, schedule_interval, enabled, next_run_at)
                VALUES ('retention:' || $1, 'Retention', $1, $2, $3, true, now())
                ON CONFLICT (name) DO UPDATE SET drop_after = excluded.drop_after, enabled = true
                """, [relation.Name, dropAfter, DefaultRetentionSchedule(dropAfter)], cancellationToken);
        }

        LogRetention(relation.QualifiedName, dropAfter);
    }

    /// <inheritdoc />
    public async Task<bool> RemoveRetentionPolicyAsync(string table, CancellationToken cancellationToken = default)
    {
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        if (await GetEditionAsync(cancellationToken) == TimescaleEdition.Community)
        {
            var existed = await ScalarAsync<long>(
                "SELECT count(*) FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_schema = $1 AND hypertable_name = $2",
                [relation.Schema, relation.Name], cancellationToken) > 0;
            await ExecuteAsync("SELECT remove_retention_policy($1::oid::regclass, if_exists => true)", [Oid(relation)], cancellationToken);
            return existed;
        }

        return await ExecuteAsync("DELETE FROM financehub.maintenance_policies WHERE kind = 'Retention' AND target = $1", [relation.Name], cancellationToken) > 0;
    }

    /// <inheritdoc />
    public async Task<int> DropChunksOlderThanAsync(string table, TimeSpan olderThan, CancellationToken cancellationToken = default)
    {
        RequirePositive(olderThan, nameof(olderThan));
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        return await ScalarAsync<int>("SELECT financehub.apply_retention($1::oid::regclass, $2::interval)", [Oid(relation), olderThan], cancellationToken);
    }

    /// <inheritdoc />
    public async Task EnableCompressionAsync(
        string table, IReadOnlyList<string> segmentBy, IReadOnlyList<string> orderBy, TimeSpan? compressAfter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(segmentBy);
        ArgumentNullException.ThrowIfNull(orderBy);
        await RequireCommunityAsync("Compression", cancellationToken);
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        foreach (var column in segmentBy)
        {
            await RequireColumnAsync(relation, column, cancellationToken);
        }

        var orderItems = new List<string>();
        foreach (var item in orderBy)
        {
            var (column, direction) = ParseOrderBy(item);
            await RequireColumnAsync(relation, column, cancellationToken);
            orderItems.Add($"{SqlIdentifiers.Quote(column)} {direction}");
        }

        var statement =
            $"ALTER TABLE {relation.QualifiedName} SET (timescaledb.compress, " +
            $"timescaledb.compress_segmentby = {SqlIdentifiers.Literal(string.Join(", ", segmentBy.Select(SqlIdentifiers.Quote)))}, " +
            $"timescaledb.compress_orderby = {SqlIdentifiers.Literal(string.Join(", ", orderItems))})";
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, transaction, statement, [], cancellationToken);
        if (compressAfter is { } after)
        {
            RequirePositive(after, nameof(compressAfter));
            await ExecuteAsync(connection, transaction, "SELECT remove_compression_policy($1::oid::regclass, if_exists => true)", [Oid(relation)], cancellationToken);
            await ExecuteAsync(connection, transaction, "SELECT add_compression_policy($1::oid::regclass, compress_after => $2::interval)",
                [Oid(relation), after], cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<int> CompressChunksAsync(string table, TimeSpan olderThan, CancellationToken cancellationToken = default)
    {
        await RequireCommunityAsync("Compression", cancellationToken);
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        return await ScalarAsync<int>(
            """
            SELECT count(compress_chunk(c, if_not_compressed => true))::int
            FROM show_chunks($1::oid::regclass, older_than => $2::interval) c
            """, [Oid(relation), olderThan], cancellationToken);
    }

    /// <inheritdoc />
    public async Task<int> DecompressChunksAsync(string table, TimeSpan? newerThan = null, CancellationToken cancellationToken = default)
    {
        await RequireCommunityAsync("Compression", cancellationToken);
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        return await ScalarAsync<int>(
            """
            SELECT count(decompress_chunk(c.chunk, if_compressed => true))::int
            FROM (SELECT format('%I.%I', chunk_schema, chunk_name)::regclass AS chunk FROM timescaledb_information.chunks
                  WHERE hypertable_schema = $1 AND hypertable_name = $2 AND is_compressed
                    AND ($3::interval IS NULL OR range_end > now() - $3::interval)) c
            """, [relation.Schema, relation.Name, (object?)newerThan ?? DBNull.Value], cancellationToken);
    }

    /// <inheritdoc />
    public async Task<CompressionStats> GetCompressionStatsAsync(string table, CancellationToken cancellationToken = default)
    {
        await RequireCommunityAsync("Compression", cancellationToken);
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        var rows = await QueryAsync(
            """
            SELECT coalesce(total_chunks, 0)::bigint, coalesce(number_compressed_chunks, 0)::bigint,
                   before_compression_total_bytes, after_compression_total_bytes
            FROM hypertable_compression_stats($1::oid::regclass)
            """, [Oid(relation)], r => new CompressionStats(relation.Name, r.GetInt64(0), r.GetInt64(1),
                r.IsDBNull(2) ? null : r.GetInt64(2), r.IsDBNull(3) ? null : r.GetInt64(3)), cancellationToken);
        return rows.Count > 0 ? rows[0] : new CompressionStats(relation.Name, 0, 0, null, null);
    }

    /// <inheritdoc />
    public async Task CreateContinuousAggregateAsync(ContinuousAggregateDefinition definition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentException.ThrowIfNullOrWhiteSpace(definition.Name);
        RequirePositive(definition.Bucket, "Bucket");
        if (definition.Columns.Count == 0)
        {
            throw new ArgumentException("A continuous aggregate needs at least one aggregate column.", nameof(definition));
        }

        await RequireCommunityAsync("Continuous aggregates", cancellationToken);
        var source = await ResolveHypertableAsync(definition.SourceTable, cancellationToken);
        var timeColumn = await ScalarAsync<string>(
            "SELECT column_name::text FROM timescaledb_information.dimensions WHERE hypertable_schema = $1 AND hypertable_name = $2 AND dimension_number = 1",
            [source.Schema, source.Name], cancellationToken);
        foreach (var column in definition.GroupBy)
        {
            await RequireColumnAsync(source, column, cancellationToken);
        }

        var select = new List<string> { $"time_bucket({SqlIdentifiers.Interval(definition.Bucket)}, {SqlIdentifiers.Quote(timeColumn)}) AS bucket" };
        select.AddRange(definition.GroupBy.Select(SqlIdentifiers.Quote));
        foreach (var column in definition.Columns)
        {
            var function = column.Function.ToLowerInvariant();
            if (!AllowedAggregateFunctions.Contains(function))
            {
                throw new ArgumentException(
                    $"Aggregate function '{column.Function}' is not supported; use one of {string.Join(", ", AllowedAggregateFunctions)}.", nameof(definition));
            }

            ArgumentException.ThrowIfNullOrWhiteSpace(column.Alias);
            if (function == "count" && column.Column == "*")
            {
                select.Add($"count(*) AS {SqlIdentifiers.Quote(column.Alias)}");
                continue;
            }

            await RequireColumnAsync(source, column.Column, cancellationToken);
            var argument = function is "first" or "last"
                ? $"{SqlIdentifiers.Quote(column.Column)}, {SqlIdentifiers.Quote(timeColumn)}"
                : SqlIdentifiers.Quote(column.Column);
            select.Add($"{function}({argument}) AS {SqlIdentifiers.Quote(column.Alias)}");
        }

        var groupBy = string.Join(", ", definition.GroupBy.Select(SqlIdentifiers.Quote).Prepend("bucket"));
        var create = $"""
            CREATE MATERIALIZED VIEW {SqlIdentifiers.Quote(source.Schema)}.{SqlIdentifiers.Quote(definition.Name)}
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT {string.Join(", ", select)}
            FROM {source.QualifiedName}
            GROUP BY {groupBy}
            WITH NO DATA
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, transaction, create, [], cancellationToken);
        if (definition.RefreshStartOffset is { } startOffset)
        {
            var retention = await ScalarOrDefaultAsync<TimeSpan?>(connection, transaction,
                "SELECT (config->>'drop_after')::interval FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_schema = $1 AND hypertable_name = $2",
                [source.Schema, source.Name], cancellationToken);
            if (retention is { } dropAfter && startOffset >= dropAfter)
            {
                throw new InvalidOperationException(
                    $"The refresh window of {definition.Name} ({startOffset.TotalDays:0.##} days) must be shorter than the retention of {source.Name} " +
                    $"({dropAfter.TotalDays:0.##} days): a refresh over buckets whose raw rows retention dropped deletes them from the aggregate.");
            }

            await ExecuteAsync(connection, transaction,
                "SELECT add_continuous_aggregate_policy(($1 || '.' || $2)::regclass, start_offset => $3::interval, end_offset => $4::interval, schedule_interval => $5::interval)",
                [SqlIdentifiers.Quote(source.Schema), SqlIdentifiers.Quote(definition.Name), startOffset,
                 definition.RefreshEndOffset ?? definition.Bucket, definition.RefreshSchedule ?? definition.Bucket], cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<(DateTimeOffset? Start, DateTimeOffset? End)> RefreshContinuousAggregateAsync(
        string view, DateTimeOffset? windowStart = null, DateTimeOffset? windowEnd = null, CancellationToken cancellationToken = default)
    {
        var (start, end) = (windowStart, windowEnd);
        if (start is { } s && end is { } e && s >= e)
        {
            throw new ArgumentException($"The refresh window start ({s:O}) must be before its end ({e:O}).", nameof(windowStart));
        }

        var relation = await ResolveAsync(view, "mv", cancellationToken);
        var cagg = await QueryAsync(
            "SELECT hypertable_schema::text, hypertable_name::text FROM timescaledb_information.continuous_aggregates WHERE view_schema = $1 AND view_name = $2",
            [relation.Schema, relation.Name], r => (Schema: r.GetString(0), Name: r.GetString(1)), cancellationToken);
        if (cagg is [var source])
        {
            // Never reach before the oldest raw chunk: those buckets would be recomputed from nothing and deleted.
            var oldest = await ScalarOrDefaultAsync<DateTimeOffset?>(null, null,
                "SELECT min(range_start) FROM timescaledb_information.chunks WHERE hypertable_schema = $1 AND hypertable_name = $2",
                [source.Schema, source.Name], cancellationToken);
            if (oldest is { } floor && (start is null || start < floor))
            {
                start = floor;
            }

            await ExecuteAsync("CALL refresh_continuous_aggregate($1::oid::regclass, $2::timestamptz, $3::timestamptz)",
                [Oid(relation), (object?)start ?? DBNull.Value, (object?)end ?? DBNull.Value], cancellationToken);
            return (start, end);
        }

        if (relation.Kind != 'm')
        {
            throw new ArgumentException($"'{view}' is neither a continuous aggregate nor a materialized view.", nameof(view));
        }

        // Emulated (Apache): a materialized view is refreshed whole; the price views keep retained history themselves.
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var watermark = await PriceWatermark.ReadAsync(connection, transaction, cancellationToken);
        await ExecuteAsync(connection, transaction, "SELECT financehub.refresh_materialized_view($1::oid::regclass, true)", [Oid(relation)], cancellationToken);
        await ExecuteAsync(connection, transaction,
            """
            UPDATE financehub.maintenance_policies SET materialized_through = $2, last_run_started_at = now(),
                   last_run_finished_at = clock_timestamp(), last_run_status = 'Success', last_error = NULL
            WHERE kind = 'Refresh' AND target = $1
            """, [relation.Name, new NpgsqlParameter { Value = (object?)watermark?.UtcDateTime ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz }],
            cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (null, null);
    }

    /// <inheritdoc />
    public async Task DropContinuousAggregateAsync(string view, CancellationToken cancellationToken = default)
    {
        var relation = await ResolveAsync(view, "mv", cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, transaction, $"DROP MATERIALIZED VIEW {relation.QualifiedName}", [], cancellationToken);
        await ExecuteAsync(connection, transaction,
            "DELETE FROM financehub.maintenance_policies WHERE kind = 'Refresh' AND target = $1", [relation.Name], cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<AggregateInfo>> GetAggregatesAsync(CancellationToken cancellationToken = default)
    {
        if (await GetEditionAsync(cancellationToken) == TimescaleEdition.Community)
        {
            return await QueryAsync(
                """
                SELECT ca.view_name::text, ca.materialized_only,
                       -- With nothing materialized, the watermark is the lowest time PostgreSQL has (before year 1).
                       nullif(greatest(_timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id)),
                                       '0001-01-01 00:00:00+00'::timestamptz), '0001-01-01 00:00:00+00'::timestamptz)
                FROM timescaledb_information.continuous_aggregates ca
                JOIN _timescaledb_catalog.continuous_agg c ON c.user_view_schema = ca.view_schema AND c.user_view_name = ca.view_name
                ORDER BY 1
                """, [], r => new AggregateInfo(r.GetString(0), "continuous aggregate",
                    r.IsDBNull(2) ? null : r.GetFieldValue<DateTimeOffset>(2), !r.GetBoolean(1)), cancellationToken);
        }

        return await QueryAsync(
            """
            SELECT target::text, materialized_through FROM financehub.maintenance_policies WHERE kind = 'Refresh' ORDER BY 1
            """, [], r => new AggregateInfo(r.GetString(0), "materialized view", r.IsDBNull(1) ? null : r.GetFieldValue<DateTimeOffset>(1), false),
            cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<JobInfo>> GetJobsAsync(CancellationToken cancellationToken = default)
    {
        if (await GetEditionAsync(cancellationToken) == TimescaleEdition.Community)
        {
            return await QueryAsync(
                """
                SELECT j.job_id::text, replace(j.proc_name::text, 'policy_', ''), coalesce(ca.view_name, j.hypertable_name, '')::text,
                       j.schedule_interval::text, j.scheduled, js.last_run_started_at, js.last_run_status::text, js.next_start,
                       coalesce(js.total_failures, 0)::bigint,
                       (SELECT e.err_message FROM timescaledb_information.job_errors e WHERE e.job_id = j.job_id ORDER BY e.finish_time DESC LIMIT 1),
                       j.config::text
                FROM timescaledb_information.jobs j
                LEFT JOIN timescaledb_information.job_stats js ON js.job_id = j.job_id
                LEFT JOIN timescaledb_information.continuous_aggregates ca ON ca.materialization_hypertable_name = j.hypertable_name
                ORDER BY j.job_id
                """, [], r => new JobInfo(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetBoolean(4), true,
                    r.IsDBNull(5) ? null : r.GetFieldValue<DateTimeOffset>(5), r.IsDBNull(6) ? null : r.GetString(6),
                    r.IsDBNull(7) ? null : r.GetFieldValue<DateTimeOffset>(7), r.GetInt64(8), r.IsDBNull(9) ? null : r.GetString(9),
                    r.IsDBNull(10) ? null : r.GetString(10)), cancellationToken);
        }

        var policies = await maintenance.ListPoliciesAsync(cancellationToken);
        return [.. policies.Select(p => new JobInfo(p.Name, p.Kind.ToString().ToLowerInvariant(), p.Target, Durations.Describe(p.ScheduleInterval),
            p.Enabled, false, p.LastRunStartedAt, p.LastRunStatus, p.NextRunAt, p.LastRunStatus == "Failed" ? 1 : 0, p.LastError,
            p.DropAfter is { } d ? $"{{\"drop_after\": \"{Durations.Describe(d)}\"}}" : null))];
    }

    /// <inheritdoc />
    public async Task<StorageInfo> GetStorageAsync(CancellationToken cancellationToken = default)
    {
        var (database, size) = (await QueryAsync("SELECT current_database()::text, pg_database_size(current_database())", [],
            r => (r.GetString(0), r.GetInt64(1)), cancellationToken))[0];
        var hypertables = await QueryAsync(
            """
            SELECT h.hypertable_name::text, coalesce(s.table_bytes, 0), coalesce(s.index_bytes, 0), coalesce(s.toast_bytes, 0), coalesce(s.total_bytes, 0)
            FROM timescaledb_information.hypertables h
            CROSS JOIN LATERAL hypertable_detailed_size(format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass) s
            WHERE NOT EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates ca WHERE ca.materialization_hypertable_name = h.hypertable_name)
            ORDER BY 1
            """, [], r => new HypertableStorage(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4)), cancellationToken);
        return new StorageInfo(database, size, hypertables);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<MaintenanceRunResult>> RunMaintenanceAsync(bool force = false, CancellationToken cancellationToken = default)
        => maintenance.RunDueAsync(force, cancellationToken);

    private async Task RequireCommunityAsync(string feature, CancellationToken cancellationToken)
    {
        var edition = await GetEditionAsync(cancellationToken);
        if (edition != TimescaleEdition.Community)
        {
            throw new TimescaleFeatureUnavailableException(feature, edition);
        }
    }

    /// <summary>
    /// Resolves a table or view name. A plain name is matched exactly (case and spaces included) among the relations
    /// visible on the search path; otherwise it is parsed as a possibly qualified, quoted name by <c>to_regclass</c>.
    /// </summary>
    private async Task<Relation> ResolveAsync(string name, string kinds, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var rows = await QueryAsync(
            """
            SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE (c.relname = $1 AND pg_table_is_visible(c.oid)) OR c.oid = to_regclass($1)
            ORDER BY c.relname = $1 DESC
            LIMIT 1
            """, [name], r => new Relation(r.GetFieldValue<uint>(0), r.GetString(1), r.GetString(2), r.GetString(3)[0]), cancellationToken);
        if (rows is not [var relation] || !kinds.Contains(relation.Kind, StringComparison.Ordinal))
        {
            var what = kinds switch { "r" => "table", "mv" => "view", _ => "relation" };
            throw new ArgumentException($"There is no {what} named '{name}' in this database (schemas on the search path, or a qualified name).", nameof(name));
        }

        return relation;
    }

    private async Task<Relation> ResolveHypertableAsync(string table, CancellationToken cancellationToken)
    {
        var relation = await ResolveAsync(table, "r", cancellationToken);
        var isHypertable = await ScalarAsync<long>(
            "SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_schema = $1 AND hypertable_name = $2",
            [relation.Schema, relation.Name], cancellationToken) > 0;
        return isHypertable
            ? relation
            : throw new ArgumentException(
                $"'{table}' is a table but not a hypertable; convert it first (ITimescaleManager.CreateHypertableAsync or 'financehub-data convert').", nameof(table));
    }

    private async Task RequireColumnAsync(Relation relation, string column, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(column);
        var exists = await ScalarAsync<long>(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = $1::oid AND attname = $2 AND attnum > 0 AND NOT attisdropped",
            [Oid(relation), column], cancellationToken) > 0;
        if (!exists)
        {
            throw new ArgumentException($"Table '{relation.Name}' has no column named '{column}'.", nameof(column));
        }
    }

    private static (string Column, string Direction) ParseOrderBy(string item)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(item);
        var trimmed = item.Trim();
        foreach (var direction in OrderDirections)
        {
            if (trimmed.EndsWith(" " + direction, StringComparison.OrdinalIgnoreCase))
            {
                return (trimmed[..^(direction.Length + 1)].TrimEnd(), direction);
            }
        }

        return (trimmed, "ASC");
    }

    private static void RequirePositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be a positive duration.");
        }
    }

    private static TimeSpan DefaultRetentionSchedule(TimeSpan dropAfter)
        => dropAfter <= TimeSpan.FromDays(7) ? TimeSpan.FromHours(1) : TimeSpan.FromDays(1);

    private static NpgsqlParameter Oid(Relation relation) => new() { Value = relation.Oid, NpgsqlDbType = NpgsqlDbType.Oid };

    private static NpgsqlParameter ToParameter(object? value)
        => value as NpgsqlParameter ?? new NpgsqlParameter { Value = value ?? DBNull.Value };

    private async Task<List<T>> QueryAsync<T>(string sql, object?[] parameters, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.AddRange(parameters.Select(ToParameter).ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(map(reader));
        }

        return rows;
    }

    private async Task<T> ScalarAsync<T>(string sql, object?[] parameters, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.AddRange(parameters.Select(ToParameter).ToArray());
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is T typed ? typed : (T)Convert.ChangeType(value!, typeof(T), CultureInfo.InvariantCulture);
    }

    private async Task<T?> ScalarOrDefaultAsync<T>(
        NpgsqlConnection? connection, NpgsqlTransaction? transaction, string sql, object?[] parameters, CancellationToken cancellationToken)
    {
        await using var command = connection is null ? dataSource.CreateCommand(sql) : new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.AddRange(parameters.Select(ToParameter).ToArray());
        return await command.ExecuteScalarAsync(cancellationToken) switch
        {
            null or DBNull => default,
            DateTime t when typeof(T) == typeof(DateTimeOffset?) => (T)(object)new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)),
            var value => (T)value,
        };
    }

    private async Task<int> ExecuteAsync(string sql, object?[] parameters, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.AddRange(parameters.Select(ToParameter).ToArray());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task ExecuteAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, object?[] parameters, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.AddRange(parameters.Select(ToParameter).ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "TimescaleDB extension and FinanceHub helper functions are in place")]
    private partial void LogSetup();

    [LoggerMessage(Level = LogLevel.Information, Message = "Created hypertable {Table} on {TimeColumn}")]
    private partial void LogCreatedHypertable(string table, string timeColumn);

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention of {Table} set to {DropAfter}")]
    private partial void LogRetention(string table, TimeSpan dropAfter);
}
