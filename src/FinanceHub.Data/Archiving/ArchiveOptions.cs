namespace FinanceHub.Data.Archiving;

/// <summary>
/// Where archives go. Section <c>FinanceHub:Archive</c>, overlaid by the seed's variables: <c>ARCHIVE_BASE_PATH</c>,
/// <c>ARCHIVE_S3_BUCKET</c>, <c>ARCHIVE_S3_PREFIX</c>, <c>AWS_REGION</c>, <c>AWS_ACCESS_KEY_ID</c>,
/// <c>AWS_SECRET_ACCESS_KEY</c>; plus <c>ARCHIVE_FORMAT</c> (csv or parquet), <c>ARCHIVE_RESTORE_STREAMS</c>, <c>AWS_ENDPOINT_URL_S3</c> (or <c>ARCHIVE_S3_SERVICE_URL</c>) and
/// <c>ARCHIVE_S3_FORCE_PATH_STYLE</c> for S3-compatible stores.
/// </summary>
public sealed class ArchiveOptions
{
    /// <summary>Configuration section.</summary>
    public const string SectionName = "FinanceHub:Archive";

    /// <summary>
    /// Local folder for archive files (<c>ARCHIVE_BASE_PATH</c>). By default a data folder that survives reboots and tmp
    /// cleaners (<see cref="DefaultBasePath"/>): without S3 the files there are the only copy of the rows archiving drops.
    /// </summary>
    public string BasePath { get; set; } = DefaultBasePath;

    /// <summary>
    /// <c>$XDG_DATA_HOME/financehub/archives</c> (<c>~/.local/share/financehub/archives</c>) on Linux, the local application
    /// data folder elsewhere; <c>/var/lib/financehub/archives</c> for a user without a home.
    /// </summary>
    public static string DefaultBasePath
    {
        get
        {
            var data = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
            return string.IsNullOrEmpty(data)
                ? Path.Combine(Path.DirectorySeparatorChar + "var", "lib", "financehub", "archives")
                : Path.Combine(data, "financehub", "archives");
        }
    }

    /// <summary>Bucket for remote copies (<c>ARCHIVE_S3_BUCKET</c>); none means local archives only.</summary>
    public string? S3Bucket { get; set; }

    /// <summary>Key prefix in the bucket (<c>ARCHIVE_S3_PREFIX</c>).</summary>
    public string S3Prefix { get; set; } = "archives";

    /// <summary>AWS region (<c>AWS_REGION</c>).</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>Endpoint of an S3-compatible store (<c>AWS_ENDPOINT_URL_S3</c>); none means AWS S3.</summary>
    public string? ServiceUrl { get; set; }

    /// <summary>Path-style addressing (<c>bucket</c> in the path, not the host name), for most S3-compatible stores.</summary>
    public bool ForcePathStyle { get; set; }

    /// <summary>Access key (<c>AWS_ACCESS_KEY_ID</c>); none means the SDK's default credential chain.</summary>
    public string? AccessKeyId { get; set; }

    /// <summary>Secret key (<c>AWS_SECRET_ACCESS_KEY</c>).</summary>
    public string? SecretAccessKey { get; set; }

    /// <summary>
    /// Format of new archives (<c>ARCHIVE_FORMAT</c>: <c>csv</c> or <c>parquet</c>); an archive request may choose its own.
    /// Restores read both, whatever this says.
    /// </summary>
    public ArchiveFormat Format { get; set; } = ArchiveFormat.CsvGzip;

    /// <summary>Rows per Parquet row group: what an export holds in memory at once, and what a query engine reads as a unit.</summary>
    public int ParquetRowGroupRows { get; set; } = 131_072;

    /// <summary>
    /// How many COPY streams restore a gzip CSV archive into an empty range, each on its own connection
    /// (<c>ARCHIVE_RESTORE_STREAMS</c>, default 2; the server parses and inserts on that many cores). With 1 a restore is
    /// one transaction. Above 1 the streams' transactions are verified together (file SHA-256, row count, content
    /// checksum) and committed one after another: a bad file or a row in the way leaves nothing behind, but a connection
    /// lost during the final commits (milliseconds) can leave part of the range restored; restoring again completes it.
    /// Parquet archives, ranges that hold rows and archives under 100,000 rows restore in one transaction.
    /// </summary>
    public int RestoreStreams { get; set; } = 2;

    /// <summary>Archives with fewer rows restore over one stream (parallel streams cost more than they save there).</summary>
    internal long ParallelRestoreMinRows { get; set; } = 100_000;

    /// <summary>Files larger than this are uploaded in parts of this size.</summary>
    public long MultipartPartSize { get; set; } = 16L * 1024 * 1024;

    /// <summary>Whether a remote copy is configured.</summary>
    public bool S3Enabled => !string.IsNullOrWhiteSpace(S3Bucket);

    /// <summary>Overlays the environment variables that are set.</summary>
    public void ApplyEnvironment(Func<string, string?> getVariable)
    {
        ArgumentNullException.ThrowIfNull(getVariable);
        BasePath = getVariable("ARCHIVE_BASE_PATH") is { Length: > 0 } path ? path : BasePath;
        S3Bucket = getVariable("ARCHIVE_S3_BUCKET") is { Length: > 0 } bucket ? bucket : S3Bucket;
        S3Prefix = getVariable("ARCHIVE_S3_PREFIX") is { } prefix ? prefix : S3Prefix;
        Region = getVariable("AWS_REGION") is { Length: > 0 } region ? region : Region;
        ServiceUrl = (getVariable("AWS_ENDPOINT_URL_S3") ?? getVariable("ARCHIVE_S3_SERVICE_URL")) is { Length: > 0 } url ? url : ServiceUrl;
        ForcePathStyle = getVariable("ARCHIVE_S3_FORCE_PATH_STYLE") is { Length: > 0 } pathStyle ? bool.Parse(pathStyle) : ForcePathStyle;
        Format = getVariable("ARCHIVE_FORMAT") is { Length: > 0 } format ? ArchiveFormats.Parse(format, "ARCHIVE_FORMAT") : Format;
        RestoreStreams = getVariable("ARCHIVE_RESTORE_STREAMS") is { Length: > 0 } restoreStreams ? ParseStreams(restoreStreams) : RestoreStreams;
        AccessKeyId = getVariable("AWS_ACCESS_KEY_ID") is { Length: > 0 } key ? key : AccessKeyId;
        SecretAccessKey = getVariable("AWS_SECRET_ACCESS_KEY") is { Length: > 0 } secret ? secret : SecretAccessKey;
    }

    private static int ParseStreams(string value)
        => int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var streams) && streams is >= 1 and <= 16
            ? streams
            : throw new ArgumentException($"ARCHIVE_RESTORE_STREAMS must be a whole number from 1 to 16, not '{value}'.");

    /// <summary>Reads the environment.</summary>
    public static ArchiveOptions FromEnvironment(Func<string, string?>? getVariable = null)
    {
        var options = new ArchiveOptions();
        options.ApplyEnvironment(getVariable ?? Environment.GetEnvironmentVariable);
        return options;
    }
}
