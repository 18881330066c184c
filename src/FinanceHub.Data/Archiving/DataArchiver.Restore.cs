using System.Text.Json;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Infrastructure;
using FinanceHub.Data.Timescale;
using Npgsql;

namespace FinanceHub.Data.Archiving;

// Restore: an archive (local file or S3 object), or every archive of a range, back into its table through a staging table.
public sealed partial class DataArchiver
{
    /// <inheritdoc />
    public async Task<RestoreResult> RestoreFromArchiveAsync(string archive, string? table = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(archive);
        var (manifest, path, temporary) = await LocateAsync(archive, cancellationToken);
        try
        {
            var target = table ?? manifest.Table;
            long restored;
            long[] owed = [];
            await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
            {
                await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
                {
                    var columns = await ArchiveColumns.ReadAsync(connection, transaction, ResolveTable(target), cancellationToken);
                    RequireSameSchema(manifest, target, columns);
                }

                // The refresh the restored rows will owe, recorded before any of them is written (the restore commits in
                // one or several transactions): however it ends, maintain completes it. One that wrote nothing owes nothing.
                if (target == Hypertables.AssetPrices.Table)
                {
                    owed = await OwedRefreshes.RecordAsync(connection, null, manifest.RangeStart, manifest.RangeEnd, $"restore of archive {manifest.Id}", cancellationToken);
                }

                // A large gzip CSV archive into an empty range: over several COPY streams, verified in the same pass.
                var parallel = _options.RestoreStreams > 1 && manifest.RowCount >= _options.ParallelRestoreMinRows
                               && ArchiveFiles.FromManifest(manifest) != ArchiveFormat.Parquet;
                var streamed = parallel ? await new ParallelCsvRestore(dataSource, manifest, path, target, _options.RestoreStreams).TryRunAsync(cancellationToken) : null;
                if (streamed is { } rows)
                {
                    restored = rows;
                }
                else
                {
                    await RequireFileMatchesManifestAsync(manifest, path, cancellationToken);
                    restored = await TryRestoreDirectlyAsync(connection, manifest, path, target, cancellationToken)
                               ?? await RestoreThroughStagingAsync(connection, manifest, path, target, cancellationToken);
                }
            }

            // Every row of the archive is in its own table now (by key): the catalog says so, and reads of the range stop
            // naming it as in the cold tier (financehub.cold_ranges). Not cancellable: the rows are committed, and a range
            // left marked cold would send readers to the archive for nothing.
            if (string.Equals(target, manifest.Table, StringComparison.Ordinal))
            {
                await using var restoredAt = dataSource.CreateCommand("UPDATE financehub.archives SET restored_at = now() WHERE id = $1");
                restoredAt.Parameters.Add(new() { Value = manifest.Id });
                await restoredAt.ExecuteNonQueryAsync(CancellationToken.None);
            }

            IReadOnlyList<AggregateRefreshResult>? refreshes = null;
            LogRestored(manifest.Id, target, restored, manifest.RowCount);
            Telemetry.FinanceHubTelemetry.Restored(target, restored);
            if (restored > 0 && target == Hypertables.AssetPrices.Table)
            {
                refreshes = await OwedRefreshes.CompleteAsync(timescale, dataSource, owed, manifest.RangeStart, manifest.RangeEnd, cancellationToken);
            }
            else if (owed.Length > 0)
            {
                await dataSource.ExecuteAsync("DELETE FROM financehub.pending_refreshes WHERE id = ANY($1)", [owed], cancellationToken);
            }

            return new RestoreResult(manifest.Id, target, manifest.RowCount, restored, refreshes);
        }
        finally
        {
            if (temporary)
            {
                File.Delete(path);
            }
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<RestoreResult>> RestoreRangeAsync(string table, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken = default)
    {
        var definition = Hypertables.Get(table);
        if (start >= end)
        {
            throw new ArgumentException($"The restore range start ({start:O}) must be before its end ({end:O}).", nameof(start));
        }

        var archives = await dataSource.QueryAsync(
            """
            SELECT id, local_path, s3key FROM financehub.archives
            WHERE table_name = $1 AND range_start < $3 AND range_end > $2
            ORDER BY range_start, created_at, id
            """, [definition.Table, Timestamp(start), Timestamp(end)],
            r => (Id: r.GetGuid(0), Local: r.IsDBNull(1) ? null : r.GetString(1), Key: r.IsDBNull(2) ? null : r.GetString(2)), cancellationToken);
        var results = new List<RestoreResult>();
        foreach (var (id, local, key) in archives)
        {
            var source = local is not null && File.Exists(local) ? local
                : key is not null && _options.S3Enabled ? key
                : throw new ArchiveIntegrityException(
                    $"Archive {id} of {definition.Table} has neither its local file ({local ?? "none recorded"}) nor a reachable S3 copy " +
                    $"({key ?? "none recorded"}{(_options.S3Enabled ? "" : "; S3 is not configured")}). Nothing after it was restored.");
            results.Add(await RestoreFromArchiveAsync(source, definition.Table, cancellationToken));
        }

        return results;
    }

    /// <summary>
    /// The usual case, a range archived and dropped, with nothing in the target's range: the file streams straight into
    /// the table through COPY, and in the same transaction the range's row count and content checksum must equal the
    /// manifest's before it commits. Null, with nothing written, when the range holds rows or one arrives meanwhile
    /// (a duplicate key, or a checksum that counts another writer's row): then the staged path decides.
    /// </summary>
    private static async Task<long?> TryRestoreDirectlyAsync(
        NpgsqlConnection connection, ArchiveManifest manifest, string path, string target, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await RangeHoldsRowsAsync(connection, transaction, manifest, target, cancellationToken))
        {
            return null;
        }

        try
        {
            await CopyArchiveIntoAsync(connection, manifest, path, target, cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            await transaction.RollbackAsync(cancellationToken);
            return null;
        }

        var (rows, checksum) = await ContentChecksum.ComputeAsync(
            connection, transaction, ContentChecksum.Of(manifest), target, manifest.Columns, manifest.TimeColumn, manifest.RangeStart, manifest.RangeEnd, cancellationToken);
        if (rows != manifest.RowCount || checksum != manifest.ContentChecksum)
        {
            await transaction.RollbackAsync(cancellationToken);
            return null;
        }

        await transaction.CommitAsync(cancellationToken);
        return rows;
    }

    /// <summary>Whether <paramref name="target"/> holds any row in the archive's range (then a restore goes through staging).</summary>
    internal static Task<bool> RangeHoldsRowsAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, ArchiveManifest manifest, string target, CancellationToken cancellationToken)
    {
        var time = SqlIdentifiers.Quote(manifest.TimeColumn);
        return connection.ScalarAsync<bool>(transaction, $"SELECT EXISTS (SELECT 1 FROM {SqlIdentifiers.Quote(target)} WHERE {time} >= $1 AND {time} < $2)",
            [NpgsqlCommands.TimestampTz(manifest.RangeStart), NpgsqlCommands.TimestampTz(manifest.RangeEnd)], cancellationToken);
    }

    /// <summary>
    /// Loads the file into a staging table, checks it against the manifest there, and moves the rows that are not in
    /// <paramref name="target"/> yet in one statement (ON CONFLICT DO NOTHING keeps the rows already there).
    /// </summary>
    private static async Task<long> RestoreThroughStagingAsync(
        NpgsqlConnection connection, ArchiveManifest manifest, string path, string target, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await LoadIntoStagingAsync(connection, transaction, manifest, path, target, cancellationToken);
        var names = string.Join(", ", manifest.Columns.Select(c => SqlIdentifiers.Quote(c.Name)));
        await using var merge = new NpgsqlCommand(
            $"INSERT INTO {SqlIdentifiers.Quote(target)} ({names}) OVERRIDING SYSTEM VALUE SELECT {names} FROM financehub_archive_staging ON CONFLICT DO NOTHING",
            connection, transaction) { CommandTimeout = 0 };
        var restored = await merge.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return restored;
    }

    private async Task<(ArchiveManifest Manifest, string Path, bool Temporary)> LocateAsync(string archive, CancellationToken cancellationToken)
    {
        if (!File.Exists(archive) && !Path.IsPathRooted(archive) && File.Exists(Path.Combine(_options.BasePath, archive)))
        {
            // A name relative to the archive folder, as `archives list` shows them.
            archive = Path.Combine(_options.BasePath, archive);
        }

        if (File.Exists(archive))
        {
            var manifestPath = ManifestPath(archive);
            if (!File.Exists(manifestPath))
            {
                throw new ArchiveIntegrityException($"Archive {archive} has no manifest beside it ({Path.GetFileName(manifestPath)}); it cannot be verified.");
            }

            var local = await ReadManifestAsync(manifestPath, cancellationToken);
            if (local.DataFile != Path.GetFileName(archive))
            {
                throw new ArchiveIntegrityException($"The manifest beside {archive} describes another file ({local.DataFile}); it cannot vouch for this one.");
            }

            return (local, archive, false);
        }

        if (!_options.S3Enabled || archive.StartsWith('/') || archive.StartsWith('.'))
        {
            throw new ArgumentException($"There is no archive file '{archive}'" + (_options.S3Enabled ? "." : ", and no S3 bucket is configured to look for it as a key."), nameof(archive));
        }

        var bucket = _options.S3Bucket!;
        var key = archive.StartsWith("s3://", StringComparison.Ordinal) ? archive[(archive.IndexOf('/', 5) + 1)..] : archive;
        var folder = Path.Combine(_options.BasePath, "restore");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"{Guid.NewGuid():N}_{Path.GetFileName(key)}");
        ArchiveManifest? manifest = null;
        await S3CallAsync(bucket, async s3 =>
        {
            using (var manifestObject = await s3.GetObjectAsync(bucket, ArchiveFiles.ManifestBeside(key), cancellationToken))
            {
                manifest = ManifestValidation.Validate(
                    await JsonSerializer.DeserializeAsync(manifestObject.ResponseStream, ArchiveJsonContext.Default.ArchiveManifest, cancellationToken),
                    $"s3://{bucket}/{manifestObject.Key}");
            }

            using var data = await s3.GetObjectAsync(bucket, key, cancellationToken);
            await using var file = File.Create(path);
            await data.ResponseStream.CopyToAsync(file, cancellationToken);
        }, cancellationToken);
        return (manifest ?? throw new ArchiveIntegrityException($"The manifest of s3://{bucket}/{key} is empty."), path, true);
    }

    private static void RequireSameSchema(ArchiveManifest manifest, string target, List<ArchiveColumn> columns)
    {
        if (!columns.SequenceEqual(manifest.Columns))
        {
            throw new ArchiveIntegrityException(
                $"Archive {manifest.Id} holds rows of {manifest.Table} ({string.Join(", ", manifest.Columns.Select(c => $"{c.Name} {c.Type}"))}), " +
                $"which do not fit {target} ({string.Join(", ", columns.Select(c => $"{c.Name} {c.Type}"))}). Restore it into a table with the archive's columns.");
        }
    }
}
