using System.Globalization;

namespace FinanceHub.Data.Archiving;

/// <summary>How an archive's rows are written.</summary>
public enum ArchiveFormat
{
    /// <summary>
    /// CSV as PostgreSQL's COPY writes it (a header, NULL as an unquoted <c>\N</c>), gzip-compressed: <c>*.csv.gz</c> under
    /// <c>{table}/</c>. Loads anywhere with <c>COPY ... FROM</c>.
    /// </summary>
    CsvGzip,

    /// <summary>
    /// Apache Parquet with typed columns (decimals with their scale, UTC timestamps), zstd-compressed row groups, under
    /// Hive-style folders <c>table={table}/year=YYYY/month=MM/</c> (of the range start) so that DuckDB, Athena, Trino and
    /// Spark read the cold tier in place and prune by path. Manifests start with <c>_</c>, which those engines skip.
    /// </summary>
    Parquet,
}

/// <summary>Reading an <see cref="ArchiveFormat"/> from a setting or an option.</summary>
public static class ArchiveFormats
{
    /// <summary>Reads <c>csv</c> (or <c>csv+gzip</c>) or <c>parquet</c>; <paramref name="source"/> names where the text came from, for the error.</summary>
    public static ArchiveFormat Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Trim().ToLowerInvariant() switch
        {
            "csv" or "csv.gz" or "csv+gzip" => ArchiveFormat.CsvGzip,
            "parquet" => ArchiveFormat.Parquet,
            _ => throw new ArgumentException($"{source} is '{text}', which is not an archive format. Use csv (gzip CSV) or parquet."),
        };
    }
}

/// <summary>Names and places of archive files, for each <see cref="ArchiveFormat"/>: on disk and as S3 keys alike.</summary>
internal static class ArchiveFiles
{
    public const string CsvGzipManifestFormat = "csv+gzip";
    public const string ParquetManifestFormat = "parquet";

    public static string ManifestFormat(ArchiveFormat format) => format == ArchiveFormat.Parquet ? ParquetManifestFormat : CsvGzipManifestFormat;

    public static ArchiveFormat FromManifest(ArchiveManifest manifest) => manifest.Format == ParquetManifestFormat ? ArchiveFormat.Parquet : ArchiveFormat.CsvGzip;

    /// <summary>The data file's name: table, range and id, with the format's extension.</summary>
    public static string DataFileName(string table, DateTimeOffset start, DateTimeOffset end, Guid id, ArchiveFormat format)
        => string.Create(CultureInfo.InvariantCulture,
            $"{table}_{start.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}_{end.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}_{id:N}{(format == ArchiveFormat.Parquet ? ".parquet" : ".csv.gz")}");

    /// <summary>
    /// The folder of an archive below the archive root (the local base path or the S3 prefix), '/'-separated: the table's
    /// name for gzip CSV; <c>table=…/year=…/month=…</c> of the range start for Parquet.
    /// </summary>
    public static string RelativeFolder(string table, DateTimeOffset start, ArchiveFormat format)
        => format == ArchiveFormat.Parquet
            ? string.Create(CultureInfo.InvariantCulture, $"table={table}/year={start.UtcDateTime:yyyy}/month={start.UtcDateTime:MM}")
            : table;

    /// <summary>
    /// The manifest's name for a data file's name: <c>x.csv.gz</c> → <c>x.manifest.json</c>; <c>x.parquet</c> →
    /// <c>_x.manifest.json</c> (a leading underscore hides it from Hive, Athena, Trino and Spark, which read every other
    /// file under a table's location as data).
    /// </summary>
    public static string ManifestName(string dataFileName)
        => dataFileName.EndsWith(".csv.gz", StringComparison.Ordinal) ? dataFileName[..^".csv.gz".Length] + ".manifest.json"
            : dataFileName.EndsWith(".parquet", StringComparison.Ordinal) ? "_" + dataFileName[..^".parquet".Length] + ".manifest.json"
            : dataFileName + ".manifest.json";

    /// <summary>The manifest beside a data file path or S3 key (either separator).</summary>
    public static string ManifestBeside(string dataPathOrKey)
    {
        var slash = dataPathOrKey.LastIndexOf('/');
        return dataPathOrKey[..(slash + 1)] + ManifestName(dataPathOrKey[(slash + 1)..]);
    }

    /// <summary>Whether a file name or key is an archive's data file.</summary>
    public static bool IsDataFile(string nameOrKey)
        => nameOrKey.EndsWith(".csv.gz", StringComparison.Ordinal) || nameOrKey.EndsWith(".parquet", StringComparison.Ordinal);
}
