using System.Threading.Channels;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Ingest;

/// <summary>
/// A price load over several binary COPY streams, one connection and transaction each, as timescaledb-parallel-copy
/// does, but committed together: every stream's transaction stays open until all streams have written (and merged)
/// their rows, so a bad row, an unknown symbol or a duplicate key anywhere leaves nothing behind.
/// </summary>
/// <remarks>
/// <para>Rows are routed by key (asset and chunk), so equal keys always meet in one stream: duplicates within a load
/// are found there, and two streams never wait for each other's rows.</para>
/// <para>A TimescaleDB transaction that creates a chunk holds a lock on the hypertable until it ends, which would
/// serialize the streams (and, with every transaction held to the end, deadlock them). So chunks are created before
/// any stream writes into them, on a separate connection that commits at once: a row is inserted and deleted in one
/// short transaction, and the new chunk's exact range is read back. A failed load can leave such empty chunks.</para>
/// </remarks>
internal sealed class ParallelPriceLoad(NpgsqlDataSource dataSource, int streams, bool staged, string copySql, string mergeSql)
{
    private const int BatchSize = 2048;

    private readonly record struct Item(int AssetId, PriceRow Row, long Ordinal);

    public sealed record Outcome(long Count, long Written, DateTimeOffset? Min, DateTimeOffset? Max, IReadOnlyList<string> Created);

    public async Task<Outcome> RunAsync(IAsyncEnumerable<PriceRow> rows, IngestOptions options, CancellationToken cancellationToken)
    {
        await using var control = await dataSource.OpenConnectionAsync(cancellationToken);
        var assets = await BulkIngestor.LoadAssetsAsync(control, null, cancellationToken);
        var chunks = await ChunkMap.LoadAsync(control, cancellationToken);

        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var writers = new StreamWriter[streams];
        try
        {
            for (var i = 0; i < streams; i++)
            {
                writers[i] = await StreamWriter.OpenAsync(dataSource, staged, copySql, failed.Token);
            }

            foreach (var writer in writers)
            {
                writer.Start(failed);
            }

            var batches = new Item[streams][];
            var filled = new int[streams];
            for (var i = 0; i < streams; i++)
            {
                batches[i] = new Item[BatchSize];
            }

            var created = new List<string>();
            long count = 0;
            DateTimeOffset? min = null, max = null;
            try
            {
                await foreach (var row in rows.WithCancellation(failed.Token))
                {
                    count++;
                    var symbol = BulkIngestor.Validate(row, count);
                    if (!assets.TryGetValue(symbol, out var assetId))
                    {
                        if (options.OnUnknownSymbol == UnknownSymbolMode.Reject)
                        {
                            throw new UnknownSymbolException(symbol,
                                $"Row {count} uses it. Nothing was written; add the asset first, or load with UnknownSymbolMode.Create.");
                        }

                        // Committed at once: the streams' foreign key checks must see it.
                        assetId = await BulkIngestor.CreateAssetAsync(control, null, symbol, failed.Token);
                        assets[symbol] = assetId;
                        created.Add(symbol);
                    }

                    var chunk = await chunks.OrdinalAsync(control, assetId, row, failed.Token);
                    var stream = (int)((uint)(assetId + chunk) % (uint)streams);
                    batches[stream][filled[stream]++] = new Item(assetId, row, count);
                    if (filled[stream] == BatchSize)
                    {
                        await writers[stream].Queue.Writer.WriteAsync(new ArraySegment<Item>(batches[stream]), failed.Token);
                        batches[stream] = new Item[BatchSize];
                        filled[stream] = 0;
                    }

                    min = min is null || row.Date < min ? row.Date : min;
                    max = max is null || row.Date > max ? row.Date : max;
                    if (options.Progress is not null && count % options.ProgressInterval == 0)
                    {
                        options.Progress.Report(count);
                    }
                }

                for (var i = 0; i < streams; i++)
                {
                    if (filled[i] > 0)
                    {
                        await writers[i].Queue.Writer.WriteAsync(new ArraySegment<Item>(batches[i], 0, filled[i]), failed.Token);
                    }

                    writers[i].Queue.Writer.Complete();
                }

                await Task.WhenAll(writers.Select(w => w.Done));
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // A stream failed and cancelled the rest: its error is the one to report.
                await Task.WhenAll(writers.Select(w => w.Done)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                throw writers.Select(w => w.Done.Exception?.InnerException).FirstOrDefault(e => e is not null and not OperationCanceledException)
                      ?? new OperationCanceledException(failed.Token);
            }

            // Every stream wrote all its rows: merge where staged (in parallel), then commit them together.
            var written = staged ? (await Task.WhenAll(writers.Select(w => w.MergeAsync(mergeSql, failed.Token)))).Sum() : count;
            foreach (var writer in writers)
            {
                await writer.CommitAsync(cancellationToken);
            }

            return new Outcome(count, written, min, max, created);
        }
        catch
        {
            await failed.CancelAsync();
            throw;
        }
        finally
        {
            foreach (var writer in writers)
            {
                if (writer is not null)
                {
                    await writer.DisposeAsync();
                }
            }
        }
    }

    /// <summary>The time ranges of the price hypertable's chunks, creating a chunk before the first row that needs it.</summary>
    private sealed class ChunkMap
    {
        private readonly List<(long Start, long End, int Ordinal)> _ranges;
        private readonly bool _hypertable;
        private (long Start, long End, int Ordinal) _last = (long.MaxValue, long.MinValue, 0);
        private int _next;

        private ChunkMap(bool hypertable, List<(long, long, int)> ranges)
        {
            _hypertable = hypertable;
            _ranges = ranges;
            _next = ranges.Count;
        }

        public static async Task<ChunkMap> LoadAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
        {
            await using var command = new NpgsqlCommand(
                """
                SELECT (SELECT count(*) FROM timescaledb_information.dimensions
                        WHERE hypertable_schema = current_schema() AND hypertable_name = 'asset_prices_historic')
                WHERE to_regclass('timescaledb_information.dimensions') IS NOT NULL
                """, connection);
            var dimensions = (long?)await command.ExecuteScalarAsync(cancellationToken) ?? 0;
            if (dimensions > 1)
            {
                throw new NotSupportedException(
                    "asset_prices_historic is partitioned by more than time; a parallel load routes rows by time chunk only. Load it with Parallelism = 1.");
            }

            var ranges = new List<(long, long, int)>();
            if (dimensions == 1)
            {
                await using var read = new NpgsqlCommand(
                    """
                    SELECT range_start, range_end FROM timescaledb_information.chunks
                    WHERE hypertable_schema = current_schema() AND hypertable_name = 'asset_prices_historic' ORDER BY range_start
                    """, connection);
                await using var reader = await read.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    ranges.Add((reader.GetFieldValue<DateTime>(0).Ticks, reader.GetFieldValue<DateTime>(1).Ticks, ranges.Count));
                }
            }

            return new ChunkMap(dimensions == 1, ranges);
        }

        /// <summary>A number for the chunk that holds <paramref name="row"/>, created first when there is none.</summary>
        public async ValueTask<int> OrdinalAsync(NpgsqlConnection connection, int assetId, PriceRow row, CancellationToken cancellationToken)
        {
            if (!_hypertable)
            {
                return 0;
            }

            var t = row.Date.UtcTicks;
            if (t >= _last.Start && t < _last.End)
            {
                return _last.Ordinal;
            }

            var i = _ranges.BinarySearch((t, long.MaxValue, 0), RangeComparer.Instance);
            i = i < 0 ? ~i - 1 : i;
            if (i >= 0 && t >= _ranges[i].Start && t < _ranges[i].End)
            {
                return (_last = _ranges[i]).Ordinal;
            }

            var (start, end) = await CreateAsync(connection, assetId, row.Date.UtcDateTime, cancellationToken);
            _last = (start, end, _next++);
            var at = _ranges.BinarySearch(_last, RangeComparer.Instance);
            _ranges.Insert(at < 0 ? ~at : at, _last);
            return _last.Ordinal;
        }

        private static async Task<(long Start, long End)> CreateAsync(NpgsqlConnection connection, int assetId, DateTime time, CancellationToken cancellationToken)
        {
            // A placeholder row that satisfies every constraint creates the chunk; deleting it in the same transaction
            // leaves the chunk. A row already there with this key means the chunk exists, and it is left alone.
            await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
            {
                await using var insert = new NpgsqlCommand(
                    """
                    INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume) VALUES ($1, $2, 0, 0, 0, 0, 0)
                    ON CONFLICT (asset_id, date) DO NOTHING
                    """, connection, transaction)
                {
                    Parameters = { new() { Value = assetId }, new() { Value = time, NpgsqlDbType = NpgsqlDbType.TimestampTz } },
                };
                if (await insert.ExecuteNonQueryAsync(cancellationToken) == 1)
                {
                    await using var delete = new NpgsqlCommand("DELETE FROM asset_prices_historic WHERE asset_id = $1 AND date = $2", connection, transaction)
                    {
                        Parameters = { new() { Value = assetId }, new() { Value = time, NpgsqlDbType = NpgsqlDbType.TimestampTz } },
                    };
                    await delete.ExecuteNonQueryAsync(cancellationToken);
                }

                await transaction.CommitAsync(cancellationToken);
            }

            await using var read = new NpgsqlCommand(
                """
                SELECT range_start, range_end FROM timescaledb_information.chunks
                WHERE hypertable_schema = current_schema() AND hypertable_name = 'asset_prices_historic' AND range_start <= $1 AND range_end > $1
                """, connection)
            {
                Parameters = { new() { Value = time, NpgsqlDbType = NpgsqlDbType.TimestampTz } },
            };
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken)
                ? (reader.GetFieldValue<DateTime>(0).Ticks, reader.GetFieldValue<DateTime>(1).Ticks)
                : throw new InvalidOperationException($"No chunk of asset_prices_historic holds {time:O} after one was created for it.");
        }

        private sealed class RangeComparer : IComparer<(long Start, long End, int Ordinal)>
        {
            public static readonly RangeComparer Instance = new();

            public int Compare((long Start, long End, int Ordinal) x, (long Start, long End, int Ordinal) y) => x.Start.CompareTo(y.Start);
        }
    }

    /// <summary>One COPY stream: its connection, open transaction, and a thread that serializes the rows routed to it.</summary>
    private sealed class StreamWriter : IAsyncDisposable
    {
        private readonly NpgsqlConnection _connection;
        private readonly NpgsqlTransaction _transaction;
        private readonly BinaryCopyStream _copy;
        private readonly bool _staged;

        private StreamWriter(NpgsqlConnection connection, NpgsqlTransaction transaction, BinaryCopyStream copy, bool staged)
        {
            _connection = connection;
            _transaction = transaction;
            _copy = copy;
            _staged = staged;
        }

        public Channel<ArraySegment<Item>> Queue { get; } =
            Channel.CreateBounded<ArraySegment<Item>>(new BoundedChannelOptions(8) { SingleReader = true, SingleWriter = true });

        public Task Done { get; private set; } = Task.CompletedTask;

        public static async Task<StreamWriter> OpenAsync(NpgsqlDataSource dataSource, bool staged, string copySql, CancellationToken cancellationToken)
        {
            var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            try
            {
                var transaction = await connection.BeginTransactionAsync(cancellationToken);
                if (staged)
                {
                    await using var create = new NpgsqlCommand(BulkIngestor.StagingTableSql, connection, transaction);
                    await create.ExecuteNonQueryAsync(cancellationToken);
                }

                var copy = await BinaryCopyStream.BeginAsync(connection, copySql, cancellationToken);
                return new StreamWriter(connection, transaction, copy, staged);
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }
        }

        /// <summary>Serializes on a thread of its own with synchronous writes: the cheapest per field, and it overlaps the reader.</summary>
        public void Start(CancellationTokenSource failed)
            => Done = Task.Factory.StartNew(() =>
            {
                try
                {
                    var reader = Queue.Reader;
                    while (reader.WaitToReadAsync(failed.Token).AsTask().GetAwaiter().GetResult())
                    {
                        while (reader.TryRead(out var batch))
                        {
                            foreach (var item in batch)
                            {
                                BulkIngestor.WritePriceRow(_copy, item.AssetId, item.Row, _staged ? item.Ordinal : null);
                                _copy.FlushIfFull();
                            }
                        }
                    }

                    _copy.Complete();
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
                {
                    failed.Cancel();
                    throw BulkIngestor.Duplicate(ex);
                }
                catch
                {
                    failed.Cancel();
                    throw;
                }
            }, failed.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        public async Task<long> MergeAsync(string mergeSql, CancellationToken cancellationToken)
        {
            await using var merge = new NpgsqlCommand(mergeSql, _connection, _transaction) { CommandTimeout = 0 };
            return await merge.ExecuteNonQueryAsync(cancellationToken);
        }

        public Task CommitAsync(CancellationToken cancellationToken) => _transaction.CommitAsync(cancellationToken);

        public async ValueTask DisposeAsync()
        {
            Queue.Writer.TryComplete();
            try
            {
                await Done.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

                // A COPY that was not completed is cancelled; the transaction then rolls back.
                await _copy.DisposeAsync();
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or OperationCanceledException)
            {
                // The stream already failed; its connection is dropped below, which rolls the transaction back.
            }

            await _transaction.DisposeAsync();
            await _connection.DisposeAsync();
        }
    }
}
