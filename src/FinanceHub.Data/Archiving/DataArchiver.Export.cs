using System.Data;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Infrastructure;
using FinanceHub.Data.Timescale;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Archiving;

// Export: rows of a range to a gzip CSV file and its manifest, in one snapshot scan, and the read-back that verifies a file.
public sealed partial class DataArchiver
{
    private async Task<(ArchiveManifest Manifest, string Path)> ExportAsync(
        HypertableDefinition definition, DateTimeOffset start, DateTimeOffset end, ArchiveFormat format, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid();
        var folder = Path.Combine(_options.BasePath, ArchiveFiles.RelativeFolder(definition.Table, start, format));
        var name = ArchiveFiles.DataFileName(definition.Table, start, end, id, format);
        var path = Path.Combine(folder, name);
        var partial = path + ".partial";

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        var columns = await ArchiveColumns.ReadAsync(connection, transaction, definition.Table, cancellationToken);
        if (format == ArchiveFormat.Parquet && ParquetArchive.Problem(columns) is { } problem)
        {
            throw new InvalidOperationException(
                $"{definition.Table} cannot be archived as Parquet: {problem}. Archive it as gzip CSV (--format csv, or ARCHIVE_FORMAT=csv), " +
                "or give the column a type with an exact Parquet counterpart.");
        }

        Directory.CreateDirectory(folder);
        string schemaVersion;
        await using (var command = new NpgsqlCommand("SELECT max(migration_id) FROM \"__EFMigrationsHistory\"", connection, transaction))
        {
            schemaVersion = (string)(await command.ExecuteScalarAsync(cancellationToken))!;
        }

        // The server formats the CSV (COPY ... TO STDOUT, as psql \copy has it do) and this process compresses it on
        // every core, adding up the content checksum of its lines as it goes: one scan of the table. Where the server's
        // line hash cannot be matched here (a database not in UTF-8), and for Parquet, the checksum is computed by a second
        // connection in the same snapshot (pg_export_snapshot), side by side with the COPY.
        var algorithm = format == ArchiveFormat.CsvGzip && await ContentChecksum.ServerAgreesAsync(connection, transaction, cancellationToken)
            ? ContentChecksum.CsvLineHash
            : ContentChecksum.RecordHash;
        await using (var command = new NpgsqlCommand(ContentChecksum.CsvOutputSettings, connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task<(long Rows, string Checksum, DateTimeOffset? Earliest, DateTimeOffset? Latest)>? counted = null;
        ContentChecksum.CsvLines? csvRows = null;
        DateTimeOffset? earliest = null, latest = null;
        if (algorithm == ContentChecksum.CsvLineHash)
        {
            csvRows = new ContentChecksum.CsvLines();
            (earliest, latest) = await RowTimesAsync(connection, transaction, definition, start, end, cancellationToken);
        }
        else
        {
            string snapshot;
            await using (var command = new NpgsqlCommand("SELECT pg_export_snapshot()", connection, transaction))
            {
                snapshot = (string)(await command.ExecuteScalarAsync(cancellationToken))!;
            }

            counted = ChecksumInSnapshotAsync(snapshot, definition, start, end, failed.Token);
        }

        long rows;
        string checksum;
        string sha256;
        long size;
        try
        {
            await using (var disk = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true))
            {
                var file = ArchiveFileWrapper?.Invoke(disk) ?? disk;
                var hashing = new HashingStream(file);
                await using (hashing)
                {
                    var time = SqlIdentifiers.Quote(definition.TimeColumn);
                    // The bounds are timestamps formatted here (COPY takes no parameters), the names quoted identifiers.
                    var range = $"FROM {SqlIdentifiers.Quote(definition.Table)} WHERE {time} >= {TimestampLiteral(start)} AND {time} < {TimestampLiteral(end)}";
                    try
                    {
                        if (format == ArchiveFormat.Parquet)
                        {
                            // Typed values straight from a binary COPY into typed columns, one row group in memory at a time.
                            using var export = await connection.BeginBinaryExportAsync(
                                $"COPY (SELECT {string.Join(", ", columns.Select(ParquetArchive.SelectExpression))} {range}) TO STDOUT (FORMAT binary)", failed.Token);
                            await ParquetArchive.WriteAsync(export, hashing, columns, _options.ParquetRowGroupRows,
                                progress is null ? null : rows => progress.Report(rows), failed.Token);
                        }
                        else
                        {
                            var names = string.Join(", ", columns.Select(c => SqlIdentifiers.Quote(c.Name)));
                            using var export = await connection.BeginTextExportAsync(
                                $"COPY (SELECT {names} {range}) TO STDOUT (FORMAT csv, HEADER true, NULL '{ArchiveColumns.Null}')", failed.Token);

                            // The raw bytes under the text reader: UTF-8 as the server sent it, never decoded here.
                            await ParallelGzip.CompressAsync(export.BaseStream, hashing, CompressionDegree, csvRows,
                                progress is null ? null : ReportEvery100K(progress), failed.Token);
                        }
                    }
                    catch
                    {
                        await failed.CancelAsync();
                        throw;
                    }
                    finally
                    {
                        // Always awaited: a failed export must not leave the checksum's connection running.
                        if (counted is not null)
                        {
                            await ((Task)counted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                        }
                    }

                    await hashing.FlushAsync(cancellationToken);
                    (sha256, size) = (hashing.HashHex(), hashing.Bytes);
                }
            }

            (rows, checksum) = (csvRows?.Rows ?? 0, csvRows?.Checksum ?? "0");
            if (counted is not null)
            {
                (rows, checksum, earliest, latest) = await counted;
            }

            var manifest = new ArchiveManifest
            {
                Id = id, Table = definition.Table, TimeColumn = definition.TimeColumn, Columns = columns, RangeStart = start, RangeEnd = end,
                RowCount = rows, EarliestTime = earliest, LatestTime = latest, FileSha256 = sha256, FileSize = size, ContentChecksum = checksum,
                ContentChecksumAlgorithm = algorithm, SchemaVersion = schemaVersion,
                CreatedAt = timeProvider.GetUtcNow(), DataFile = name, Format = ArchiveFiles.ManifestFormat(format),
                NullMarker = format == ArchiveFormat.Parquet ? null : ArchiveColumns.Null,
                RowGroupRows = format == ArchiveFormat.Parquet ? _options.ParquetRowGroupRows : null,
            };
            await File.WriteAllTextAsync(ManifestPath(path), JsonSerializer.Serialize(manifest, ArchiveJsonContext.Default.ArchiveManifest), cancellationToken);
            File.Move(partial, path, overwrite: true);
            progress?.Report(rows);
            LogExported(definition.Table, start, end, rows, size);
            Telemetry.FinanceHubTelemetry.Archived(definition.Table, rows, size);
            return (manifest, path);
        }
        catch
        {
            File.Delete(partial);
            throw;
        }
    }

    /// <summary>Rows written so far (newlines less the header; a text value with a line break can make it run ahead), every 100,000.</summary>
    private static Action<long> ReportEvery100K(IProgress<long> progress)
    {
        long reported = 0;
        return lines =>
        {
            var rows = Math.Max(0, lines - 1) / 100_000 * 100_000;
            if (rows > reported)
            {
                progress.Report(reported = rows);
            }
        };
    }

    /// <summary>Blocks compressed at once: one per core (at most 8); the operating system shares the cores with the COPY.</summary>
    private static int CompressionDegree => Math.Clamp(Environment.ProcessorCount, 1, 8);

    /// <summary>
    /// Row count, content checksum and earliest and latest time of a range, read on a connection of its own in the
    /// exporter's snapshot.
    /// </summary>
    private async Task<(long Rows, string Checksum, DateTimeOffset? Earliest, DateTimeOffset? Latest)> ChecksumInSnapshotAsync(
        string snapshot, HypertableDefinition definition, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        await using (var set = new NpgsqlCommand($"SET TRANSACTION SNAPSHOT '{snapshot.Replace("'", "''", StringComparison.Ordinal)}'", connection, transaction))
        {
            await set.ExecuteNonQueryAsync(cancellationToken);
        }

        var (rows, checksum) = await ContentChecksum.ComputeAsync(
            connection, transaction, ContentChecksum.RecordHash, definition.Table, [], definition.TimeColumn, start, end, cancellationToken);
        var (earliest, latest) = await RowTimesAsync(connection, transaction, definition, start, end, cancellationToken);
        return (rows, checksum, earliest, latest);
    }

    /// <summary>The earliest and latest row time in [start, end), from the time index's two ends.</summary>
    private static async Task<(DateTimeOffset? Earliest, DateTimeOffset? Latest)> RowTimesAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, HypertableDefinition definition, DateTimeOffset start, DateTimeOffset end,
        CancellationToken cancellationToken)
    {
        var time = SqlIdentifiers.Quote(definition.TimeColumn);
        var span = await connection.QueryAsync(transaction,
            $"SELECT min({time}), max({time}) FROM {SqlIdentifiers.Quote(definition.Table)} WHERE {time} >= $1 AND {time} < $2",
            [NpgsqlCommands.TimestampTz(start), NpgsqlCommands.TimestampTz(end)],
            r => (r.IsDBNull(0) ? (DateTimeOffset?)null : r.GetFieldValue<DateTimeOffset>(0), r.IsDBNull(1) ? (DateTimeOffset?)null : r.GetFieldValue<DateTimeOffset>(1)),
            cancellationToken);
        return span[0];
    }

    private static string TimestampLiteral(DateTimeOffset t)
        => "'" + t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture) + "+00'::timestamptz";

    /// <summary>Reads an archive file back into a staging table and compares it with its manifest.</summary>
    private async Task VerifyFileAsync(ArchiveManifest manifest, string path, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await RequireFileMatchesManifestAsync(manifest, path, cancellationToken);
        await LoadIntoStagingAsync(connection, transaction, manifest, path, manifest.Table, cancellationToken);
        await transaction.RollbackAsync(cancellationToken);
    }

    /// <summary>
    /// Loads a file already checked against its manifest (<see cref="RequireFileMatchesManifestAsync"/>) into a temporary
    /// staging table shaped like <paramref name="table"/>, and checks the staged rows against the manifest (count, content checksum).
    /// </summary>
    private static async Task LoadIntoStagingAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, ArchiveManifest manifest, string path, string table, CancellationToken cancellationToken)
    {
        await using (var create = new NpgsqlCommand(
            $"CREATE TEMP TABLE financehub_archive_staging (LIKE {SqlIdentifiers.Quote(table)} INCLUDING DEFAULTS) ON COMMIT DROP", connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        await CopyArchiveIntoAsync(connection, manifest, path, "financehub_archive_staging", cancellationToken);
        var (stagedRows, checksum) = await ContentChecksum.ComputeAsync(connection, transaction, ContentChecksum.Of(manifest), "financehub_archive_staging",
            manifest.Columns, manifest.TimeColumn, DateTimeOffset.MinValue.AddYears(1), DateTimeOffset.MaxValue.AddYears(-1), cancellationToken);
        if (stagedRows != manifest.RowCount || checksum != manifest.ContentChecksum)
        {
            throw new ArchiveIntegrityException(
                $"Archive {Path.GetFileName(path)} holds {stagedRows} rows with checksum {checksum}; its manifest says {manifest.RowCount} rows with checksum " +
                $"{manifest.ContentChecksum}. Its contents are not what was archived.");
        }
    }

    internal static async Task RequireFileMatchesManifestAsync(ArchiveManifest manifest, string path, CancellationToken cancellationToken)
    {
        await using var check = File.OpenRead(path);
        var (sha256, length) = await HashingStream.HashAsync(check, cancellationToken);
        if (length != manifest.FileSize || sha256 != manifest.FileSha256)
        {
            throw FileMismatch(manifest, path, sha256, length);
        }
    }

    internal static ArchiveIntegrityException FileMismatch(ArchiveManifest manifest, string path, string sha256, long length)
        => new($"Archive {Path.GetFileName(path)} does not match its manifest (size {length} vs {manifest.FileSize}, SHA-256 {sha256} vs {manifest.FileSha256}): " +
               "the file is corrupt or truncated. Restore from another copy (local or S3).");

    /// <summary>What a gzip reader or PostgreSQL's CSV reader said about a file, as an integrity error.</summary>
    internal static ArchiveIntegrityException Unreadable(string path, Exception ex)
        => ex is PostgresException pg
            ? new($"Archive {Path.GetFileName(path)} cannot be read by PostgreSQL ({pg.MessageText}{(pg.Where is { } where ? "; " + where : "")}): it is corrupt or truncated.")
            : new($"Archive {Path.GetFileName(path)} cannot be read ({ex.Message}): it is corrupt or truncated.");

    /// <summary>Streams an archive file of either format into <paramref name="table"/> (a staging table, or the target itself).</summary>
    private static Task CopyArchiveIntoAsync(NpgsqlConnection connection, ArchiveManifest manifest, string path, string table, CancellationToken cancellationToken)
        => ArchiveFiles.FromManifest(manifest) == ArchiveFormat.Parquet
            ? ParquetArchive.CopyIntoAsync(connection, manifest, path, table, cancellationToken)
            : CopyCsvIntoAsync(connection, manifest, path, table, cancellationToken);

    /// <summary>
    /// Streams a gzip CSV archive into <paramref name="table"/> (a staging table, or the target itself) through PostgreSQL's
    /// own CSV reader (the format it wrote, and what the archives have always been: csv, a header, NULL as an unquoted
    /// \N); this process only decompresses, into the raw bytes under the COPY writer.
    /// </summary>
    private static async Task CopyCsvIntoAsync(NpgsqlConnection connection, ArchiveManifest manifest, string path, string table, CancellationToken cancellationToken)
    {
        var names = string.Join(", ", manifest.Columns.Select(c => SqlIdentifiers.Quote(c.Name)));
        try
        {
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
            await using var gzip = new GZipStream(file, CompressionMode.Decompress);
            await using var import = await connection.BeginTextImportAsync(
                $"COPY {SqlIdentifiers.Quote(table)} ({names}) FROM STDIN (FORMAT csv, HEADER true, NULL '{ArchiveColumns.Null}')", cancellationToken);
            try
            {
                await gzip.CopyToAsync(import.BaseStream, 1 << 20, cancellationToken);
            }
            catch
            {
                // Stop the COPY rather than complete it with what arrived so far.
                await import.CancelAsync();
                throw;
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException
                                   || (ex is PostgresException pg && (pg.SqlState.StartsWith("22", StringComparison.Ordinal) || pg.SqlState == PostgresErrorCodes.BadCopyFileFormat)))
        {
            throw Unreadable(path, ex);
        }
    }
}
