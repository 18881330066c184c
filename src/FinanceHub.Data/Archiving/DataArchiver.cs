using System.IO.Compression;
using Amazon.S3.Model;
using Amazon.S3;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Timescale.Catalog;
using FinanceHub.Data.Timescale;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using ArchiveStatus = FinanceHub.Data.Entities.ArchiveStatus;

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

    /// <summary>
    /// Checks every copy of every archive in the catalog: the local file (present, size, SHA-256) and the S3 object (present,
    /// size, SHA-256 read back).
    /// </summary>
    Task<IReadOnlyList<ArchiveCheck>> VerifyArchivesAsync(IProgress<string>? progress = null, CancellationToken cancellationToken = default);

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

        var (manifest, path) = await ExportAsync(definition, request.Start, request.End, request.Format ?? _options.Format, progress, cancellationToken);
        await InsertRecordAsync(manifest, path, cancellationToken);
        if (!_options.S3Enabled)
        {
            return new ArchiveInfo(manifest, path, null);
        }

        // With S3 configured, a range archive gets what an automated one gets: read back, uploaded, checked remotely, recorded.
        var record = (await FindRecordsAsync(definition.Table, manifest.RangeStart, manifest.RangeEnd, cancellationToken)).Single(r => r.Id == manifest.Id);
        await VerifyFileAsync(manifest, path, cancellationToken);
        await SetStatusAsync(record.Id, record.Status, ArchiveStatus.Verified, "verified_at", null, null, cancellationToken);
        record.Status = ArchiveStatus.Verified;
        return new ArchiveInfo(manifest, path, await UploadArchiveAsync(record, cancellationToken));
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

    private Task CheckpointAsync(ArchiveCheckpoint checkpoint, Guid id) => Checkpoint?.Invoke(checkpoint, id) ?? Task.CompletedTask;

    /// <inheritdoc />
    public void Dispose() => _s3?.Dispose();

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Skipped an archive whose manifest cannot be trusted: {Reason}")]
    private partial void LogUntrusted(string reason);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Archived {Rows} rows of {Table} [{Start}, {End}) into {Bytes} bytes")]
    private partial void LogExported(string table, DateTimeOffset start, DateTimeOffset end, long rows, long bytes);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Uploaded {Key} to bucket {Bucket} ({Bytes} bytes) and verified it")]
    private partial void LogUploaded(string key, string bucket, long bytes);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning,
        Message = "Automated archiving of {Table} without S3: the local files under {Folder} are the only copy of the rows it drops. Configure ARCHIVE_S3_BUCKET for a second copy")]
    private partial void LogLocalOnly(string table, string folder);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Restored {Restored} of {Rows} rows of archive {Id} into {Table}")]
    private partial void LogRestored(Guid id, string table, long restored, long rows);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "Dropped {Rows} archived rows of {Table} [{Start}, {End})")]
    private partial void LogDropped(string table, DateTimeOffset start, DateTimeOffset end, long rows);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Rows of {Table} [{Start}, {End}) changed after they were archived; archiving the range again")]
    private partial void LogChanged(string table, DateTimeOffset start, DateTimeOffset end);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Information, Message = "Archive {Path} is stale (rows changed after it was written); it is kept but no longer catalogued")]
    private partial void LogStale(string path);
}
