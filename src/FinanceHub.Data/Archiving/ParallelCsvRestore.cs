using System.IO.Compression;
using System.Numerics;
using System.Threading.Channels;
using FinanceHub.Data.Infrastructure;
using FinanceHub.Data.Timescale;
using FinanceHub.Data.Timescale.Catalog;
using Npgsql;

namespace FinanceHub.Data.Archiving;

/// <summary>
/// A gzip CSV archive restored into an empty range over several COPY streams, one connection and transaction each:
/// this process decompresses the file once and deals it out in blocks of whole rows; the server parses and inserts on
/// as many cores as there are streams. Verified in the same pass: the file's SHA-256 as it is read, and the range's
/// row count and content checksum in every stream's transaction (each sees its own rows; the sums add up) before any
/// of them commits.
/// </summary>
/// <remarks>
/// <para>The streams commit one after another once all of them have written and verified their rows, as a parallel
/// price load does: a bad file, a duplicate or another writer's row in the range leaves nothing behind, but a
/// connection lost during the final commits (milliseconds) can leave part of the range restored. Restoring the archive
/// again completes it (rows already there are kept), and reads of the range refuse it until then (the catalog records a
/// restore only once it has completed).</para>
/// <para>A TimescaleDB transaction that creates a chunk locks the hypertable until it ends, so streams that create
/// chunks would wait for each other until the end. The range's missing chunks are created first, in one short
/// transaction, with a placeholder row made from the archive's first row (inserted and deleted at once); those left
/// empty at the end are dropped again.</para>
/// </remarks>
internal sealed class ParallelCsvRestore(NpgsqlDataSource dataSource, ArchiveManifest manifest, string path, string target, int streams)
{
    /// <summary>A chunk range created for more chunks than this is left to a single stream (sparse or tiny chunks).</summary>
    private const int MaxChunksToCreate = 1000;

    private readonly string _table = SqlIdentifiers.Quote(target);

    /// <summary>The first writer's error; the others' come from being cancelled because of it.</summary>
    private Exception? _firstFailure;
    private readonly string _time = SqlIdentifiers.Quote(manifest.TimeColumn);
    private readonly string _columns = string.Join(", ", manifest.Columns.Select(c => SqlIdentifiers.Quote(c.Name)));

    /// <summary>Where the rows are: from the earliest to just after the latest row time, when the manifest says.</summary>
    private DateTimeOffset SpanStart => manifest.EarliestTime ?? manifest.RangeStart;

    private DateTimeOffset SpanEnd => manifest.LatestTime is { } latest ? latest.AddTicks(10) : manifest.RangeEnd;

    /// <summary>The rows restored; null, with nothing written, when the range holds rows, one arrives meanwhile, or the
    /// table's partitioning is not one this restore can prepare: then a single transaction decides.</summary>
    public async Task<long?> TryRunAsync(CancellationToken cancellationToken)
    {
        await using var control = await dataSource.OpenConnectionAsync(cancellationToken);
        if (await DataArchiver.RangeHoldsRowsAsync(control, null, manifest, target, cancellationToken)
            || await IsHypertableAsync(control, cancellationToken) is not { } hypertable)
        {
            return null;
        }

        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        await using var hashing = new HashingStream(file);
        await using var gzip = new GZipStream(hashing, CompressionMode.Decompress, leaveOpen: true);
        var blocks = new CsvRowBlocks(gzip);
        var created = new List<string>();
        try
        {
            var first = await blocks.NextAsync(cancellationToken);
            if (first is { } block && hypertable)
            {
                if (!await CreateMissingChunksAsync(control, block, created, cancellationToken))
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(block.Buffer);
                    return null;
                }
            }

            return await LoadAsync(blocks, first, hashing, cancellationToken);
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException
                                   || (ex is PostgresException pg && (pg.SqlState == PostgresErrorCodes.BadCopyFileFormat || pg.SqlState.StartsWith("22", StringComparison.Ordinal))))
        {
            // A file that does not match its manifest says so first; otherwise the reader's or the server's complaint.
            await DataArchiver.RequireFileMatchesManifestAsync(manifest, path, cancellationToken);
            throw DataArchiver.Unreadable(path, ex);
        }
        finally
        {
            await DropEmptyChunksAsync(control, created);
        }
    }

    private async Task<long?> LoadAsync(CsvRowBlocks blocks, (byte[] Buffer, int Length)? first, HashingStream hashing, CancellationToken cancellationToken)
    {
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var writers = new Writer[streams];
        try
        {
            for (var i = 0; i < streams; i++)
            {
                writers[i] = await Writer.OpenAsync(dataSource, $"COPY {_table} ({_columns}) FROM STDIN (FORMAT csv, NULL '{ArchiveColumns.Null}')", failed.Token);
                writers[i].Start(failed, ex => Interlocked.CompareExchange(ref _firstFailure, ex, null));
            }

            try
            {
                var next = 0;
                for (var block = first; block is not null; block = await blocks.NextAsync(failed.Token))
                {
                    await writers[next].Queue.Writer.WriteAsync(block.Value, failed.Token);
                    next = (next + 1) % streams;
                }

                foreach (var writer in writers)
                {
                    writer.Queue.Writer.Complete();
                }

                await Task.WhenAll(writers.Select(w => w.Done));
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                await Task.WhenAll(writers.Select(w => w.Done)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                throw _firstFailure ?? new OperationCanceledException(failed.Token);
            }

            // The whole file went through the hash, including anything after the compressed data.
            await hashing.CopyToAsync(Stream.Null, cancellationToken);
            var sha256 = hashing.HashHex();
            if (hashing.Bytes != manifest.FileSize || sha256 != manifest.FileSha256)
            {
                throw DataArchiver.FileMismatch(manifest, path, sha256, hashing.Bytes);
            }

            var counts = await Task.WhenAll(writers.Select(w => ContentChecksum.ComputeAsync(w.Connection, w.Transaction, ContentChecksum.Of(manifest),
                target, manifest.Columns, manifest.TimeColumn, manifest.RangeStart, manifest.RangeEnd, cancellationToken)));
            var rows = counts.Sum(c => c.Rows);
            var checksum = counts.Aggregate(BigInteger.Zero, (sum, c) => sum + BigInteger.Parse(c.Checksum, System.Globalization.CultureInfo.InvariantCulture));
            if (rows != manifest.RowCount || checksum != BigInteger.Parse(manifest.ContentChecksum, System.Globalization.CultureInfo.InvariantCulture))
            {
                // Another writer's rows arrived in the range (the file itself matched its manifest).
                return null;
            }

            for (var i = 0; i < writers.Length; i++)
            {
                try
                {
                    // Not cancellable: stopping between two commits is what would leave part of the range.
                    await writers[i].Transaction.CommitAsync(CancellationToken.None);
                }
                catch (NpgsqlException ex) when (i > 0)
                {
                    throw new InvalidOperationException(
                        $"Restoring archive {manifest.Id} committed {i} of its {writers.Length} streams before the next failed ({ex.Message}): part of " +
                        $"[{manifest.RangeStart:O}, {manifest.RangeEnd:O}) of {target} is restored. Restore the archive again to complete it; rows already there are kept.", ex);
                }
            }

            return rows;
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.DeadlockDetected)
        {
            // A row already there, or a wait on another writer (a chunk created meanwhile): one transaction decides.
            return null;
        }
        finally
        {
            // Every writer stopped before its connection is touched again.
            await failed.CancelAsync();
            await Task.WhenAll(writers.Where(w => w is not null).Select(w => w.Done)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            foreach (var writer in writers)
            {
                if (writer is not null)
                {
                    await writer.DisposeAsync();
                }
            }
        }
    }

    /// <summary>Whether the table is a hypertable; null when it is partitioned otherwise than by the archive's time column
    /// alone, or its rows' span would need too many chunks.</summary>
    private async Task<bool?> IsHypertableAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var dimensions = await TimescaleCatalog.GetDimensionsAsync(connection, target, cancellationToken);
        if (dimensions.Count == 0)
        {
            return false;
        }

        if (dimensions is not [{ Interval: { } interval } only] || only.Column != manifest.TimeColumn || interval <= TimeSpan.Zero
            || (SpanEnd - SpanStart) / interval > MaxChunksToCreate)
        {
            return null;
        }

        return true;
    }

    /// <summary>
    /// Creates the chunks the range lacks, in one transaction committed at once, each with a placeholder row (the
    /// archive's first row at the chunk's time) inserted and deleted again. False when the placeholder is refused.
    /// </summary>
    private async Task<bool> CreateMissingChunksAsync(
        NpgsqlConnection connection, (byte[] Buffer, int Length) block, List<string> created, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(transaction, "SET LOCAL lock_timeout = '10s'", [], cancellationToken);
        await connection.ExecuteAsync(transaction, $"CREATE TEMP TABLE financehub_restore_seed (LIKE {_table}) ON COMMIT DROP", [], cancellationToken);
        await using (var seed = await connection.BeginTextImportAsync(
            $"COPY financehub_restore_seed ({_columns}) FROM STDIN (FORMAT csv, NULL '{ArchiveColumns.Null}')", cancellationToken))
        {
            var firstRow = CsvRowBlocks.RowEnd(block.Buffer.AsSpan(0, block.Length), first: true);
            await seed.BaseStream.WriteAsync(block.Buffer.AsMemory(0, firstRow < 0 ? block.Length : firstRow), cancellationToken);
        }

        var chunks = (await TimescaleCatalog.GetChunksOverlappingAsync(connection, transaction, target, SpanStart, SpanEnd, cancellationToken)).ToList();
        var t = SpanStart;
        while (t < SpanEnd)
        {
            if (chunks.FirstOrDefault(c => c.Start <= t && t < c.End) is { Name: not null } existing)
            {
                t = existing.End;
                continue;
            }

            try
            {
                await connection.ExecuteAsync(transaction, $"UPDATE financehub_restore_seed SET {_time} = $1", [NpgsqlCommands.TimestampTz(t)], cancellationToken);
                var placed = await connection.QueryAsync(transaction,
                    $"""
                     INSERT INTO {_table} ({_columns}) OVERRIDING SYSTEM VALUE SELECT {_columns} FROM financehub_restore_seed
                     ON CONFLICT DO NOTHING RETURNING tableoid, ctid
                     """, [], r => (Chunk: r.GetFieldValue<uint>(0), Row: r.GetValue(1)), cancellationToken);
                foreach (var (chunk, row) in placed)
                {
                    // The row's relation is one of the table's chunks (an inheritance child), never the table itself.
                    var name = (await connection.QueryAsync(transaction,
                        """
                        SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        JOIN pg_inherits i ON i.inhrelid = c.oid WHERE c.oid = $1 AND i.inhparent = $2::regclass
                        """, [new NpgsqlParameter { Value = chunk, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Oid }, _table],
                        r => SqlIdentifiers.Quote(r.GetString(0)) + "." + SqlIdentifiers.Quote(r.GetString(1)), cancellationToken)).SingleOrDefault()
                        ?? throw new InvalidOperationException($"The placeholder row for {target} at {t:O} did not land in one of its chunks.");
                    if (await connection.ExecuteAsync(transaction, $"DELETE FROM ONLY {name} WHERE ctid = $1",
                            [new NpgsqlParameter { Value = row, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Tid }], cancellationToken) != 1)
                    {
                        throw new InvalidOperationException($"The placeholder row for {target} at {t:O} could not be deleted again.");
                    }

                    created.Add(name);
                }
            }
            catch (PostgresException ex) when (ex.SqlState.StartsWith("23", StringComparison.Ordinal) || ex.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                // The placeholder breaks a constraint at that time (a CHECK on the time column, say), or another
                // transaction holds the table: one stream instead.
                await transaction.RollbackAsync(cancellationToken);
                created.Clear();
                return false;
            }

            // The one chunk that now holds t (made here, or by another writer meanwhile).
            var made = (await TimescaleCatalog.GetChunksOverlappingAsync(connection, transaction, target, t, t.AddTicks(10), cancellationToken)).SingleOrDefault();
            t = made.Name is not null ? made.End : throw new InvalidOperationException($"No chunk of {target} holds {t:O} after one was created for it.");
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Drops the chunks created for the restore that hold no rows (a gap in the archive, or a restore that failed).</summary>
    private static async Task DropEmptyChunksAsync(NpgsqlConnection connection, List<string> created)
    {
        foreach (var chunk in created)
        {
            try
            {
                await using var transaction = await connection.BeginTransactionAsync();
                await connection.ExecuteAsync(transaction, "SET LOCAL lock_timeout = '5s'", [], CancellationToken.None);
                await connection.ExecuteAsync(transaction, $"LOCK TABLE ONLY {chunk} IN ACCESS EXCLUSIVE MODE", [], CancellationToken.None);
                if (!await connection.ScalarAsync<bool>(transaction, $"SELECT EXISTS (SELECT 1 FROM ONLY {chunk})", [], CancellationToken.None))
                {
                    await connection.ExecuteAsync(transaction, $"DROP TABLE {chunk}", [], CancellationToken.None);
                }

                await transaction.CommitAsync();
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
            {
                // An empty chunk left behind costs nothing; retention drops it with its neighbours.
                if (connection.State != System.Data.ConnectionState.Open)
                {
                    return;
                }
            }
        }
    }

    /// <summary>One COPY stream: its connection, open transaction, and a task that writes the blocks dealt to it.</summary>
    private sealed class Writer : IAsyncDisposable
    {
        private readonly NpgsqlCopyTextWriter _copy;

        private Writer(NpgsqlConnection connection, NpgsqlTransaction transaction, NpgsqlCopyTextWriter copy)
        {
            Connection = connection;
            Transaction = transaction;
            _copy = copy;
        }

        public NpgsqlConnection Connection { get; }

        public NpgsqlTransaction Transaction { get; }

        public Channel<(byte[] Buffer, int Length)> Queue { get; } =
            Channel.CreateBounded<(byte[] Buffer, int Length)>(new BoundedChannelOptions(4) { SingleReader = true, SingleWriter = true });

        public Task Done { get; private set; } = Task.CompletedTask;

        public static async Task<Writer> OpenAsync(NpgsqlDataSource dataSource, string copySql, CancellationToken cancellationToken)
        {
            var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            try
            {
                var transaction = await connection.BeginTransactionAsync(cancellationToken);

                // A stream that has to wait for another (a chunk created behind the restore's back) gives up instead.
                await connection.ExecuteAsync(transaction, "SET LOCAL lock_timeout = '10s'", [], cancellationToken);
                var copy = (NpgsqlCopyTextWriter)await connection.BeginTextImportAsync(copySql, cancellationToken);
                return new Writer(connection, transaction, copy);
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }
        }

        public void Start(CancellationTokenSource failed, Action<Exception> failing)
            => Done = Task.Run(async () =>
            {
                try
                {
                    await foreach (var (buffer, length) in Queue.Reader.ReadAllAsync(failed.Token))
                    {
                        try
                        {
                            await _copy.BaseStream.WriteAsync(buffer.AsMemory(0, length), failed.Token);
                        }
                        finally
                        {
                            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                        }
                    }

                    await _copy.DisposeAsync();
                }
                catch (Exception ex)
                {
                    if (!failed.IsCancellationRequested)
                    {
                        failing(ex);
                    }

                    await failed.CancelAsync();
                    throw;
                }
            });

        public async ValueTask DisposeAsync()
        {
            while (Queue.Reader.TryRead(out var left))
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(left.Buffer);
            }

            try
            {
                // A COPY not completed is cancelled, so nothing of it stays; an uncommitted transaction rolls back.
                await _copy.CancelAsync();
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or ObjectDisposedException)
            {
            }

            await Connection.DisposeAsync();
        }
    }
}
