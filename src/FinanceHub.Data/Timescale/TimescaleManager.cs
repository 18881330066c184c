using System.Globalization;
using FinanceHub.Data.Configuration;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Infrastructure;
using FinanceHub.Data.Migrations.Infrastructure;
using FinanceHub.Data.Timescale.Catalog;
using FinanceHub.Data.Timescale.Maintenance;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Timescale;

/// <inheritdoc />
public sealed partial class TimescaleManager(
    NpgsqlDataSource dataSource, IMaintenanceRunner maintenance, ILogger<TimescaleManager> logger, IOptions<DatabaseOptions>? options = null)
    : ITimescaleManager
{
    private readonly TimescaleCatalog _catalog = new(dataSource);
    private readonly ConcurrentRefreshRetry _refreshRetry = new(options?.Value.AggregateRefreshRetry ?? new(), logger);
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
        catch (NpgsqlException ex) when (ex is not PostgresException && ex.InnerException is System.Net.Sockets.SocketException or TimeoutException or IOException)
        {
            // Unreachable is a health finding; a refused or missing password is a configuration error and is thrown.
            return new TimescaleHealth(false, null, false, null, null, TimescaleEdition.None, null, 0, false, ex.Message);
        }
    }

    /// <inheritdoc />
    public async Task<TimescaleEdition> GetEditionAsync(CancellationToken cancellationToken = default)
        => (await _catalog.GetServerAsync(cancellationToken)).Edition;

    /// <inheritdoc />
    public async Task<IReadOnlyList<FeatureSupport>> GetFeatureSupportAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await dataSource.QueryAsync("SELECT feature, support, detail FROM financehub.feature_support()", [],
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
        await dataSource.ExecuteAsync(
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
        await dataSource.ExecuteAsync("SELECT add_dimension($1::oid::regclass, by_hash($2::name, $3), if_not_exists => true)",
            [Oid(relation), column, partitions], cancellationToken);
    }

    /// <inheritdoc />
    public async Task SetChunkTimeIntervalAsync(string table, TimeSpan chunkInterval, CancellationToken cancellationToken = default)
    {
        RequirePositive(chunkInterval, nameof(chunkInterval));
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        await dataSource.ExecuteAsync("SELECT set_chunk_time_interval($1::oid::regclass, $2::interval)", [Oid(relation), chunkInterval], cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<HypertableInfo>> GetHypertablesAsync(CancellationToken cancellationToken = default)
        => _catalog.GetHypertablesAsync(cancellationToken);

    /// <inheritdoc />
    public async Task<IReadOnlyList<ChunkInfo>> GetChunksAsync(string table, CancellationToken cancellationToken = default)
    {
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        return await _catalog.GetChunksAsync(relation.Oid, relation.Schema, relation.Name, cancellationToken);
    }

    /// <inheritdoc />
    public async Task SetRetentionPolicyAsync(string table, TimeSpan dropAfter, CancellationToken cancellationToken = default)
    {
        RequirePositive(dropAfter, nameof(dropAfter));
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        await _catalog.RequireRefreshWindowsInsideAsync(relation.Schema, relation.Name, dropAfter, "A retention", cancellationToken);
        if (await GetEditionAsync(cancellationToken) == TimescaleEdition.Community)
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await connection.ExecuteAsync(transaction, "SELECT remove_retention_policy($1::oid::regclass, if_exists => true)", [Oid(relation)], cancellationToken);
            await connection.ExecuteAsync(transaction, "SELECT add_retention_policy($1::oid::regclass, drop_after => $2::interval)", [Oid(relation), dropAfter], cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        else
        {
            await dataSource.ExecuteAsync(
                """
                INSERT INTO financehub.maintenance_policies (name, kind, target, drop_after, schedule_interval, enabled, next_run_at)
                VALUES ('retention:' || $1, 'Retention', $1, $2, $3, true, now())
                ON CONFLICT (name) DO UPDATE SET drop_after = excluded.drop_after, enabled = true
                """, [relation.Name, dropAfter, DefaultRetentionSchedule(dropAfter)], cancellationToken);
        }

        LogRetention(relation.QualifiedName, dropAfter);
    }

    /// <inheritdoc />
    public async Task<TimeSpan?> GetRetentionPolicyAsync(string table, CancellationToken cancellationToken = default)
    {
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        var retentions = await _catalog.GetRetentionsAsync(relation.Schema, relation.Name, cancellationToken);
        return retentions.Count > 0 ? retentions.Min() : null;
    }

    /// <inheritdoc />
    public async Task<bool> RemoveRetentionPolicyAsync(string table, CancellationToken cancellationToken = default)
    {
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        if (await GetEditionAsync(cancellationToken) == TimescaleEdition.Community)
        {
            var existed = (await _catalog.GetRetentionsAsync(relation.Schema, relation.Name, cancellationToken)).Count > 0;
            await dataSource.ExecuteAsync("SELECT remove_retention_policy($1::oid::regclass, if_exists => true)", [Oid(relation)], cancellationToken);
            return existed;
        }

        return await dataSource.ExecuteAsync("DELETE FROM financehub.maintenance_policies WHERE kind = 'Retention' AND target = $1", [relation.Name], cancellationToken) > 0;
    }

    /// <inheritdoc />
    public async Task<int> DropChunksOlderThanAsync(string table, TimeSpan olderThan, CancellationToken cancellationToken = default)
    {
        RequirePositive(olderThan, nameof(olderThan));
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        await _catalog.RequireRefreshWindowsInsideAsync(relation.Schema, relation.Name, olderThan, "Dropping chunks older than", cancellationToken);
        return await dataSource.ScalarAsync<int>("SELECT financehub.apply_retention($1::oid::regclass, $2::interval)", [Oid(relation), olderThan], cancellationToken);
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

        // The columnstore names since 2.18, the compression names before (TimescaleRelease.HasColumnstore).
        var columnstore = (await _catalog.GetServerAsync(cancellationToken)).RequireRelease().HasColumnstore;
        var (enable, segmentByOption, orderByOption) = columnstore
            ? ("timescaledb.enable_columnstore", "timescaledb.segmentby", "timescaledb.orderby")
            : ("timescaledb.compress", "timescaledb.compress_segmentby", "timescaledb.compress_orderby");
        var statement =
            $"ALTER TABLE {relation.QualifiedName} SET ({enable}, " +
            $"{segmentByOption} = {SqlIdentifiers.Literal(string.Join(", ", segmentBy.Select(SqlIdentifiers.Quote)))}, " +
            $"{orderByOption} = {SqlIdentifiers.Literal(string.Join(", ", orderItems))})";
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(transaction, statement, [], cancellationToken);
        if (compressAfter is { } after)
        {
            RequirePositive(after, nameof(compressAfter));
            await connection.ExecuteAsync(transaction, columnstore
                ? "CALL remove_columnstore_policy($1::oid::regclass, if_exists => true)"
                : "SELECT remove_compression_policy($1::oid::regclass, if_exists => true)", [Oid(relation)], cancellationToken);
            await connection.ExecuteAsync(transaction, columnstore
                ? "CALL add_columnstore_policy($1::oid::regclass, after => $2::interval)"
                : "SELECT add_compression_policy($1::oid::regclass, compress_after => $2::interval)", [Oid(relation), after], cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<int> CompressChunksAsync(string table, TimeSpan olderThan, CancellationToken cancellationToken = default)
    {
        await RequireCommunityAsync("Compression", cancellationToken);
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        var chunks = await dataSource.QueryAsync(
            """
            SELECT c::oid FROM show_chunks($1::oid::regclass, older_than => $2::interval) c
            WHERE NOT EXISTS (SELECT 1 FROM timescaledb_information.chunks i
                              WHERE format('%I.%I', i.chunk_schema, i.chunk_name)::regclass = c AND i.is_compressed)
            """, [Oid(relation), olderThan], r => r.GetFieldValue<uint>(0), cancellationToken);
        return await ConvertChunksAsync(chunks, toColumnstore: true, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<int> DecompressChunksAsync(string table, TimeSpan? newerThan = null, CancellationToken cancellationToken = default)
    {
        await RequireCommunityAsync("Compression", cancellationToken);
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        var chunks = await dataSource.QueryAsync(
            """
            SELECT format('%I.%I', chunk_schema, chunk_name)::regclass::oid FROM timescaledb_information.chunks
            WHERE hypertable_schema = $1 AND hypertable_name = $2 AND is_compressed
              AND ($3::interval IS NULL OR range_end > now() - $3::interval)
            """, [relation.Schema, relation.Name, new NpgsqlParameter { Value = (object?)newerThan ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Interval }],
            r => r.GetFieldValue<uint>(0), cancellationToken);
        return await ConvertChunksAsync(chunks, toColumnstore: false, cancellationToken);
    }

    /// <summary>Moves chunks into the columnstore or back, one statement each (they are procedures since 2.18).</summary>
    private async Task<int> ConvertChunksAsync(List<uint> chunks, bool toColumnstore, CancellationToken cancellationToken)
    {
        var columnstore = (await _catalog.GetServerAsync(cancellationToken)).RequireRelease().HasColumnstore;
        var sql = (toColumnstore, columnstore) switch
        {
            (true, true) => "CALL convert_to_columnstore($1::oid::regclass, if_not_columnstore => true)",
            (true, false) => "SELECT compress_chunk($1::oid::regclass, if_not_compressed => true)",
            (false, true) => "CALL convert_to_rowstore($1::oid::regclass, if_columnstore => true)",
            (false, false) => "SELECT decompress_chunk($1::oid::regclass, if_compressed => true)",
        };
        foreach (var chunk in chunks)
        {
            try
            {
                await dataSource.ExecuteAsync(sql, [new NpgsqlParameter { Value = chunk, NpgsqlDbType = NpgsqlDbType.Oid }], cancellationToken);
            }
            catch (PostgresException ex) when (toColumnstore && ex.SqlState == PostgresErrorCodes.DuplicateObject)
            {
                // "chunk ... is already compressed": the compression policy compressed it between the listing and this
                // call (TimescaleDB reads if_not_compressed before it locks the chunk). It is where it was asked to be.
            }
        }

        return chunks.Count;
    }

    /// <inheritdoc />
    public async Task<CompressionStats> GetCompressionStatsAsync(string table, CancellationToken cancellationToken = default)
    {
        await RequireCommunityAsync("Compression", cancellationToken);
        var relation = await ResolveHypertableAsync(table, cancellationToken);
        return await _catalog.GetCompressionStatsAsync(relation.Oid, relation.Name, cancellationToken);
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
        var timeColumn = await _catalog.GetTimeColumnAsync(source.Schema, source.Name, cancellationToken);
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
        await connection.ExecuteAsync(transaction, create, [], cancellationToken);
        if (definition.RefreshStartOffset is { } startOffset)
        {
            var retentions = await _catalog.GetRetentionsAsync(source.Schema, source.Name, cancellationToken);
            var retention = retentions.Count > 0 ? retentions.Min() : (TimeSpan?)null;
            if (retention is { } dropAfter && startOffset >= dropAfter)
            {
                throw new InvalidOperationException(
                    $"The refresh window of {definition.Name} ({startOffset.TotalDays:0.##} days) must be shorter than the retention of {source.Name} " +
                    $"({dropAfter.TotalDays:0.##} days): a refresh over buckets whose raw rows retention dropped deletes them from the aggregate.");
            }

            await connection.ExecuteAsync(transaction,
                "SELECT add_continuous_aggregate_policy(($1 || '.' || $2)::regclass, start_offset => $3::interval, end_offset => $4::interval, schedule_interval => $5::interval)",
                [SqlIdentifiers.Quote(source.Schema), SqlIdentifiers.Quote(definition.Name), startOffset,
                 definition.RefreshEndOffset ?? definition.Bucket, definition.RefreshSchedule ?? definition.Bucket], cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<AggregateRefreshResult> RefreshContinuousAggregateAsync(
        string view, DateTimeOffset? windowStart = null, DateTimeOffset? windowEnd = null, CancellationToken cancellationToken = default)
    {
        using var activity = Telemetry.FinanceHubTelemetry.Source.StartActivity("financehub.aggregate.refresh");
        activity?.SetTag("financehub.view", view);
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var result = await RefreshAggregateCoreAsync(view, windowStart, windowEnd, cancellationToken);
        Telemetry.FinanceHubTelemetry.Refreshed(view, stopwatch.Elapsed, result.Status.ToString());
        return result;
    }

    private async Task<AggregateRefreshResult> RefreshAggregateCoreAsync(
        string view, DateTimeOffset? windowStart, DateTimeOffset? windowEnd, CancellationToken cancellationToken)
    {
        var (start, end) = (windowStart, windowEnd);
        if (start is { } s && end is { } e && s >= e)
        {
            throw new ArgumentException($"The refresh window start ({s:O}) must be before its end ({e:O}).", nameof(windowStart));
        }

        var relation = await ResolveAsync(view, "mv", cancellationToken);
        if (await _catalog.GetAggregateSourceAsync(relation.Schema, relation.Name, cancellationToken) is { } source)
        {
            // Never reach before the oldest raw chunk: those buckets would be recomputed from nothing and deleted. With no
            // chunk at all (retention or archiving dropped every one) there is nothing to compute and everything to lose.
            if (await _catalog.GetOldestChunkStartAsync(source.Schema, source.Name, cancellationToken) is not { } floor)
            {
                return new AggregateRefreshResult(relation.Name, start, end, AggregateRefreshStatus.Refreshed, 0, null);
            }

            if (start is null || start < floor)
            {
                start = floor;
            }

            if (end is { } until && until <= start)
            {
                // The whole window lies before the oldest chunk.
                return new AggregateRefreshResult(relation.Name, start, end, AggregateRefreshStatus.Refreshed, 0, null);
            }

            // A refresh policy may be refreshing an overlapping window right now (55P03 since 2.27): wait and retry, then
            // report the window as pending rather than failing work whose rows are committed.
            var (attempts, pending) = await _refreshRetry.ExecuteAsync(ct => dataSource.ExecuteAsync(
                "CALL refresh_continuous_aggregate($1::oid::regclass, $2::timestamptz, $3::timestamptz)",
                [Oid(relation), (object?)start ?? DBNull.Value, (object?)end ?? DBNull.Value], ct), cancellationToken);
            if (pending is not null)
            {
                // Owed, not forgotten: the next maintenance run refreshes the window (some windows no policy ever reaches).
                await dataSource.ExecuteAsync(
                    "INSERT INTO financehub.pending_refreshes (view_name, range_start, range_end, reason) VALUES ($1, $2, $3, $4)",
                    [relation.QualifiedName, NpgsqlCommands.TimestampTz(start), NpgsqlCommands.TimestampTz(end), pending], cancellationToken);
                LogRefreshPending(relation.Name, start, end, attempts, pending);
                return new AggregateRefreshResult(relation.Name, start, end, AggregateRefreshStatus.Pending, attempts, pending);
            }

            // The candle ladder's rungs over it, over the same window (on the Apache edition the function below does it).
            await PriceAggregateRefresher.RefreshRungsAsync(dataSource, _catalog, _refreshRetry, relation.QualifiedName, start, end, cancellationToken);
            return new AggregateRefreshResult(relation.Name, start, end, AggregateRefreshStatus.Refreshed, attempts, null);
        }

        if (relation.Kind != 'm')
        {
            throw new ArgumentException($"'{view}' is neither a continuous aggregate nor a materialized view.", nameof(view));
        }

        // Emulated (Apache): a materialized view is refreshed whole; the price views keep retained history themselves.
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var watermark = await PriceWatermark.ReadAsync(connection, transaction, cancellationToken);
        await connection.ExecuteAsync(transaction, "SELECT financehub.refresh_materialized_view($1::oid::regclass, true)", [Oid(relation)], cancellationToken);
        await connection.ExecuteAsync(transaction,
            """
            UPDATE financehub.maintenance_policies SET materialized_through = $2, last_run_started_at = now(),
                   last_run_finished_at = clock_timestamp(), last_run_status = 'Success', last_error = NULL
            WHERE kind = 'Refresh' AND target = $1
            """, [relation.Name, new NpgsqlParameter { Value = (object?)watermark?.UtcDateTime ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz }],
            cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new AggregateRefreshResult(relation.Name, null, null, AggregateRefreshStatus.Refreshed, 1, null);
    }

    /// <inheritdoc />
    public async Task DropContinuousAggregateAsync(string view, CancellationToken cancellationToken = default)
    {
        var relation = await ResolveAsync(view, "mv", cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        try
        {
            await connection.ExecuteAsync(transaction, $"DROP MATERIALIZED VIEW {relation.QualifiedName}", [], cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DependentObjectsStillExist)
        {
            // Typically the candle ladder's rungs over an aggregate (asset_prices_4hour over asset_prices_hourly).
            var rungs = Aggregates.Ladder.Where(r => r.Parent == relation.Name).Select(r => r.View).ToList();
            throw new InvalidOperationException(
                $"{relation.Name} cannot be dropped while other views read it ({ex.Detail?.ReplaceLineEndings("; ") ?? ex.MessageText}). " +
                (rungs.Count > 0
                    ? $"Drop the aggregates over it first ({string.Join(", ", rungs)}: DropContinuousAggregateAsync(\"{rungs[0]}\") and so on), then this one."
                    : "Drop those views first, then this one."), ex);
        }

        await connection.ExecuteAsync(transaction,
            "DELETE FROM financehub.maintenance_policies WHERE kind = 'Refresh' AND target = $1", [relation.Name], cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<AggregateInfo>> GetAggregatesAsync(CancellationToken cancellationToken = default)
    {
        if (await GetEditionAsync(cancellationToken) == TimescaleEdition.Community)
        {
            return await _catalog.GetContinuousAggregatesAsync(cancellationToken);
        }

        // The ladder's views have no policy: refresh_materialized_view refreshes them with their parent, in its
        // transaction, so they are materialized exactly as far as it is.
        return await dataSource.QueryAsync(
            """
            SELECT target::text, materialized_through FROM financehub.maintenance_policies WHERE kind = 'Refresh'
            UNION ALL
            SELECT rung.view_name, p.materialized_through
            FROM unnest($1::text[], $2::text[]) AS rung (view_name, parent)
            JOIN financehub.maintenance_policies p ON p.kind = 'Refresh' AND p.target = rung.parent
            WHERE to_regclass(rung.view_name) IS NOT NULL
            ORDER BY 1
            """, [Aggregates.Ladder.Select(r => r.View).ToArray(), Aggregates.Ladder.Select(r => r.Parent).ToArray()],
            r => new AggregateInfo(r.GetString(0), "materialized view", r.IsDBNull(1) ? null : r.GetFieldValue<DateTimeOffset>(1), false),
            cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<JobInfo>> GetJobsAsync(CancellationToken cancellationToken = default)
    {
        var server = await _catalog.GetServerAsync(cancellationToken);
        if (server.Edition == TimescaleEdition.Community)
        {
            return await _catalog.GetJobsAsync(server.RequireRelease(), cancellationToken);
        }

        var policies = await maintenance.ListPoliciesAsync(cancellationToken);
        return [.. policies.Select(p => new JobInfo(p.Name, p.Kind.ToString().ToLowerInvariant(), p.Target, Durations.Describe(p.ScheduleInterval),
            p.Enabled, false, p.LastRunStartedAt, p.LastRunStatus, p.NextRunAt, p.LastRunStatus == "Failed" ? 1 : 0, p.LastError,
            p.DropAfter is { } d ? $"{{\"drop_after\": \"{Durations.Describe(d)}\"}}" : null))];
    }

    /// <inheritdoc />
    public Task<StorageInfo> GetStorageAsync(CancellationToken cancellationToken = default) => _catalog.GetStorageAsync(cancellationToken);

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
        const string select = "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace";
        static Relation Map(NpgsqlDataReader r) => new(r.GetFieldValue<uint>(0), r.GetString(1), r.GetString(2), r.GetString(3)[0]);
        var rows = await dataSource.QueryAsync($"{select} WHERE c.relname = $1 AND pg_table_is_visible(c.oid) LIMIT 1", [name], Map, cancellationToken);
        if (rows.Count == 0)
        {
            try
            {
                rows = await dataSource.QueryAsync($"{select} WHERE c.oid = to_regclass($1)", [name], Map, cancellationToken);
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.InvalidName or PostgresErrorCodes.InvalidSchemaName)
            {
                // Before PostgreSQL 16, to_regclass raises on text that is not a name at all, where later releases return NULL.
            }
        }

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
        var isHypertable = await _catalog.IsHypertableAsync(relation.Schema, relation.Name, cancellationToken);
        return isHypertable
            ? relation
            : throw new ArgumentException(
                $"'{table}' is a table but not a hypertable; convert it first (ITimescaleManager.CreateHypertableAsync or 'financehub-data convert').", nameof(table));
    }

    private async Task RequireColumnAsync(Relation relation, string column, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(column);
        var exists = await dataSource.ScalarAsync<long>(
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

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "TimescaleDB extension and FinanceHub helper functions are in place")]
    private partial void LogSetup();

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "Created hypertable {Table} on {TimeColumn}")]
    private partial void LogCreatedHypertable(string table, string timeColumn);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "Retention of {Table} set to {DropAfter}")]
    private partial void LogRetention(string table, TimeSpan dropAfter);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Warning,
        Message = "Refresh of {View} over [{Start}, {End}) is pending after {Attempts} attempt(s): {Reason}. The refresh policy's next run covers it")]
    private partial void LogRefreshPending(string view, DateTimeOffset? start, DateTimeOffset? end, int attempts, string reason);
}
