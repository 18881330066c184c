using System.Diagnostics;
using System.Runtime.CompilerServices;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Timescale;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Ingest;

/// <summary>
/// Fast loading through Npgsql's binary COPY, streamed: rows are written as they are read, never all held in memory.
/// A load is one transaction: when any row is bad, a symbol unknown, or a key duplicated, nothing is written. A price load
/// with <see cref="IngestOptions.Parallelism"/> above 1 writes over several COPY streams committed together (see there).
/// </summary>
public interface IBulkIngestor
{
    /// <summary>Loads price bars into <c>asset_prices_historic</c>.</summary>
    Task<IngestResult> IngestPricesAsync(IAsyncEnumerable<PriceRow> rows, IngestOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Loads price bars into <c>asset_prices_historic</c>.</summary>
    Task<IngestResult> IngestPricesAsync(IEnumerable<PriceRow> rows, IngestOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Appends metrics to <c>performance_metrics</c> (ids are generated).</summary>
    Task<IngestResult> IngestMetricsAsync(IAsyncEnumerable<PerformanceMetric> rows, IProgress<long>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>Appends request logs to <c>api_usage_logs</c> (ids are generated).</summary>
    Task<IngestResult> IngestApiUsageAsync(IAsyncEnumerable<ApiUsageLog> rows, IProgress<long>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Upserts splits and cash dividends into <c>corporate_actions</c> (one transaction; an action already stored with the
    /// same asset, kind and instant takes the new value). <see cref="IngestResult.RowsWritten"/> counts rows inserted or
    /// changed, <see cref="IngestResult.RowsSkipped"/> those already stored as given.
    /// </summary>
    /// <exception cref="InvalidRowException">A missing symbol, a ratio or amount that is not positive, or an action given twice.</exception>
    /// <exception cref="UnknownSymbolException">Symbols that name no asset (all of them listed); nothing is written.</exception>
    Task<IngestResult> IngestCorporateActionsAsync(IAsyncEnumerable<CorporateActionRow> rows, CancellationToken cancellationToken = default);
}

/// <inheritdoc />
public sealed partial class BulkIngestor(NpgsqlDataSource dataSource, ITimescaleManager timescale, ILogger<BulkIngestor> logger) : IBulkIngestor
{
    // numeric(20,8) holds 12 integer digits, numeric(28,8) 20.
    private const decimal MaxPrice = 999_999_999_999.99999999m;
    private const decimal MaxVolume = 99_999_999_999_999_999_999.99999999m;

    private const string PriceTable = "asset_prices_historic";

    private const string PriceColumns = "asset_id, date, open, high, low, close, adjusted_close, volume, trade_count, source";

    internal const string StagingTableSql =
        """
        CREATE TEMP TABLE financehub_price_staging (
          asset_id integer NOT NULL, date timestamptz NOT NULL, open numeric NOT NULL, high numeric NOT NULL, low numeric NOT NULL,
          close numeric NOT NULL, adjusted_close numeric, volume numeric NOT NULL, trade_count integer, source text, ordinal bigint NOT NULL
        ) ON COMMIT DROP
        """;

    /// <inheritdoc />
    public Task<IngestResult> IngestPricesAsync(IEnumerable<PriceRow> rows, IngestOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return IngestPricesAsync(ToAsync(rows, cancellationToken), options, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IngestResult> IngestPricesAsync(
        IAsyncEnumerable<PriceRow> rows, IngestOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        options ??= IngestOptions.Default;
        if (options.Parallelism is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Parallelism, "IngestOptions.Parallelism is the number of COPY streams: 1 to 64.");
        }

        var stopwatch = Stopwatch.StartNew();
        var state = IngestLoadState.Loaded;
        var ledger = false;
        if (options.LoadKey is { } key)
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            ledger = await LoadLedger.ExistsAsync(connection, cancellationToken);
            if (ledger && await LoadLedger.FindAsync(connection, key, PriceTable, cancellationToken) is { } earlier)
            {
                if (earlier.Complete)
                {
                    // Nothing left to load; what it still owes the aggregates (its run was interrupted after the commit) is done now.
                    LogAlreadyLoaded(key, earlier.Rows, earlier.LoadedAt);
                    var owed = earlier.First is { } first && earlier.Last is { } last
                        ? await OwedRefreshes.CompleteRecordedAsync(timescale, dataSource, first, last, cancellationToken)
                        : [];
                    return new IngestResult(0, 0, 0, [], earlier.First, earlier.Last, stopwatch.Elapsed, owed, IngestLoadState.AlreadyLoaded,
                        new EarlierLoad(earlier.Rows, earlier.LoadedAt, earlier.PartsCommitted, earlier.Parts));
                }

                // Some of its streams committed before an interruption: load it all again, keeping the rows that are there.
                LogCompletingLoad(key, earlier.PartsCommitted, earlier.Parts);
                state = IngestLoadState.Completed;
                options = options.OnConflict == ConflictMode.Error ? options with { OnConflict = ConflictMode.Skip } : options;
            }
        }

        var staged = options.OnConflict != ConflictMode.Error;
        var copySql = staged
            ? $"COPY financehub_price_staging ({PriceColumns}, ordinal) FROM STDIN (FORMAT BINARY)"
            : $"COPY asset_prices_historic ({PriceColumns}) FROM STDIN (FORMAT BINARY)";

        // Recorded in the load's own transactions: the refresh it owes (in the first, which commits first) and, with a
        // load key, each transaction's part.
        var attempt = Guid.NewGuid();
        long[] owedIds = [];
        async Task BeforeCommitAsync(ParallelPriceLoad.Part part, CancellationToken ct)
        {
            if (part.Index == 0 && options.RefreshAggregates && part.Min is { } from && part.Max is { } to)
            {
                owedIds = await OwedRefreshes.RecordAsync(part.Connection, part.Transaction, from, to,
                    $"ingest{(options.LoadKey is { } k ? $" {k}" : "")}", ct);
            }

            if (ledger)
            {
                await LoadLedger.RecordAsync(part.Connection, part.Transaction, options.LoadKey!, attempt, part.Index, part.Parts, PriceTable, part.Rows,
                    part.Min, part.Max, ct);
            }
        }

        IngestResult result;
        if (options.Parallelism > 1)
        {
            var outcome = await new ParallelPriceLoad(dataSource, options.Parallelism, staged, copySql, MergeSql(options.OnConflict), logger)
                .RunAsync(rows, options, BeforeCommitAsync, cancellationToken);
            options.Progress?.Report(outcome.Count);
            result = new IngestResult(outcome.Count, outcome.Written, outcome.Count - outcome.Written, outcome.Created, outcome.Min, outcome.Max, stopwatch.Elapsed);
        }
        else
        {
            result = await LoadInOneTransactionAsync(rows, options, staged, copySql, BeforeCommitAsync, stopwatch, cancellationToken);
        }

        LogLoaded(PriceTable, result.RowsRead, result.RowsWritten, stopwatch.ElapsedMilliseconds);
        Telemetry.FinanceHubTelemetry.Ingested(PriceTable, result.RowsWritten);
        result = result with { State = state };
        if (options.RefreshAggregates && result.MinDate is { } start && result.MaxDate is { } end)
        {
            // The rows are committed: from here nothing throws for a failed refresh; it stays owed (recorded) and says so.
            var refreshes = await OwedRefreshes.CompleteAsync(timescale, dataSource, owedIds, start, end, cancellationToken);
            foreach (var refresh in refreshes.Where(r => r.Status == AggregateRefreshStatus.Refreshed))
            {
                LogRefreshed(refresh.View, start, end);
            }

            result = result with { AggregateRefreshes = refreshes };
        }

        return result;
    }

    private async Task<IngestResult> LoadInOneTransactionAsync(IAsyncEnumerable<PriceRow> rows, IngestOptions options, bool staged, string copySql,
        Func<ParallelPriceLoad.Part, CancellationToken, Task> beforeCommit, Stopwatch stopwatch, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        var assets = await LoadAssetsAsync(connection, transaction, cancellationToken);
        if (staged)
        {
            await using var create = new NpgsqlCommand(StagingTableSql, connection, transaction);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        var created = new List<string>();
        long count = 0;
        DateTimeOffset? min = null, max = null;
        var copy = await BinaryCopyStream.BeginAsync(connection, copySql, cancellationToken);
        try
        {
            await foreach (var row in rows.WithCancellation(cancellationToken))
            {
                count++;
                var symbol = Validate(row, count);
                if (!assets.TryGetValue(symbol, out var assetId))
                {
                    if (options.OnUnknownSymbol == UnknownSymbolMode.Reject)
                    {
                        throw new UnknownSymbolException(symbol,
                            $"Row {count} uses it. Nothing was written; add the asset first, or load with UnknownSymbolMode.Create.");
                    }

                    // A COPY owns the connection until it completes: finish it, create the asset, start a new one (same transaction).
                    await copy.CompleteAsync(cancellationToken);
                    await copy.DisposeAsync();
                    assetId = await CreateAssetAsync(connection, transaction, symbol, cancellationToken);
                    assets[symbol] = assetId;
                    created.Add(symbol);
                    copy = await BinaryCopyStream.BeginAsync(connection, copySql, cancellationToken);
                }

                WritePriceRow(copy, assetId, row, staged ? count : null);
                await copy.FlushIfFullAsync(cancellationToken);
                if (min is null || row.Date < min)
                {
                    min = row.Date;
                }

                if (max is null || row.Date > max)
                {
                    max = row.Date;
                }

                if (options.Progress is not null && count % options.ProgressInterval == 0)
                {
                    options.Progress.Report(count);
                }
            }

            await copy.CompleteAsync(cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw Duplicate(ex);
        }
        finally
        {
            // A COPY that was not completed is cancelled; the transaction then rolls back.
            await copy.DisposeAsync();
        }

        long written = count;
        if (staged && count > 0)
        {
            await using var merge = new NpgsqlCommand(MergeSql(options.OnConflict), connection, transaction) { CommandTimeout = 0 };
            written = await merge.ExecuteNonQueryAsync(cancellationToken);
        }

        await beforeCommit(new ParallelPriceLoad.Part(0, 1, connection, transaction, written, min, max), cancellationToken);
        try
        {
            // Not cancellable: once sent, the commit's outcome is the server's to tell.
            await transaction.CommitAsync(CancellationToken.None);
        }
        catch (NpgsqlException ex) when (ex is not PostgresException)
        {
            throw new LoadInterruptedException(
                $"The connection was lost while the load of {count:N0} rows committed ({ex.Message}): whether it is in is unknown until the database is back. " +
                "Run the same load again with the same load key (the command line's is the file's SHA-256): it says whether it is in, and loads it if not.", ex);
        }

        options.Progress?.Report(count);
        return new IngestResult(count, written, count - written, created, min, max, stopwatch.Elapsed);
    }

    /// <summary>Moves staged rows into the table: per key the first row (skip) or the last (update) of the load.</summary>
    private static string MergeSql(ConflictMode mode)
    {
        var (order, onConflict) = mode == ConflictMode.Update
            ? ("ordinal DESC", "DO UPDATE SET open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, " +
                               "adjusted_close = excluded.adjusted_close, volume = excluded.volume, trade_count = excluded.trade_count, source = excluded.source")
            : ("ordinal", "DO NOTHING");
        return $"""
            INSERT INTO asset_prices_historic ({PriceColumns})
            SELECT DISTINCT ON (asset_id, date) {PriceColumns} FROM financehub_price_staging ORDER BY asset_id, date, {order}
            ON CONFLICT (asset_id, date) {onConflict}
            """;
    }

    /// <summary>One price row in the column order of the price COPY (and the staging table's load ordinal where staged).</summary>
    internal static void WritePriceRow(BinaryCopyStream copy, int assetId, PriceRow row, long? ordinal)
    {
        copy.StartRow(ordinal is null ? (short)10 : (short)11);
        copy.Int32(assetId);
        copy.TimestampTz(row.Date);
        copy.Numeric(row.Open);
        copy.Numeric(row.High);
        copy.Numeric(row.Low);
        copy.Numeric(row.Close);
        copy.Numeric(row.AdjustedClose);
        copy.Numeric(row.Volume);
        copy.Int32(row.TradeCount);
        copy.Text(row.Source);
        if (ordinal is { } n)
        {
            copy.Int64(n);
        }
    }

    /// <summary>
    /// The server names the duplicate key in its detail, which Npgsql withholds unless the connection string says
    /// <c>Include Error Detail=true</c>; without it the constraint's name would be a chunk's, meaningless to the reader.
    /// </summary>
    internal static DuplicateRowException Duplicate(PostgresException ex)
        => new(ex.Detail is { Length: > 0 } d && !d.Contains("redacted", StringComparison.OrdinalIgnoreCase)
            ? d
            : "the key (asset_id, date) of asset_prices_historic; the server's detail, which names the row, is withheld unless the connection string " +
              "has 'Include Error Detail=true'", ex);

    /// <inheritdoc />
    public async Task<IngestResult> IngestMetricsAsync(
        IAsyncEnumerable<PerformanceMetric> rows, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return await AppendAsync(
            "COPY performance_metrics (created_at, metric_name, value, unit, service, host, asset_id) FROM STDIN (FORMAT BINARY)",
            rows, progress, static m => m.CreatedAt,
            static (m, n) =>
            {
                if (string.IsNullOrWhiteSpace(m.MetricName))
                {
                    throw new InvalidRowException(n, $"metric at {m.CreatedAt:O}", "the metric name is missing");
                }

                if (double.IsNaN(m.Value) || double.IsInfinity(m.Value))
                {
                    throw new InvalidRowException(n, $"{m.MetricName} at {m.CreatedAt:O}", $"the value {m.Value} is not a finite number");
                }
            },
            static async (w, m, ct) =>
            {
                await w.WriteAsync(m.CreatedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
                await w.WriteAsync(m.MetricName, NpgsqlDbType.Varchar, ct);
                await w.WriteAsync(m.Value, NpgsqlDbType.Double, ct);
                await WriteTextAsync(w, m.Unit, ct);
                await WriteTextAsync(w, m.Service, ct);
                await WriteTextAsync(w, m.Host, ct);
                await WriteNullableAsync(w, m.AssetId, NpgsqlDbType.Integer, ct);
            }, "performance_metrics", cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IngestResult> IngestApiUsageAsync(
        IAsyncEnumerable<ApiUsageLog> rows, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return await AppendAsync(
            "COPY api_usage_logs (created_at, endpoint, method, status_code, duration_ms, caller_id, client_ip, user_agent, request_bytes, response_bytes) FROM STDIN (FORMAT BINARY)",
            rows, progress, static l => l.CreatedAt,
            static (l, n) =>
            {
                var what = $"{l.Method} {l.Endpoint} at {l.CreatedAt:O}";
                if (string.IsNullOrWhiteSpace(l.Endpoint) || string.IsNullOrWhiteSpace(l.Method))
                {
                    throw new InvalidRowException(n, what, "the endpoint or method is missing");
                }

                if (l.StatusCode is < 100 or > 599)
                {
                    throw new InvalidRowException(n, what, $"status code {l.StatusCode} is not an HTTP status (100-599)");
                }

                if (l.DurationMs < 0 || double.IsNaN(l.DurationMs))
                {
                    throw new InvalidRowException(n, what, $"duration {l.DurationMs} ms is negative");
                }
            },
            static async (w, l, ct) =>
            {
                await w.WriteAsync(l.CreatedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
                await w.WriteAsync(l.Endpoint, NpgsqlDbType.Varchar, ct);
                await w.WriteAsync(l.Method, NpgsqlDbType.Varchar, ct);
                await w.WriteAsync(l.StatusCode, NpgsqlDbType.Smallint, ct);
                await w.WriteAsync(l.DurationMs, NpgsqlDbType.Double, ct);
                await WriteTextAsync(w, l.CallerId, ct);
                if (l.ClientIp is null)
                {
                    await w.WriteNullAsync(ct);
                }
                else
                {
                    await w.WriteAsync(l.ClientIp, NpgsqlDbType.Inet, ct);
                }

                await WriteTextAsync(w, l.UserAgent, ct);
                await WriteNullableAsync(w, l.RequestBytes, NpgsqlDbType.Bigint, ct);
                await WriteNullableAsync(w, l.ResponseBytes, NpgsqlDbType.Bigint, ct);
            }, "api_usage_logs", cancellationToken);
    }

    private async Task<IngestResult> AppendAsync<T>(
        string copySql, IAsyncEnumerable<T> rows, IProgress<long>? progress, Func<T, DateTimeOffset> time, Action<T, long> validate,
        Func<NpgsqlBinaryImporter, T, CancellationToken, Task> write, string table, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        long count = 0;
        DateTimeOffset? min = null, max = null;
        await using (var writer = await connection.BeginBinaryImportAsync(copySql, cancellationToken))
        {
            await foreach (var row in rows.WithCancellation(cancellationToken))
            {
                count++;
                if (row is null)
                {
                    throw new InvalidRowException(count, "null", "the row is missing");
                }

                var t = time(row);
                if (t == default)
                {
                    throw new InvalidRowException(count, table, "the time is missing");
                }

                validate(row, count);
                await writer.StartRowAsync(cancellationToken);
                await write(writer, row, cancellationToken);
                min = min is null || t < min ? t : min;
                max = max is null || t > max ? t : max;
                if (progress is not null && count % 100_000 == 0)
                {
                    progress.Report(count);
                }
            }

            await writer.CompleteAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        progress?.Report(count);
        LogLoaded(table, count, count, stopwatch.ElapsedMilliseconds);
        Telemetry.FinanceHubTelemetry.Ingested(table, count);
        return new IngestResult(count, count, 0, [], min, max, stopwatch.Elapsed);
    }

    internal static string Validate(PriceRow? row, long n)
    {
        if (row is null)
        {
            throw new InvalidRowException(n, "null", "the row is missing");
        }

        // Described only when something is wrong: this runs for every row of a load.
        InvalidRowException Invalid(string problem) => new(n, $"{row.Symbol} {row.Date:O}", problem);

        if (string.IsNullOrWhiteSpace(row.Symbol))
        {
            throw Invalid("the symbol is missing");
        }

        if (row.Date == default)
        {
            throw Invalid("the date is missing");
        }

        if (row.High < row.Low)
        {
            throw Invalid($"high {row.High} is below low {row.Low}");
        }

        if (row.Open < row.Low || row.Open > row.High)
        {
            throw Invalid($"open {row.Open} is outside [low {row.Low}, high {row.High}]");
        }

        if (row.Close < row.Low || row.Close > row.High)
        {
            throw Invalid($"close {row.Close} is outside [low {row.Low}, high {row.High}]");
        }

        if (row.Volume < 0)
        {
            throw Invalid($"volume {row.Volume} is negative");
        }

        if (row.TradeCount < 0)
        {
            throw Invalid($"trade count {row.TradeCount} is negative");
        }

        // Open and close lie between low and high, so these two bound all four prices.
        if (row.High > MaxPrice || row.Low < -MaxPrice)
        {
            throw Invalid($"a price has more than 12 integer digits (numeric(20,8)): low {row.Low}, high {row.High}");
        }

        if (row.Volume > MaxVolume)
        {
            throw Invalid($"volume {row.Volume} has more than 20 integer digits (numeric(28,8))");
        }

        var symbol = row.Symbol.Length <= 32 && IsUpperTrimmed(row.Symbol) ? row.Symbol : row.Symbol.Trim().ToUpperInvariant();
        return symbol.Length <= 32 ? symbol : throw Invalid("the symbol is longer than 32 characters");
    }

    private static bool IsUpperTrimmed(string symbol)
    {
        foreach (var c in symbol)
        {
            if (char.IsLower(c) || char.IsWhiteSpace(c))
            {
                return false;
            }
        }

        return true;
    }

    internal static async Task<Dictionary<string, int>> LoadAssetsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        var assets = new Dictionary<string, int>(StringComparer.Ordinal);
        await using var command = new NpgsqlCommand("SELECT symbol, id FROM assets", connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            assets[reader.GetString(0)] = reader.GetInt32(1);
        }

        return assets;
    }

    internal static async Task<int> CreateAssetAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string symbol, CancellationToken cancellationToken)
    {
        // ON CONFLICT: a concurrent load may have created it since we read the list.
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO assets (symbol, asset_type, quote_currency, is_active, created_at) VALUES ($1, 'Other', 'USD', true, now())
            ON CONFLICT (symbol) DO UPDATE SET symbol = excluded.symbol
            RETURNING id
            """, connection, transaction)
        {
            Parameters = { new() { Value = symbol } },
        };
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task WriteNullableAsync<T>(NpgsqlBinaryImporter writer, T? value, NpgsqlDbType type, CancellationToken cancellationToken)
        where T : struct
    {
        if (value is { } v)
        {
            await writer.WriteAsync(v, type, cancellationToken);
        }
        else
        {
            await writer.WriteNullAsync(cancellationToken);
        }
    }

    private static async Task WriteTextAsync(NpgsqlBinaryImporter writer, string? value, CancellationToken cancellationToken)
    {
        if (value is null)
        {
            await writer.WriteNullAsync(cancellationToken);
        }
        else
        {
            await writer.WriteAsync(value, NpgsqlDbType.Varchar, cancellationToken);
        }
    }

    private static async IAsyncEnumerable<T> ToAsync<T>(IEnumerable<T> rows, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var row in rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return row;
        }

        await Task.CompletedTask;
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Loaded {Rows} rows into {Table} ({Written} written) in {ElapsedMs} ms")]
    private partial void LogLoaded(string table, long rows, long written, long elapsedMs);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Refreshed {View} over {Start} - {End} after a backfill")]
    private partial void LogRefreshed(string view, DateTimeOffset start, DateTimeOffset end);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Information, Message = "Load {LoadKey} is in already ({Rows} rows, committed {LoadedAt}): nothing left to load")]
    private partial void LogAlreadyLoaded(string loadKey, long rows, DateTimeOffset loadedAt);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Warning,
        Message = "Load {LoadKey}: an earlier run committed {Committed} of its {Parts} streams before it was interrupted; loading it again, keeping the rows that are there")]
    private partial void LogCompletingLoad(string loadKey, int committed, int parts);
}
