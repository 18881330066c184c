using System.Text.Json.Serialization;

namespace FinanceHub.Data.Archiving;

/// <summary>What to archive: rows of one of the project's hypertables with <c>start &lt;= time &lt; end</c>.</summary>
/// <param name="Table">The table.</param>
/// <param name="Start">Inclusive start.</param>
/// <param name="End">Exclusive end.</param>
/// <param name="Format">The file format; by default the configured one (<see cref="ArchiveOptions.Format"/>).</param>
public sealed record ArchiveRequest(string Table, DateTimeOffset Start, DateTimeOffset End, ArchiveFormat? Format = null);

/// <summary>A column of an archived table.</summary>
public sealed record ArchiveColumn(string Name, string Type);

/// <summary>The manifest written beside each archive file (<c>*.manifest.json</c>).</summary>
public sealed record ArchiveManifest
{
    /// <summary>Archive id.</summary>
    public required Guid Id { get; init; }

    /// <summary>Source table.</summary>
    public required string Table { get; init; }

    /// <summary>Time column of the range.</summary>
    public required string TimeColumn { get; init; }

    /// <summary>Columns, in file order, with their PostgreSQL types.</summary>
    public required IReadOnlyList<ArchiveColumn> Columns { get; init; }

    /// <summary>Inclusive start.</summary>
    public required DateTimeOffset RangeStart { get; init; }

    /// <summary>Exclusive end.</summary>
    public required DateTimeOffset RangeEnd { get; init; }

    /// <summary>Rows in the file.</summary>
    public required long RowCount { get; init; }

    /// <summary>
    /// The earliest and latest time of its rows (none when it has none; archives made before 0.9 do not say): a restore
    /// prepares chunks for this span only, not for the whole range.
    /// </summary>
    public DateTimeOffset? EarliestTime { get; init; }

    /// <inheritdoc cref="EarliestTime"/>
    public DateTimeOffset? LatestTime { get; init; }

    /// <summary>SHA-256 of the data file, hex.</summary>
    public required string FileSha256 { get; init; }

    /// <summary>Size of the data file.</summary>
    public required long FileSize { get; init; }

    /// <summary>Order-independent checksum of the rows, an integer (see <see cref="ContentChecksumAlgorithm"/>).</summary>
    public required string ContentChecksum { get; init; }

    /// <summary>
    /// How <see cref="ContentChecksum"/> is computed: <c>csv-line-hash</c>, the sum of PostgreSQL's
    /// <c>hashtextextended(line, 0)</c> over the data file's rows (each CSV line as COPY writes it, without its line
    /// break; gzip CSV archives since the CsvLineChecksum migration), or <c>record-hash</c>, the sum of <c>hash_record_extended(row, 0)</c> over the
    /// table's rows (Parquet archives; also what an older manifest without this field means).
    /// </summary>
    public string? ContentChecksumAlgorithm { get; init; }

    /// <summary>Latest migration applied when it was made.</summary>
    public required string SchemaVersion { get; init; }

    /// <summary>When it was made.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>File format: <c>csv+gzip</c> or <c>parquet</c>.</summary>
    public string Format { get; init; } = ArchiveFiles.CsvGzipManifestFormat;

    /// <summary>Name of the data file beside the manifest.</summary>
    public required string DataFile { get; init; }

    /// <summary>
    /// gzip CSV: how a NULL is written, this text unquoted (a quoted one is text). Load the file elsewhere with
    /// <c>COPY table FROM ... (FORMAT csv, HEADER true, NULL '\N')</c>. Parquet files have nulls of their own: none.
    /// </summary>
    public string? NullMarker { get; init; } = "\\N";

    /// <summary>Parquet: rows per row group.</summary>
    public int? RowGroupRows { get; init; }
}

/// <summary>An archive: its manifest and where its file is.</summary>
/// <param name="Manifest">The manifest.</param>
/// <param name="LocalPath">Path of the local data file, if there is one.</param>
/// <param name="S3Key">Key of the remote copy, if there is one.</param>
public sealed record ArchiveInfo(ArchiveManifest Manifest, string? LocalPath, string? S3Key);

/// <summary>A remote archive object.</summary>
public sealed record S3ArchiveObject(string Key, long Size, DateTimeOffset LastModified);

/// <summary>Result of a restore.</summary>
/// <param name="ArchiveId">The archive.</param>
/// <param name="Table">Target table.</param>
/// <param name="RowsInArchive">Rows the archive holds.</param>
/// <param name="RowsRestored">Rows inserted (rows already present are not inserted again).</param>
/// <param name="AggregateRefreshes">Price aggregates refreshed over the restored range, when rows went below their watermark.</param>
public sealed record RestoreResult(
    Guid ArchiveId, string Table, long RowsInArchive, long RowsRestored, IReadOnlyList<Timescale.AggregateRefreshResult>? AggregateRefreshes = null);

/// <summary>What a cleanup did.</summary>
/// <param name="Deleted">Local archive files removed.</param>
/// <param name="Kept">Files that matched but were kept, with the reason.</param>
public sealed record CleanupResult(IReadOnlyList<string> Deleted, IReadOnlyList<(string Path, string Reason)> Kept);

/// <summary>What <c>archives verify</c> found for one archive of the catalog.</summary>
/// <param name="ArchiveId">The archive.</param>
/// <param name="Table">Its table.</param>
/// <param name="RangeStart">Range start.</param>
/// <param name="RangeEnd">Range end.</param>
/// <param name="Status">Catalog status (Dropped: the archive holds the only copy of its rows).</param>
/// <param name="Local">The local file: ok, missing, or how it differs; "none" when the catalog records no local file.</param>
/// <param name="Remote">The S3 copy: ok, or the problem; "none" without one, "not checked" when S3 is not configured.</param>
public sealed record ArchiveCheck(Guid ArchiveId, string Table, DateTimeOffset RangeStart, DateTimeOffset RangeEnd, string Status, string Local, string Remote)
{
    /// <summary>No copy that the catalog records is missing or different, and a dropped range has at least one good copy.</summary>
    public bool Ok => Local is "ok" or "none" && (Remote is "ok" or "none" || Remote.StartsWith("not checked", StringComparison.Ordinal))
                      && (Status != "Dropped" || Local == "ok" || Remote == "ok");
}

/// <summary>What one range of an automated run did.</summary>
public sealed record AutomatedArchiveStep(
    string Table, DateTimeOffset RangeStart, DateTimeOffset RangeEnd, Guid ArchiveId, long Rows, string Outcome, bool Dropped);

/// <summary>Points in archiving where tests inject failures; the archiver calls the hook after each.</summary>
public enum ArchiveCheckpoint
{
    /// <summary>The file and manifest are written.</summary>
    AfterExport,
    /// <summary>The file was read back and matched the database.</summary>
    AfterVerify,
    /// <summary>The upload finished, before the remote copy is checked.</summary>
    AfterUpload,
    /// <summary>The remote copy was checked.</summary>
    AfterRemoteVerify,
    /// <summary>Inside the drop transaction, after the chunks were dropped and before it commits.</summary>
    DuringDrop,
}

/// <summary>An archive that cannot be used: corrupt, truncated, of another table, or not matching its manifest.</summary>
public sealed class ArchiveIntegrityException(string message) : InvalidOperationException(message);

/// <summary>Another archiving run holds the table or changed an archive under this one; this run did nothing more.</summary>
public sealed class ArchiveBusyException(string message) : InvalidOperationException(message);

[JsonSerializable(typeof(ArchiveManifest))]
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class ArchiveJsonContext : JsonSerializerContext;
