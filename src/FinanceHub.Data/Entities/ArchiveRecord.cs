namespace FinanceHub.Data.Entities;

/// <summary>
/// One archive of a time range of a hypertable (<c>financehub.archives</c>): where it is, what it holds, and how far the
/// archiving of that range has got. The automated archiver resumes from <see cref="Status"/> and never archives or
/// drops a range twice.
/// </summary>
public class ArchiveRecord
{
    /// <summary>Archive id (also in the file name).</summary>
    public Guid Id { get; set; }

    /// <summary>Hypertable archived.</summary>
    public required string TableName { get; set; }

    /// <summary>Inclusive start of the archived range.</summary>
    public DateTimeOffset RangeStart { get; set; }

    /// <summary>Exclusive end of the archived range.</summary>
    public DateTimeOffset RangeEnd { get; set; }

    /// <summary>How far archiving has got.</summary>
    public ArchiveStatus Status { get; set; }

    /// <summary>Rows in the archive.</summary>
    public long RowCount { get; set; }

    /// <summary>Order-independent checksum of the rows' contents (see <c>financehub.content_checksum</c>).</summary>
    public string? ContentChecksum { get; set; }

    /// <summary>
    /// How <see cref="ContentChecksum"/> was computed: <c>csv-line-hash</c> (the hash of each row's CSV line, gzip CSV
    /// archives since the CsvLineChecksum migration) or <c>record-hash</c> (<c>hash_record_extended</c> of each row; also what none means).
    /// </summary>
    public string? ContentChecksumAlgorithm { get; set; }

    /// <summary>SHA-256 of the gzip file, hex.</summary>
    public string? FileSha256 { get; set; }

    /// <summary>Size of the gzip file in bytes.</summary>
    public long FileSize { get; set; }

    /// <summary>Local path of the gzip file, while it is kept.</summary>
    public string? LocalPath { get; set; }

    /// <summary>S3 bucket of the remote copy.</summary>
    public string? S3Bucket { get; set; }

    /// <summary>S3 key of the remote copy.</summary>
    public string? S3Key { get; set; }

    /// <summary>Latest migration applied when the archive was made.</summary>
    public string? SchemaVersion { get; set; }

    /// <summary>When the archive was written.</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When its contents were verified against the database.</summary>
    public DateTimeOffset? VerifiedAt { get; set; }

    /// <summary>When the remote copy was verified.</summary>
    public DateTimeOffset? RemoteVerifiedAt { get; set; }

    /// <summary>When the archived rows were dropped from the table.</summary>
    public DateTimeOffset? DroppedAt { get; set; }

    /// <summary>
    /// When the archive was last restored into its table. A dropped range counts as back in the database (reads stop
    /// naming it as in the cold tier) once every dropped archive of it was restored after its drop.
    /// </summary>
    public DateTimeOffset? RestoredAt { get; set; }

    /// <summary>Last error while archiving this range.</summary>
    public string? LastError { get; set; }
}

/// <summary>Steps of archiving a range, in order.</summary>
public enum ArchiveStatus
{
    /// <summary>The file and manifest are written.</summary>
    Exported = 1,

    /// <summary>The file was read back and matches the database (rows and content checksum).</summary>
    Verified = 2,

    /// <summary>The remote copy is uploaded and matches the file.</summary>
    RemoteVerified = 3,

    /// <summary>The rows were dropped from the table (only after verification).</summary>
    Dropped = 4,
}
