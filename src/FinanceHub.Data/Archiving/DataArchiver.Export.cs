using System.Data;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using CsvHelper;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Timescale;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Archiving;

// Export: rows of a range to a gzip CSV file and its manifest, in one snapshot scan, and the read-back that verifies a file.
public sealed partial class DataArchiver
{
    private async Task<(ArchiveManifest Manifest, string Path)> ExportAsync(
        HypertableDefinition definition, DateTimeOffset start, DateTimeOffset end, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid();
        var folder = Path.Combine(_options.BasePath, definition.Table);
        Directory.CreateDirectory(folder);
        var name = string.Create(CultureInfo.InvariantCulture, $"{definition.Table}_{start.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}_{end.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}_{id:N}.csv.gz");
        var path = Path.Combine(folder, name);
        var partial = path + ".partial";

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        var columns = await ArchiveColumns.ReadAsync(connection, transaction, definition.Table, cancellationToken);
        string schemaVersion;
        await using (var command = new NpgsqlCommand("SELECT max(migration_id) FROM \"__EFMigrationsHistory\"", connection, transaction))
        {
            schemaVersion = (string)(await command.ExecuteScalarAsync(cancellationToken))!;
        }

        // The content checksum comes with the rows: the query sends each row's hash_record_extended beside it (the same
        // per-row hash financehub.content_checksum sums), so one scan in one snapshot yields both the file and its checksum.
        decimal checksumSum = 0;
        long rows = 0;
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
                    // CSV is formatted on this thread while another compresses it (gzip is as costly as the formatting).
                    // A failure on either side stops the other at once: the compressor completes the pipe with its error
                    // and cancels the writer, which would otherwise wait forever for room in a pipe nobody reads, holding
                    // this REPEATABLE READ transaction (and VACUUM) open.
                    using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    var pipe = new System.IO.Pipelines.Pipe(new System.IO.Pipelines.PipeOptions(pauseWriterThreshold: 4 << 20, resumeWriterThreshold: 2 << 20));
                    var compress = Task.Run(async () =>
                    {
                        try
                        {
                            await using var gzip = new GZipStream(hashing, CompressionLevel.Fastest, leaveOpen: true);
                            await pipe.Reader.CopyToAsync(gzip, failed.Token);
                            await pipe.Reader.CompleteAsync();
                        }
                        catch (Exception ex)
                        {
                            await pipe.Reader.CompleteAsync(ex);
                            await failed.CancelAsync();
                            throw;
                        }
                    }, CancellationToken.None);
                    try
                    {
                        await using (var csvOut = pipe.Writer.AsStream(leaveOpen: true))
                        await using (var csv = CsvWriter.Create(csvOut, new CsvWriterOptions { HasHeader = true, FormatProvider = CultureInfo.InvariantCulture }, true))
                        {
                            csv.WriteHeader([.. columns.Select(c => c.Name)]);
                            // Binary COPY out of a query: the cheapest way to stream rows out of PostgreSQL. The bounds are
                            // timestamps formatted here (COPY takes no parameters), the names are quoted identifiers.
                            // numeric columns come as the server's own text (exact, as psql would write them): cheaper than
                            // decoding and formatting them here.
                            var names = string.Join(", ", columns.Select(c => ArchiveColumns.ExportExpression(c)));
                            var time = SqlIdentifiers.Quote(definition.TimeColumn);
                            await using var exporter = await connection.BeginBinaryExportAsync(
                                $"COPY (SELECT {names}, hash_record_extended(t, 0) FROM {SqlIdentifiers.Quote(definition.Table)} t WHERE {time} >= {TimestampLiteral(start)} AND {time} < {TimestampLiteral(end)}) TO STDOUT (FORMAT BINARY)",
                                failed.Token);
                            var readers = columns.Select(c => ArchiveColumns.FieldCopier(c.Type)).ToArray();
                            while (await exporter.StartRowAsync(failed.Token) != -1)
                            {
                                for (var i = 0; i < readers.Length; i++)
                                {
                                    if (exporter.IsNull)
                                    {
                                        await exporter.SkipAsync(failed.Token);
                                        csv.WriteField(ArchiveColumns.Null);
                                    }
                                    else
                                    {
                                        readers[i](csv, exporter);
                                    }
                                }

                                checksumSum += exporter.Read<long>(NpgsqlDbType.Bigint);
                                csv.EndRecord();
                                if (++rows % 100_000 == 0)
                                {
                                    progress?.Report(rows);
                                }
                            }

                            await csv.FlushAsync(failed.Token);
                        }

                        await pipe.Writer.CompleteAsync();
                    }
                    catch (Exception ex)
                    {
                        await pipe.Writer.CompleteAsync(ex);
                        throw;
                    }
                    finally
                    {
                        await compress;
                    }

                    await hashing.FlushAsync(cancellationToken);
                    (sha256, size) = (hashing.HashHex(), hashing.BytesWritten);
                }
            }

            var checksum = checksumSum.ToString(CultureInfo.InvariantCulture);

            var manifest = new ArchiveManifest
            {
                Id = id, Table = definition.Table, TimeColumn = definition.TimeColumn, Columns = columns, RangeStart = start, RangeEnd = end,
                RowCount = rows, FileSha256 = sha256, FileSize = size, ContentChecksum = checksum, SchemaVersion = schemaVersion,
                CreatedAt = timeProvider.GetUtcNow(), DataFile = name,
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

    private static string TimestampLiteral(DateTimeOffset t)
        => "'" + t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture) + "+00'::timestamptz";

    /// <summary>Reads an archive file back into a staging table and compares it with its manifest.</summary>
    private async Task VerifyFileAsync(ArchiveManifest manifest, string path, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await LoadIntoStagingAsync(connection, transaction, manifest, path, manifest.Table, cancellationToken);
        await transaction.RollbackAsync(cancellationToken);
    }

    /// <summary>
    /// Checks the file against the manifest (size, SHA-256), loads it into a temporary staging table shaped like
    /// <paramref name="table"/> with binary COPY, and checks the staged rows against the manifest (count, content checksum).
    /// </summary>
    private static async Task LoadIntoStagingAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, ArchiveManifest manifest, string path, string table, CancellationToken cancellationToken)
    {
        await using (var check = File.OpenRead(path))
        {
            var (sha256, length) = await HashingStream.HashAsync(check, cancellationToken);
            if (length != manifest.FileSize || sha256 != manifest.FileSha256)
            {
                throw new ArchiveIntegrityException(
                    $"Archive {Path.GetFileName(path)} does not match its manifest (size {length} vs {manifest.FileSize}, SHA-256 {sha256} vs {manifest.FileSha256}): " +
                    "the file is corrupt or truncated. Restore from another copy (local or S3).");
            }
        }

        await using (var create = new NpgsqlCommand(
            $"CREATE TEMP TABLE financehub_archive_staging (LIKE {SqlIdentifiers.Quote(table)} INCLUDING DEFAULTS) ON COMMIT DROP", connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        var names = string.Join(", ", manifest.Columns.Select(c => SqlIdentifiers.Quote(c.Name)));
        long rows = 0;
        try
        {
            await using var file = File.OpenRead(path);
            await using var gzip = new GZipStream(file, CompressionMode.Decompress);
            await using var csv = CsvReader.Create(gzip, new CsvReaderOptions { HasHeader = true }, true);
            await using var writer = await connection.BeginBinaryImportAsync($"COPY financehub_archive_staging ({names}) FROM STDIN (FORMAT BINARY)", cancellationToken);
            while (await csv.ReadAsync(cancellationToken))
            {
                if (csv.FieldCount != manifest.Columns.Count)
                {
                    throw new ArchiveIntegrityException($"Archive {Path.GetFileName(path)} row {rows + 1} has {csv.FieldCount} fields; the manifest lists {manifest.Columns.Count} columns.");
                }

                await writer.StartRowAsync(cancellationToken);
                for (var i = 0; i < manifest.Columns.Count; i++)
                {
                    await ArchiveColumns.WriteAsync(writer, manifest.Columns[i].Type,
                        ArchiveColumns.IsNull(csv.GetRawSpan(i)) ? null : csv.GetString(i), cancellationToken);
                }

                rows++;
            }

            await writer.CompleteAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or FormatException or CsvFormatException)
        {
            throw new ArchiveIntegrityException($"Archive {Path.GetFileName(path)} cannot be read ({ex.Message}): it is corrupt or truncated.");
        }

        var (stagedRows, checksum) = await ContentChecksumAsync(connection, transaction, "financehub_archive_staging", manifest.TimeColumn,
            DateTimeOffset.MinValue.AddYears(1), DateTimeOffset.MaxValue.AddYears(-1), cancellationToken);
        if (stagedRows != manifest.RowCount || checksum != manifest.ContentChecksum)
        {
            throw new ArchiveIntegrityException(
                $"Archive {Path.GetFileName(path)} holds {stagedRows} rows with checksum {checksum}; its manifest says {manifest.RowCount} rows with checksum " +
                $"{manifest.ContentChecksum}. Its contents are not what was archived.");
        }
    }

    private static async Task<(long Rows, string Checksum)> ContentChecksumAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string table, string timeColumn, DateTimeOffset start, DateTimeOffset end,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT row_count, checksum::text FROM financehub.content_checksum($1::regclass, $2, $3, $4)", connection, transaction)
        {
            CommandTimeout = 0,
        };
        command.Parameters.Add(new() { Value = table.StartsWith("financehub_", StringComparison.Ordinal) ? table : SqlIdentifiers.Quote(table) });
        command.Parameters.Add(new() { Value = timeColumn, NpgsqlDbType = NpgsqlDbType.Name });
        command.Parameters.Add(new() { Value = start.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = end.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetString(1));
    }
}
