using System.Data;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using CsvHelper;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Infrastructure;
using FinanceHub.Data.Timescale;
using FinanceHub.Data.Timescale.Catalog;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using ArchiveStatus = FinanceHub.Data.Entities.ArchiveStatus;
using NpgsqlTypes;

namespace FinanceHub.Data.Archiving;

/// <summary>
/// Moves old rows of the project's hypertables to gzip CSV files (and S3) and back: the seed's <c>DataArchiver</c>.
/// Every archive has a manifest and a row in <c>financehub.archives</c>; rows are dropped only after their archive was
/// read back and matched the database, and (with S3 configured) its remote copy was verified.
/// </summary>
public interface IDataArchiver
{
    /// <summary>Writes the rows of a table's time range to a gzip CSV file with a manifest, and records it in the catalog.</summary>
    Task<ArchiveInfo> ArchiveTableAsync(ArchiveRequest request, IProgress<long>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>Uploads a file (multipart when large, checksummed by S3) and verifies the object (size and SHA-256) after upload.</summary>
    Task UploadToS3Async(string filePath, string bucket, string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Restores an archive from a local path or an S3 key (of the data file): verifies the file against its manifest,
    /// loads it through a staging table, and inserts the rows that are not there yet (safe to run twice).
    /// </summary>
    Task<RestoreResult> RestoreFromArchiveAsync(string archive, string? table = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Restores every archive in the catalog of <paramref name="table"/> whose range overlaps [<paramref name="start"/>,
    /// <paramref name="end"/>): the local file where it is still there, else its S3 copy. Whole archives are restored
    /// (their rows outside the range too); rows already present are left as they are.
    /// </summary>
    Task<IReadOnlyList<RestoreResult>> RestoreRangeAsync(string table, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken = default);

    /// <summary>The archives in the local folder (or <paramref name="folder"/>).</summary>
    Task<IReadOnlyList<ArchiveInfo>> ListLocalArchivesAsync(string? folder = null, CancellationToken cancellationToken = default);

    /// <summary>The archive objects under the configured prefix (or <paramref name="prefix"/>).</summary>
    Task<IReadOnlyList<S3ArchiveObject>> ListS3ArchivesAsync(string? prefix = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes local archive files older than <paramref name="olderThan"/> or beyond the newest <paramref name="keep"/>,
    /// never one without a verified remote copy unless <paramref name="force"/>.
    /// </summary>
    Task<CleanupResult> CleanupLocalArchivesAsync(TimeSpan? olderThan, int? keep, bool force = false, CancellationToken cancellationToken = default);

    /// <summary>Gzips a file to <c>{path}.gz</c> and returns that path.</summary>
    Task<string> CompressFileAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>
    /// Archives every whole chunk of <paramref name="table"/> older than <paramref name="retentionDays"/>: export, verify,
    /// upload and verify remotely (when S3 is configured), and only then drop exactly those chunks. Resumes where a
    /// failed or killed run stopped; never archives or drops a range twice.
    /// </summary>
    Task<IReadOnlyList<AutomatedArchiveStep>> RunAutomatedArchiveAsync(string table, int retentionDays, IProgress<string>? progress = null,
        CancellationToken cancellationToken = default);
}

/// <inheritdoc />
public sealed partial class DataArchiver(
    NpgsqlDataSource dataSource, ITimescaleManager timescale, IOptions<ArchiveOptions> options, TimeProvider timeProvider, ILogger<DataArchiver> logger)
    : IDataArchiver, IDisposable
{
    private readonly ArchiveOptions _options = options.Value;
    private readonly TimescaleCatalog _catalog = new(dataSource);
    private AmazonS3Client? _s3;

    /// <summary>Test hook: called after each step of archiving a range (see <see cref="ArchiveCheckpoint"/>).</summary>
    internal Func<ArchiveCheckpoint, Guid, Task>? Checkpoint { get; set; }

    /// <summary>Test hook: wraps the stream uploaded to S3.</summary>
    internal Func<Stream, Stream>? UploadStreamWrapper { get; set; }

    /// <summary>Test hook: wraps the archive file an export writes (to make the disk fail).</summary>
    internal Func<Stream, Stream>? ArchiveFileWrapper { get; set; }

    /// <inheritdoc />
    public async Task<ArchiveInfo> ArchiveTableAsync(ArchiveRequest request, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var definition = Hypertables.Get(request.Table);
        if (request.Start >= request.End)
        {
            throw new ArgumentException($"The archive range start ({request.Start:O}) must be before its end ({request.End:O}).", nameof(request));
        }

        var (manifest, path) = await ExportAsync(definition, request.Start, request.End, progress, cancellationToken);
        await InsertRecordAsync(manifest, path, cancellationToken);
        return new ArchiveInfo(manifest, path, null);
    }

    /// <inheritdoc />
    public async Task UploadToS3Async(string filePath, string bucket, string key, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(filePath);
        ArgumentException.ThrowIfNullOrWhiteSpace(bucket);
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        if (!File.Exists(filePath))
        {
            throw new ArgumentException($"There is no file '{filePath}' to upload.", nameof(filePath));
        }

        string sha256;
        await using (var read = File.OpenRead(filePath))
        {
            (sha256, _) = await HashingStream.HashAsync(read, cancellationToken);
        }

        var length = new FileInfo(filePath).Length;
        await S3CallAsync(bucket, async s3 =>
        {
            await using var source = File.OpenRead(filePath);
            var stream = UploadStreamWrapper?.Invoke(source) ?? source;
            try
            {
                await UploadAsync(s3, stream, length, bucket, key, sha256, cancellationToken);
            }
            finally
            {
                if (stream != source)
                {
                    await stream.DisposeAsync();
                }
            }
        }, cancellationToken);
        if (Checkpoint is not null)
        {
            await Checkpoint(ArchiveCheckpoint.AfterUpload, Guid.Empty);
        }

        await VerifyRemoteAsync(bucket, key, sha256, length, cancellationToken);
        LogUploaded(key, bucket, length);
    }

    /// <inheritdoc />
    public async Task<RestoreResult> RestoreFromArchiveAsync(string archive, string? table = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(archive);
        var (manifest, path, temporary) = await LocateAsync(archive, cancellationToken);
        try
        {
            var target = table ?? manifest.Table;
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var columns = await ArchiveColumns.ReadAsync(connection, transaction, ResolveTable(target), cancellationToken);
            RequireSameSchema(manifest, target, columns);
            await LoadIntoStagingAsync(connection, transaction, manifest, path, target, cancellationToken);
            var names = string.Join(", ", manifest.Columns.Select(c => SqlIdentifiers.Quote(c.Name)));
            await using var insert = new NpgsqlCommand(
                $"INSERT INTO {SqlIdentifiers.Quote(target)} ({names}) OVERRIDING SYSTEM VALUE SELECT {names} FROM financehub_archive_staging ON CONFLICT DO NOTHING",
                connection, transaction) { CommandTimeout = 0 };
            var restored = await insert.ExecuteNonQueryAsync(cancellationToken);
            IReadOnlyList<AggregateRefreshResult>? refreshes = null;
            await transaction.CommitAsync(cancellationToken);
            LogRestored(manifest.Id, target, restored, manifest.RowCount);
            if (restored > 0 && target == Hypertables.AssetPrices.Table)
            {
                refreshes = await PriceAggregateRefresher.RefreshTouchedAsync(timescale, manifest.RangeStart, manifest.RangeEnd, cancellationToken);
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

    /// <inheritdoc />
    public async Task<IReadOnlyList<ArchiveInfo>> ListLocalArchivesAsync(string? folder = null, CancellationToken cancellationToken = default)
    {
        var root = folder ?? _options.BasePath;
        if (!Directory.Exists(root))
        {
            return [];
        }

        var remote = await RemoteKeysAsync(cancellationToken);
        var archives = new List<ArchiveInfo>();
        foreach (var manifestPath in Directory.EnumerateFiles(root, "*.manifest.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            ArchiveManifest manifest;
            try
            {
                manifest = await ReadManifestAsync(manifestPath, cancellationToken);
            }
            catch (ArchiveIntegrityException ex)
            {
                // Listed nowhere, so nothing (cleanup included) acts on what it names.
                LogUntrusted(ex.Message);
                continue;
            }

            var dataPath = Path.Combine(Path.GetDirectoryName(manifestPath)!, manifest.DataFile);
            archives.Add(new ArchiveInfo(manifest, File.Exists(dataPath) ? dataPath : null, remote.GetValueOrDefault(manifest.Id)));
        }

        return archives;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<S3ArchiveObject>> ListS3ArchivesAsync(string? prefix = null, CancellationToken cancellationToken = default)
    {
        var bucket = RequireBucket();
        var objects = new List<S3ArchiveObject>();
        await S3CallAsync(bucket, async s3 =>
        {
            var request = new ListObjectsV2Request { BucketName = bucket, Prefix = prefix ?? _options.S3Prefix };
            ListObjectsV2Response response;
            do
            {
                response = await s3.ListObjectsV2Async(request, cancellationToken);
                objects.AddRange((response.S3Objects ?? []).Where(o => o.Key.EndsWith(".csv.gz", StringComparison.Ordinal))
                    .Select(o => new S3ArchiveObject(o.Key, o.Size ?? 0, o.LastModified is { } m ? new DateTimeOffset(m.ToUniversalTime(), TimeSpan.Zero) : default)));
                request.ContinuationToken = response.NextContinuationToken;
            }
            while (response.IsTruncated == true);
        }, cancellationToken);
        return objects;
    }

    /// <inheritdoc />
    public async Task<CleanupResult> CleanupLocalArchivesAsync(TimeSpan? olderThan, int? keep, bool force = false, CancellationToken cancellationToken = default)
    {
        if (olderThan is null && keep is null)
        {
            throw new ArgumentException("Say what to clean up: an age (olderThan), a number of newest archives to keep (keep), or both.", nameof(olderThan));
        }

        if (keep < 0 || olderThan < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(keep < 0 ? nameof(keep) : nameof(olderThan), "Ages and counts cannot be negative.");
        }

        var now = timeProvider.GetUtcNow();
        var local = (await ListLocalArchivesAsync(cancellationToken: cancellationToken)).Where(a => a.LocalPath is not null)
            .OrderByDescending(a => a.Manifest.CreatedAt).ToList();
        var verified = await RemoteVerifiedIdsAsync(cancellationToken);
        var deleted = new List<string>();
        var kept = new List<(string, string)>();
        for (var i = 0; i < local.Count; i++)
        {
            var archive = local[i];
            var tooOld = olderThan is { } age && now - archive.Manifest.CreatedAt > age;
            var beyondKeep = keep is { } k && i >= k;
            if (!tooOld && !beyondKeep)
            {
                continue;
            }

            if (!force && !verified.Contains(archive.Manifest.Id))
            {
                kept.Add((archive.LocalPath!, "no verified remote copy (use --force to delete anyway)"));
                continue;
            }

            if (!force && await RemoteCopyProblemAsync(archive, cancellationToken) is { } problem)
            {
                kept.Add((archive.LocalPath!, $"its remote copy is not there as recorded ({problem}); re-run the archive to upload it again, or use --force"));
                continue;
            }

            File.Delete(archive.LocalPath!);
            File.Delete(ManifestPath(archive.LocalPath!));
            deleted.Add(archive.LocalPath!);
            await using var command = dataSource.CreateCommand("UPDATE financehub.archives SET local_path = NULL WHERE id = $1");
            command.Parameters.Add(new() { Value = archive.Manifest.Id });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        return new CleanupResult(deleted, kept);
    }

    /// <summary>Why the S3 copy of <paramref name="archive"/> cannot stand in for the local file now (null when it can).</summary>
    private async Task<string?> RemoteCopyProblemAsync(ArchiveInfo archive, CancellationToken cancellationToken)
    {
        if (!_options.S3Enabled || archive.S3Key is null)
        {
            return "S3 is not configured here, so the copy cannot be checked";
        }

        try
        {
            await VerifyRemoteAsync(_options.S3Bucket!, archive.S3Key, archive.Manifest.FileSha256, archive.Manifest.FileSize, cancellationToken);
            return null;
        }
        catch (Exception ex) when (ex is ArchiveIntegrityException or AmazonS3Exception or InvalidOperationException)
        {
            return ex.Message;
        }
    }

    /// <inheritdoc />
    public async Task<string> CompressFileAsync(string path, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(path))
        {
            throw new ArgumentException($"There is no file '{path}' to compress.", nameof(path));
        }

        var target = path + ".gz";
        var partial = target + ".partial";
        await using (var source = File.OpenRead(path))
        await using (var destination = File.Create(partial))
        await using (var gzip = new GZipStream(destination, CompressionLevel.Optimal))
        {
            await source.CopyToAsync(gzip, cancellationToken);
        }

        File.Move(partial, target, overwrite: true);
        return target;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<AutomatedArchiveStep>> RunAutomatedArchiveAsync(
        string table, int retentionDays, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var definition = Hypertables.Get(table);
        if (retentionDays < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(retentionDays), retentionDays, "Keep at least one day of rows in the table.");
        }

        await RequireRetentionLongerThanAsync(definition, TimeSpan.FromDays(retentionDays), cancellationToken);
        await RequireAggregatesKeepDroppedRangesAsync(definition, TimeSpan.FromDays(retentionDays), cancellationToken);

        // One automated run per table at a time: a session advisory lock, held on its own connection for the whole run and
        // released by the server if this process dies.
        await using var lockConnection = await dataSource.OpenConnectionAsync(cancellationToken);
        var lockKey = "financehub.archive:" + definition.Table;
        if (!await lockConnection.ScalarAsync<bool>(null, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", [lockKey], cancellationToken))
        {
            throw new ArchiveBusyException(
                $"Another automated archive of {definition.Table} is running (it holds the archive lock '{lockKey}'). " +
                "Wait for it to finish, then run again; nothing was done.");
        }

        try
        {
            if (!_options.S3Enabled)
            {
                LogLocalOnly(definition.Table, _options.BasePath);
            }

            var cutoff = timeProvider.GetUtcNow() - TimeSpan.FromDays(retentionDays);
            var ranges = await _catalog.GetChunkRangesAsync(definition.Table, cutoff, cancellationToken);
            var steps = new List<AutomatedArchiveStep>();
            foreach (var (start, end) in ranges)
            {
                progress?.Report($"{definition.Table} {start:yyyy-MM-dd} .. {end:yyyy-MM-dd}");
                steps.Add(await ArchiveRangeAsync(definition, start, end, cancellationToken));
            }

            return steps;
        }
        finally
        {
            await lockConnection.ExecuteAsync(null, "SELECT pg_advisory_unlock(hashtextextended($1, 0))", [lockKey], CancellationToken.None);
        }
    }

    private async Task<AutomatedArchiveStep> ArchiveRangeAsync(HypertableDefinition definition, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
    {
        // Resume an archive of this range that a failed or killed run left unfinished. When every archive of the range was
        // dropped, rows found there now came later (late data, a restore): they are archived as a further archive.
        var records = await FindRecordsAsync(definition.Table, start, end, cancellationToken);
        var record = records.FirstOrDefault(r => r.Status != ArchiveStatus.Dropped);
        var late = record is null && records.Count > 0;
        if (late && await CountRowsAsync(definition, start, end, cancellationToken) == 0)
        {
            var last = records[^1];
            return new(definition.Table, start, end, last.Id, last.RowCount, "already archived and dropped", Dropped: true);
        }

        // Two attempts: if rows changed between the export and the drop, archive the range again once.
        for (var attempt = 0; ; attempt++)
        {
            if (record is null || record.LocalPath is null || !File.Exists(record.LocalPath) && record.Status < ArchiveStatus.RemoteVerified)
            {
                var (exported, path) = await ExportAsync(definition, start, end, null, cancellationToken);
                await InsertRecordAsync(exported, path, cancellationToken);
                record = (await FindRecordsAsync(definition.Table, start, end, cancellationToken)).Single(r => r.Id == exported.Id);
                await CheckpointAsync(ArchiveCheckpoint.AfterExport, record.Id);
            }

            if (record.Status < ArchiveStatus.Verified)
            {
                var manifest = await ReadManifestAsync(ManifestPath(record.LocalPath!), cancellationToken);
                await VerifyFileAsync(manifest, record.LocalPath!, cancellationToken);
                await SetStatusAsync(record.Id, record.Status, ArchiveStatus.Verified, "verified_at", null, null, cancellationToken);
                record.Status = ArchiveStatus.Verified;
                await CheckpointAsync(ArchiveCheckpoint.AfterVerify, record.Id);
            }

            if (_options.S3Enabled && record.Status < ArchiveStatus.RemoteVerified)
            {
                var key = $"{_options.S3Prefix.TrimEnd('/')}/{definition.Table}/{Path.GetFileName(record.LocalPath!)}";
                await UploadToS3Async(ManifestPath(record.LocalPath!), _options.S3Bucket!, key.Replace(".csv.gz", ".manifest.json", StringComparison.Ordinal), cancellationToken);
                await UploadToS3Async(record.LocalPath!, _options.S3Bucket!, key, cancellationToken);
                await SetStatusAsync(record.Id, record.Status, ArchiveStatus.RemoteVerified, "remote_verified_at", _options.S3Bucket, key, cancellationToken);
                record.Status = ArchiveStatus.RemoteVerified;
                await CheckpointAsync(ArchiveCheckpoint.AfterRemoteVerify, record.Id);
            }

            if (await DropIfUnchangedAsync(definition, record, cancellationToken))
            {
                return new(definition.Table, start, end, record.Id, record.RowCount,
                    late ? "late rows archived as a further archive of the range and dropped" : "archived and dropped", Dropped: true);
            }

            if (attempt == 1)
            {
                return new(definition.Table, start, end, record.Id, record.RowCount, "rows keep changing; kept in the table, will retry", Dropped: false);
            }

            // Rows were written into the range after it was archived: archive it again, from the start.
            LogChanged(definition.Table, start, end);
            await DeleteRecordAsync(record, cancellationToken);
            record = null;
        }
    }

    private async Task<bool> DropIfUnchangedAsync(HypertableDefinition definition, ArchiveRecord record, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Block writers to exactly these chunks until the drop commits, then compare them with the archive one last time.
        {
            var names = await TimescaleCatalog.GetChunksWithinAsync(connection, transaction, definition.Table, record.RangeStart, record.RangeEnd, cancellationToken);
            foreach (var name in names)
            {
                // name comes from format('%I.%I') over the catalog: already quoted.
                await using var lockChunk = new NpgsqlCommand($"LOCK TABLE {name} IN SHARE ROW EXCLUSIVE MODE", connection, transaction);
                await lockChunk.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        var (rows, checksum) = await ContentChecksumAsync(connection, transaction, definition.Table, definition.TimeColumn, record.RangeStart, record.RangeEnd, cancellationToken);
        if (rows != record.RowCount || checksum != record.ContentChecksum)
        {
            await transaction.RollbackAsync(cancellationToken);
            return false;
        }

        await using (var drop = new NpgsqlCommand("SELECT financehub.drop_archived_chunks($1::regclass, $2, $3)", connection, transaction))
        {
            drop.Parameters.Add(new() { Value = definition.Table });
            drop.Parameters.Add(new() { Value = record.RangeStart.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            drop.Parameters.Add(new() { Value = record.RangeEnd.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            await drop.ExecuteNonQueryAsync(cancellationToken);
        }

        await CheckpointAsync(ArchiveCheckpoint.DuringDrop, record.Id);
        var marked = await connection.ExecuteAsync(transaction,
            "UPDATE financehub.archives SET status = 'Dropped', dropped_at = now(), last_error = NULL WHERE id = $1 AND status = $2",
            [record.Id, record.Status.ToString()], cancellationToken);
        if (marked != 1)
        {
            // Rolled back with the drop: the chunks stay.
            throw new ArchiveBusyException($"Archive {record.Id} of {definition.Table} changed status while this run dropped its range; nothing was dropped.");
        }

        await transaction.CommitAsync(cancellationToken);
        LogDropped(definition.Table, record.RangeStart, record.RangeEnd, record.RowCount);
        return true;
    }

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

    private async Task<(ArchiveManifest Manifest, string Path, bool Temporary)> LocateAsync(string archive, CancellationToken cancellationToken)
    {
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
            using (var manifestObject = await s3.GetObjectAsync(bucket, key.Replace(".csv.gz", ".manifest.json", StringComparison.Ordinal), cancellationToken))
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

    private static string ResolveTable(string table)
        => Hypertables.All.Any(h => h.Table == table) ? table : throw new ArgumentException(
            $"Unknown table '{table}'. Archives restore into {string.Join(", ", Hypertables.All.Select(h => h.Table))}.", nameof(table));

    /// <summary>
    /// Dropping archived chunks of prices that a continuous aggregate's refresh still reaches would delete their candles at
    /// its next refresh (community edition): archive only rows older than every refresh window.
    /// </summary>
    private Task RequireAggregatesKeepDroppedRangesAsync(HypertableDefinition definition, TimeSpan archiveAfter, CancellationToken cancellationToken)
        => _catalog.RequireRefreshWindowsInsideAsync(null, definition.Table, archiveAfter, "Archiving and dropping rows older than", cancellationToken);

    private async Task RequireRetentionLongerThanAsync(HypertableDefinition definition, TimeSpan archiveAfter, CancellationToken cancellationToken)
    {
        // A retention that drops rows before the archiver reaches them would lose them unarchived.
        foreach (var retention in await _catalog.GetRetentionsAsync(null, definition.Table, cancellationToken))
        {
            if (retention <= archiveAfter)
            {
                throw new InvalidOperationException(
                    $"The retention of {definition.Table} ({Durations.Describe(retention)}) drops rows before they are {Durations.Describe(archiveAfter)} old, so " +
                    "they would be lost without an archive. Archive after fewer days than the retention, or lengthen the retention " +
                    $"(financehub-data retention {definition.Table} --set ...).");
            }
        }
    }

    /// <summary>Every archive of exactly this table and range, oldest first.</summary>
    private async Task<List<ArchiveRecord>> FindRecordsAsync(string table, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
        => await dataSource.QueryAsync(
            """
            SELECT id, status, row_count, content_checksum, local_path, s3bucket, s3key FROM financehub.archives
            WHERE table_name = $1 AND range_start = $2 AND range_end = $3
            ORDER BY created_at, id
            """, [table, Timestamp(start), Timestamp(end)], reader => new ArchiveRecord
            {
                Id = reader.GetGuid(0), TableName = table, RangeStart = start, RangeEnd = end, Status = Enum.Parse<ArchiveStatus>(reader.GetString(1)),
                RowCount = reader.GetInt64(2), ContentChecksum = reader.IsDBNull(3) ? null : reader.GetString(3),
                LocalPath = reader.IsDBNull(4) ? null : reader.GetString(4), S3Bucket = reader.IsDBNull(5) ? null : reader.GetString(5),
                S3Key = reader.IsDBNull(6) ? null : reader.GetString(6),
            }, cancellationToken);

    private async Task<long> CountRowsAsync(HypertableDefinition definition, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
    {
        var time = SqlIdentifiers.Quote(definition.TimeColumn);
        return await dataSource.ScalarAsync<long>(
            $"SELECT count(*) FROM {SqlIdentifiers.Quote(definition.Table)} WHERE {time} >= $1 AND {time} < $2",
            [Timestamp(start), Timestamp(end)], cancellationToken);
    }

    private async Task InsertRecordAsync(ArchiveManifest manifest, string path, CancellationToken cancellationToken)
        => await dataSource.ExecuteAsync(
            """
            INSERT INTO financehub.archives (id, table_name, range_start, range_end, status, row_count, content_checksum, file_sha256, file_size,
                                             local_path, schema_version, created_at)
            VALUES ($1, $2, $3, $4, 'Exported', $5, $6, $7, $8, $9, $10, $11)
            """,
            [manifest.Id, manifest.Table, Timestamp(manifest.RangeStart), Timestamp(manifest.RangeEnd), manifest.RowCount, manifest.ContentChecksum,
             manifest.FileSha256, manifest.FileSize, path, manifest.SchemaVersion, Timestamp(manifest.CreatedAt)], cancellationToken);

    /// <summary>Moves an archive from <paramref name="from"/> to <paramref name="to"/>; another run that moved it first makes this throw.</summary>
    private async Task SetStatusAsync(
        Guid id, ArchiveStatus from, ArchiveStatus to, string timestampColumn, string? bucket, string? key, CancellationToken cancellationToken)
    {
        // timestampColumn is one of this class's constants, never input.
        var changed = await dataSource.ExecuteAsync(
            $"UPDATE financehub.archives SET status = $3, {timestampColumn} = now(), s3bucket = coalesce($4, s3bucket), s3key = coalesce($5, s3key) WHERE id = $1 AND status = $2",
            [id, from.ToString(), to.ToString(),
             new NpgsqlParameter { Value = (object?)bucket ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Varchar },
             new NpgsqlParameter { Value = (object?)key ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Varchar }], cancellationToken);
        if (changed != 1)
        {
            throw new ArchiveBusyException($"Archive {id} is no longer {from} (another run changed it); this run stops without dropping anything.");
        }
    }

    private static NpgsqlParameter Timestamp(DateTimeOffset value) => new() { Value = value.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz };

    private async Task DeleteRecordAsync(ArchiveRecord record, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM financehub.archives WHERE id = $1 AND status <> 'Dropped'");
        command.Parameters.Add(new() { Value = record.Id });
        await command.ExecuteNonQueryAsync(cancellationToken);
        if (record.LocalPath is not null)
        {
            // The stale archive is kept beside the new one under its own id: nothing that was written is thrown away.
            LogStale(record.LocalPath);
        }
    }

    private async Task<Dictionary<Guid, string>> RemoteKeysAsync(CancellationToken cancellationToken)
    {
        var keys = new Dictionary<Guid, string>();
        await using var command = dataSource.CreateCommand("SELECT id, s3key FROM financehub.archives WHERE s3key IS NOT NULL");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            keys[reader.GetGuid(0)] = reader.GetString(1);
        }

        return keys;
    }

    private async Task<HashSet<Guid>> RemoteVerifiedIdsAsync(CancellationToken cancellationToken)
    {
        var ids = new HashSet<Guid>();
        await using var command = dataSource.CreateCommand("SELECT id FROM financehub.archives WHERE remote_verified_at IS NOT NULL AND s3key IS NOT NULL");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetGuid(0));
        }

        return ids;
    }

    /// <summary>
    /// One PUT for small files, a multipart upload for large ones. Every request carries the SHA-256 of its bytes in
    /// x-amz-checksum-sha256, which S3 checks on receipt; no chunked trailers, so S3-compatible stores take it as well.
    /// </summary>
    private async Task UploadAsync(IAmazonS3 s3, Stream stream, long length, string bucket, string key, string fileSha256, CancellationToken cancellationToken)
    {
        var partSize = (int)Math.Min(_options.MultipartPartSize, int.MaxValue);
        if (length <= partSize)
        {
            var body = new byte[length];
            await stream.ReadExactlyAsync(body, cancellationToken);
            var put = new PutObjectRequest
            {
                BucketName = bucket, Key = key, InputStream = new MemoryStream(body), UseChunkEncoding = false,
                ChecksumSHA256 = Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(body)), ContentType = "application/octet-stream",
            };
            put.Metadata.Add("sha256", fileSha256);
            await s3.PutObjectAsync(put, cancellationToken);
            return;
        }

        var initiate = new InitiateMultipartUploadRequest { BucketName = bucket, Key = key, ChecksumAlgorithm = ChecksumAlgorithm.SHA256 };
        initiate.Metadata.Add("sha256", fileSha256);
        var upload = await s3.InitiateMultipartUploadAsync(initiate, cancellationToken);
        try
        {
            var parts = new List<PartETag>();
            var buffer = new byte[partSize];
            for (var number = 1; ; number++)
            {
                var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                var checksum = Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(buffer.AsSpan(0, read)));
                var part = await s3.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = bucket, Key = key, UploadId = upload.UploadId, PartNumber = number, InputStream = new MemoryStream(buffer, 0, read),
                    PartSize = read, UseChunkEncoding = false, ChecksumAlgorithm = ChecksumAlgorithm.SHA256, ChecksumSHA256 = checksum,
                }, cancellationToken);
                parts.Add(new PartETag { PartNumber = number, ETag = part.ETag, ChecksumSHA256 = checksum });
            }

            await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = bucket, Key = key, UploadId = upload.UploadId, PartETags = parts,
            }, cancellationToken);
        }
        catch
        {
            // Leave no half-uploaded parts behind to be billed for.
            await s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = bucket, Key = key, UploadId = upload.UploadId }, CancellationToken.None);
            throw;
        }
    }

    private async Task VerifyRemoteAsync(string bucket, string key, string sha256, long length, CancellationToken cancellationToken)
    {
        await S3CallAsync(bucket, async s3 =>
        {
            var metadata = await s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = key }, cancellationToken);
            if (metadata.ContentLength != length || metadata.Metadata["sha256"] != sha256)
            {
                throw new ArchiveIntegrityException($"s3://{bucket}/{key} has {metadata.ContentLength} bytes and SHA-256 {metadata.Metadata["sha256"]}; the file has {length} and {sha256}.");
            }

            using var response = await s3.GetObjectAsync(bucket, key, cancellationToken);
            var (remoteSha, remoteLength) = await HashingStream.HashAsync(response.ResponseStream, cancellationToken);
            if (remoteLength != length || remoteSha != sha256)
            {
                throw new ArchiveIntegrityException($"s3://{bucket}/{key} reads back as {remoteLength} bytes with SHA-256 {remoteSha}; the file has {length} and {sha256}.");
            }
        }, cancellationToken);
    }

    private string RequireBucket()
        => _options.S3Bucket is { Length: > 0 } bucket ? bucket : throw new InvalidOperationException("No S3 bucket is configured; set ARCHIVE_S3_BUCKET.");

    private async Task S3CallAsync(string bucket, Func<IAmazonS3, Task> call, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            await call(S3());
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode == "NoSuchBucket" || ex.StatusCode == System.Net.HttpStatusCode.NotFound && ex.ErrorCode != "NoSuchKey")
        {
            // Some S3-compatible stores answer a missing bucket with a bare 404: ask before blaming the bucket.
            if (ex.ErrorCode == "NoSuchBucket" || !await BucketExistsAsync(bucket))
            {
                throw new InvalidOperationException($"The S3 bucket '{bucket}' does not exist; create it or fix ARCHIVE_S3_BUCKET.", ex);
            }

            throw;
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode is "InvalidAccessKeyId" or "SignatureDoesNotMatch" or "AccessDenied" or "ExpiredToken"
                                           || ex.StatusCode == System.Net.HttpStatusCode.Forbidden)
        {
            throw new InvalidOperationException(
                $"S3 refused the credentials for bucket '{bucket}' ({ex.ErrorCode}); check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket policy.", ex);
        }
    }

    private async Task<bool> BucketExistsAsync(string bucket)
    {
        try
        {
            await S3().GetBucketLocationAsync(bucket);
            return true;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    private AmazonS3Client S3()
    {
        if (_s3 is not null)
        {
            return _s3;
        }

        var config = new AmazonS3Config
        {
            ForcePathStyle = _options.ForcePathStyle, AuthenticationRegion = _options.Region,
            // Checksums are sent explicitly per request (UploadAsync); no automatic trailers.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (_options.ServiceUrl is { Length: > 0 } url)
        {
            config.ServiceURL = url;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(_options.Region);
        }

        _s3 = _options.AccessKeyId is { Length: > 0 } key
            ? new AmazonS3Client(new BasicAWSCredentials(key, _options.SecretAccessKey), config)
            : new AmazonS3Client(config);
        return _s3;
    }

    private Task CheckpointAsync(ArchiveCheckpoint checkpoint, Guid id) => Checkpoint?.Invoke(checkpoint, id) ?? Task.CompletedTask;

    private static string ManifestPath(string dataPath) => dataPath.EndsWith(".csv.gz", StringComparison.Ordinal)
        ? dataPath[..^".csv.gz".Length] + ".manifest.json"
        : dataPath + ".manifest.json";

    private static async Task<ArchiveManifest> ReadManifestAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(path);
        try
        {
            return ManifestValidation.Validate(
                await JsonSerializer.DeserializeAsync(stream, ArchiveJsonContext.Default.ArchiveManifest, cancellationToken), path);
        }
        catch (JsonException ex)
        {
            throw new ArchiveIntegrityException($"The manifest {path} is not valid JSON ({ex.Message}).");
        }
    }

    /// <inheritdoc />
    public void Dispose() => _s3?.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped an archive whose manifest cannot be trusted: {Reason}")]
    private partial void LogUntrusted(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Archived {Rows} rows of {Table} [{Start}, {End}) into {Bytes} bytes")]
    private partial void LogExported(string table, DateTimeOffset start, DateTimeOffset end, long rows, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Uploaded {Key} to bucket {Bucket} ({Bytes} bytes) and verified it")]
    private partial void LogUploaded(string key, string bucket, long bytes);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Automated archiving of {Table} without S3: the local files under {Folder} are the only copy of the rows it drops. Configure ARCHIVE_S3_BUCKET for a second copy")]
    private partial void LogLocalOnly(string table, string folder);

    [LoggerMessage(Level = LogLevel.Information, Message = "Restored {Restored} of {Rows} rows of archive {Id} into {Table}")]
    private partial void LogRestored(Guid id, string table, long restored, long rows);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dropped {Rows} archived rows of {Table} [{Start}, {End})")]
    private partial void LogDropped(string table, DateTimeOffset start, DateTimeOffset end, long rows);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rows of {Table} [{Start}, {End}) changed after they were archived; archiving the range again")]
    private partial void LogChanged(string table, DateTimeOffset start, DateTimeOffset end);

    [LoggerMessage(Level = LogLevel.Information, Message = "Archive {Path} is stale (rows changed after it was written); it is kept but no longer catalogued")]
    private partial void LogStale(string path);
}
