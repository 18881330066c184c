using System.Threading.Channels;
using FinanceHub.Data.Timescale;
using Microsoft.Extensions.Logging;
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
/// <para>Streams whose transactions wait for each other through this process must never also wait for each other
/// through the server, where no deadlock detector sees the whole cycle. So, before the first row of a chunk goes to
/// any stream, every stream locks that chunk (ROW EXCLUSIVE, what its inserts take anyway): from then on no stream
/// waits for a lock on it, and a compression, retention or decompression that wants the chunk waits for the load to
/// commit instead of queueing between two streams. A chunk that is compressed once locked gets all its rows in one
/// stream: inserting into it updates its status in TimescaleDB's catalog, a row two open transactions cannot both
/// update. What remains (a session that holds a chunk while waiting for another the load holds) the
/// <see cref="LockCycleWatch"/> finds and ends within seconds.</para>
/// </remarks>
internal sealed class ParallelPriceLoad(NpgsqlDataSource dataSource, int streams, bool staged, string copySql, string mergeSql, ILogger logger)
{
    private const int BatchSize = 2048;

    private readonly record struct Item(int AssetId, PriceRow Row, long Ordinal);

    /// <summary>A batch of rows, or a chunk to lock before the rows that follow.</summary>
    private readonly record struct Message(ArraySegment<Item> Batch, ChunkLock? Lock);

    private sealed class ChunkLock(string relation)
    {
        public string Relation { get; } = relation;

        /// <summary>True once locked; false when the chunk was dropped before this stream could lock it.</summary>
        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>One transaction of the load, once every stream has written: what it wrote, to record in it before it commits.</summary>
    public sealed record Part(int Index, int Parts, NpgsqlConnection Connection, NpgsqlTransaction Transaction, long Rows, DateTimeOffset? Min, DateTimeOffset? Max);

    public sealed record Outcome(long Count, long Written, DateTimeOffset? Min, DateTimeOffset? Max, IReadOnlyList<string> Created);

    /// <summary>
    /// Runs the load. <paramref name="beforeCommit"/> runs in each stream's transaction once all have written; the
    /// transactions then commit in order, the first one first (what it records is in before any other row).
    /// </summary>
    public async Task<Outcome> RunAsync(IAsyncEnumerable<PriceRow> rows, IngestOptions options, Func<Part, CancellationToken, Task>? beforeCommit,
        CancellationToken cancellationToken)
    {
        await using var control = await dataSource.OpenConnectionAsync(cancellationToken);
        var assets = await BulkIngestor.LoadAssetsAsync(control, null, cancellationToken);
        var chunks = await ChunkMap.LoadAsync(control, cancellationToken);

        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var writers = new StreamWriter[streams];
        LockCycleWatch? watch = null;
        try
        {
            for (var i = 0; i < streams; i++)
            {
                writers[i] = await StreamWriter.OpenAsync(dataSource, staged, copySql, failed.Token);
            }

            var ours = writers.Select((w, i) => (Pid: w.ProcessId, Name: $"stream {i + 1}")).Append((Pid: control.ProcessID, Name: "control connection"))
                .ToDictionary(p => p.Pid, p => p.Name);
            watch = LockCycleWatch.Start(dataSource, ours, failed, logger);
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

                    var chunk = await chunks.FindAsync(control, assetId, row, failed.Token);
                    for (var attempt = 1; !chunk.Locked; attempt++)
                    {
                        if (!await LockEverywhereAsync(writers, chunk, control, failed.Token))
                        {
                            // Dropped (retention, drop_chunks) before every stream held it: create it again for this row.
                            chunks.Forget(chunk);
                            chunk = attempt < 5 ? await chunks.FindAsync(control, assetId, row, failed.Token)
                                : throw new InvalidOperationException(
                                    $"The chunk of asset_prices_historic for {row.Date:O} was dropped {attempt} times while the load created and locked it " +
                                    "(a retention policy or drop_chunks at work on that range). Nothing of the load was kept; load rows that old once it is done.");
                        }
                    }

                    var stream = (int)((uint)(chunk.Compressed ? chunk.Ordinal : assetId + chunk.Ordinal) % (uint)streams);
                    batches[stream][filled[stream]++] = new Item(assetId, row, count);
                    if (filled[stream] == BatchSize)
                    {
                        await writers[stream].Queue.Writer.WriteAsync(new Message(new ArraySegment<Item>(batches[stream]), null), failed.Token);
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
                        await writers[i].Queue.Writer.WriteAsync(new Message(new ArraySegment<Item>(batches[i], 0, filled[i]), null), failed.Token);
                    }

                    writers[i].Queue.Writer.Complete();
                }

                await Task.WhenAll(writers.Select(w => w.Done));

                // Every stream wrote all its rows: merge where staged (in parallel), record, then commit them together.
                var merged = staged ? await Task.WhenAll(writers.Select(w => w.MergeAsync(mergeSql, failed.Token))) : writers.Select(w => w.Rows).ToArray();
                if (beforeCommit is not null)
                {
                    for (var i = 0; i < streams; i++)
                    {
                        await beforeCommit(new Part(i, streams, writers[i].Connection, writers[i].Transaction, merged[i], min, max), failed.Token);
                    }
                }

                await CommitAllAsync(writers, count);
                return new Outcome(count, merged.Sum(), min, max, created);
            }
            catch (Exception ex) when (ex is OperationCanceledException or NpgsqlException && !cancellationToken.IsCancellationRequested)
            {
                // A stream failed and cancelled the rest, or the watch stopped the load: that error is the one to report.
                await Task.WhenAll(writers.Select(w => w.Done)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                await watch.DisposeAsync();
                if (watch.Failure is { } cycle)
                {
                    throw cycle;
                }

                if (ex is NpgsqlException)
                {
                    throw;
                }

                throw writers.Select(w => w.Done.Exception?.InnerException).FirstOrDefault(e => e is not null and not OperationCanceledException)
                      ?? new OperationCanceledException(failed.Token);
            }
        }
        catch
        {
            await failed.CancelAsync();
            throw;
        }
        finally
        {
            if (watch is not null)
            {
                await watch.DisposeAsync();
            }

            foreach (var writer in writers)
            {
                if (writer is not null)
                {
                    await writer.DisposeAsync();
                }
            }
        }
    }

    /// <summary>
    /// Every stream locks <paramref name="chunk"/> before any row of it is routed; then whether it is compressed (settled
    /// now: a compression needs a lock the streams' conflicts with) decides how its rows are routed.
    /// </summary>
    private static async Task<bool> LockEverywhereAsync(StreamWriter[] writers, ChunkMap.Chunk chunk, NpgsqlConnection control, CancellationToken cancellationToken)
    {
        var locks = new Task<bool>[writers.Length];
        for (var i = 0; i < writers.Length; i++)
        {
            var request = new ChunkLock(chunk.Relation);
            await writers[i].Queue.Writer.WriteAsync(new Message(default, request), cancellationToken);
            locks[i] = request.Done.Task;
        }

        if ((await Task.WhenAll(locks).WaitAsync(cancellationToken)).Contains(false))
        {
            return false;
        }

        chunk.Compressed = await ChunkMap.IsCompressedAsync(control, chunk, cancellationToken);
        chunk.Locked = true;
        return true;
    }

    /// <summary>
    /// Commits the streams in order. Not cancellable: stopping between two commits is what would leave part of the load.
    /// A connection lost here leaves the load's outcome to be found out: the streams before it committed, it may have.
    /// </summary>
    private static async Task CommitAllAsync(StreamWriter[] writers, long count)
    {
        for (var i = 0; i < writers.Length; i++)
        {
            try
            {
                await writers[i].Transaction.CommitAsync(CancellationToken.None);
            }
            catch (NpgsqlException ex) when (ex is not PostgresException)
            {
                throw new LoadInterruptedException(
                    $"The connection was lost while the load of {count:N0} rows committed its {writers.Length} streams ({ex.Message}): " +
                    $"{(i == 0 ? "whether any" : $"{i} committed; whether stream {i + 1} and the rest")} of it is in is unknown until the database is back. " +
                    "Run the same load again with the same load key (the command line's is the file's SHA-256): it says what is in and loads the rest.", ex);
            }
        }
    }

    /// <summary>The price hypertable's chunks by time range, creating a chunk before the first row that needs it.</summary>
    private sealed class ChunkMap
    {
        private const string ChunksSql =
            """
            SELECT range_start, range_end, chunk_schema, chunk_name FROM timescaledb_information.chunks
            WHERE hypertable_schema = current_schema() AND hypertable_name = 'asset_prices_historic'
            """;

        private readonly List<Chunk> _chunks;
        private readonly bool _hypertable;
        private Chunk? _last;
        private int _next;

        private ChunkMap(bool hypertable, List<Chunk> chunks)
        {
            _hypertable = hypertable;
            _chunks = chunks;
            _next = chunks.Count;
        }

        /// <summary>A chunk, as this load knows it. A table that is not a hypertable is one chunk (the table, locked by the COPY itself).</summary>
        public sealed class Chunk(long start, long end, int ordinal, string schema, string name)
        {
            public long Start { get; } = start;

            public long End { get; } = end;

            public int Ordinal { get; } = ordinal;

            public string Schema { get; } = schema;

            public string Name { get; } = name;

            /// <summary>Schema-qualified and quoted.</summary>
            public string Relation => Schema.Length == 0 ? SqlIdentifiers.Quote(Name) : $"{SqlIdentifiers.Quote(Schema)}.{SqlIdentifiers.Quote(Name)}";

            /// <summary>Every stream holds its lock.</summary>
            public bool Locked { get; set; }

            /// <summary>Compressed when the streams locked it (then it cannot change until they commit).</summary>
            public bool Compressed { get; set; }
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

            var chunks = new List<Chunk>();
            if (dimensions == 1)
            {
                await using var read = new NpgsqlCommand(ChunksSql + " ORDER BY range_start", connection);
                await using var reader = await read.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    chunks.Add(Read(reader, chunks.Count));
                }
            }

            return new ChunkMap(dimensions == 1, chunks);
        }

        /// <summary>The chunk that holds <paramref name="row"/>, created first when there is none.</summary>
        public async ValueTask<Chunk> FindAsync(NpgsqlConnection connection, int assetId, PriceRow row, CancellationToken cancellationToken)
        {
            if (!_hypertable)
            {
                return _last ??= new Chunk(long.MinValue, long.MaxValue, 0, "", "asset_prices_historic") { Locked = true };
            }

            var t = row.Date.UtcTicks;
            if (_last is { } last && t >= last.Start && t < last.End)
            {
                return last;
            }

            var i = _chunks.BinarySearch(new Chunk(t, long.MaxValue, 0, "", ""), StartComparer.Instance);
            i = i < 0 ? ~i - 1 : i;
            if (i >= 0 && t >= _chunks[i].Start && t < _chunks[i].End)
            {
                return _last = _chunks[i];
            }

            // Null when a drop (retention, drop_chunks) took it between its creation and the read back: create it again.
            for (var attempt = 1; (_last = await CreateAsync(connection, assetId, row.Date.UtcDateTime, _next, cancellationToken)) is null; attempt++)
            {
                if (attempt == 5)
                {
                    throw new InvalidOperationException(
                        $"The chunk of asset_prices_historic for {row.Date:O} was dropped {attempt} times while the load created it (a retention policy or " +
                        "drop_chunks at work on that range). Nothing of the load was kept; load rows that old once it is done.");
                }
            }

            _next++;
            var at = _chunks.BinarySearch(_last, StartComparer.Instance);
            _chunks.Insert(at < 0 ? ~at : at, _last);
            return _last;
        }

        /// <summary>Forgets a chunk that was dropped: the next row for its range creates a new one.</summary>
        public void Forget(Chunk chunk)
        {
            _chunks.Remove(chunk);
            _last = null;
        }

        public static async Task<bool> IsCompressedAsync(NpgsqlConnection connection, Chunk chunk, CancellationToken cancellationToken)
        {
            await using var command = new NpgsqlCommand(
                "SELECT is_compressed FROM timescaledb_information.chunks WHERE chunk_schema = $1 AND chunk_name = $2", connection)
            {
                Parameters = { new() { Value = chunk.Schema }, new() { Value = chunk.Name } },
            };
            return await command.ExecuteScalarAsync(cancellationToken) is true;
        }

        private static async Task<Chunk?> CreateAsync(NpgsqlConnection connection, int assetId, DateTime time, int ordinal, CancellationToken cancellationToken)
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

            await using var read = new NpgsqlCommand(ChunksSql + " AND range_start <= $1 AND range_end > $1", connection)
            {
                Parameters = { new() { Value = time, NpgsqlDbType = NpgsqlDbType.TimestampTz } },
            };
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken) ? Read(reader, ordinal) : null;
        }

        private static Chunk Read(NpgsqlDataReader reader, int ordinal)
            => new(reader.GetFieldValue<DateTime>(0).Ticks, reader.GetFieldValue<DateTime>(1).Ticks, ordinal, reader.GetString(2), reader.GetString(3));

        private sealed class StartComparer : IComparer<Chunk>
        {
            public static readonly StartComparer Instance = new();

            public int Compare(Chunk? x, Chunk? y) => x!.Start.CompareTo(y!.Start);
        }
    }

    /// <summary>One COPY stream: its connection, open transaction, and a thread that serializes the rows routed to it.</summary>
    private sealed class StreamWriter : IAsyncDisposable
    {
        private readonly string _copySql;
        private readonly bool _staged;
        private BinaryCopyStream _copy;

        private StreamWriter(NpgsqlConnection connection, NpgsqlTransaction transaction, BinaryCopyStream copy, string copySql, bool staged)
        {
            Connection = connection;
            Transaction = transaction;
            ProcessId = connection.ProcessID;
            _copy = copy;
            _copySql = copySql;
            _staged = staged;
        }

        public NpgsqlConnection Connection { get; }

        public NpgsqlTransaction Transaction { get; }

        /// <summary>The server backend's pid (kept: the connection's own property is unreadable once it broke).</summary>
        public int ProcessId { get; }

        /// <summary>Rows written into the COPY (all of them once <see cref="Done"/>).</summary>
        public long Rows { get; private set; }

        public Channel<Message> Queue { get; } =
            Channel.CreateBounded<Message>(new BoundedChannelOptions(8) { SingleReader = true, SingleWriter = true });

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
                return new StreamWriter(connection, transaction, copy, copySql, staged);
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
                        while (reader.TryRead(out var message))
                        {
                            if (message.Lock is { } chunkLock)
                            {
                                Lock(chunkLock);
                                continue;
                            }

                            foreach (var item in message.Batch)
                            {
                                BulkIngestor.WritePriceRow(_copy, item.AssetId, item.Row, _staged ? item.Ordinal : null);
                                _copy.FlushIfFull();
                            }

                            Rows += message.Batch.Count;
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

        /// <summary>Takes the chunk's lock in this stream's transaction (a COPY owns the connection: it ends, and a new one starts).</summary>
        private void Lock(ChunkLock chunkLock)
        {
            _copy.Complete();
            bool locked;
            try
            {
                // In a savepoint: a chunk dropped since the router saw it fails the LOCK, which must not fail the transaction.
                using var command = new NpgsqlCommand(
                    $"SAVEPOINT financehub_chunk_lock; LOCK TABLE {chunkLock.Relation} IN ROW EXCLUSIVE MODE; RELEASE SAVEPOINT financehub_chunk_lock",
                    Connection, Transaction);
                command.ExecuteNonQuery();
                locked = true;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
            {
                using var back = new NpgsqlCommand("ROLLBACK TO SAVEPOINT financehub_chunk_lock; RELEASE SAVEPOINT financehub_chunk_lock", Connection, Transaction);
                back.ExecuteNonQuery();
                locked = false;
            }

            _copy = BinaryCopyStream.Begin(Connection, _copySql);
            chunkLock.Done.TrySetResult(locked);
        }

        public async Task<long> MergeAsync(string mergeSql, CancellationToken cancellationToken)
        {
            await using var merge = new NpgsqlCommand(mergeSql, Connection, Transaction) { CommandTimeout = 0 };
            return await merge.ExecuteNonQueryAsync(cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            Queue.Writer.TryComplete();
            try
            {
                await Done.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

                // A COPY that was not completed is cancelled; the transaction then rolls back.
                await _copy.DisposeAsync();
            }
            catch (Exception)
            {
                // Cleanup after a failure, whose own error is the one reported: the connection is dropped below, which
                // rolls the transaction back whatever state the COPY was left in (Npgsql can fail to cancel one whose
                // connection broke).
            }

            await Transaction.DisposeAsync().AsTask().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await Connection.DisposeAsync();
        }
    }
}
