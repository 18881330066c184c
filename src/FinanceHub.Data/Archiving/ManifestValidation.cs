using System.Text.RegularExpressions;
using FinanceHub.Data.Entities;

namespace FinanceHub.Data.Archiving;

/// <summary>
/// A manifest is input like any other (a file on disk or an S3 object anyone with access may have written): before the
/// archiver reads, lists, restores or deletes anything on its word, it must describe one of the project's tables with
/// supported column types, sane sizes and a data file that is a plain name beside the manifest.
/// </summary>
internal static partial class ManifestValidation
{
    public static ArchiveManifest Validate(ArchiveManifest? manifest, string source)
    {
        if (manifest is null)
        {
            throw new ArchiveIntegrityException($"The manifest {source} is empty.");
        }

        var problems = new List<string>();
        if (manifest.Id == Guid.Empty)
        {
            problems.Add("it has no id");
        }

        var definition = Hypertables.All.FirstOrDefault(h => h.Table == manifest.Table);
        if (definition is null)
        {
            problems.Add($"its table '{manifest.Table}' is not one of {string.Join(", ", Hypertables.All.Select(h => h.Table))}");
        }
        else if (manifest.TimeColumn != definition.TimeColumn)
        {
            problems.Add($"its time column '{manifest.TimeColumn}' is not {definition.TimeColumn}");
        }

        if (manifest.Columns is not { Count: > 0 })
        {
            problems.Add("it lists no columns");
        }
        else
        {
            if (manifest.Columns.Any(c => string.IsNullOrWhiteSpace(c.Name)) || manifest.Columns.Select(c => c.Name).Distinct(StringComparer.Ordinal).Count() != manifest.Columns.Count)
            {
                problems.Add("its column names are empty or repeated");
            }

            problems.AddRange(manifest.Columns.Where(c => !ArchiveColumns.IsSupported(c.Type)).Select(c => $"column {c.Name} has unsupported type '{c.Type}'"));
        }

        if (manifest.RangeStart >= manifest.RangeEnd)
        {
            problems.Add("its range is empty or reversed");
        }

        if (manifest.EarliestTime.HasValue != manifest.LatestTime.HasValue
            || (manifest.EarliestTime is { } earliest && manifest.LatestTime is { } latest
                && (earliest < manifest.RangeStart || latest < earliest || latest >= manifest.RangeEnd)))
        {
            problems.Add("its earliest and latest row times are not an ordered pair inside its range");
        }

        if (!System.Numerics.BigInteger.TryParse(manifest.ContentChecksum, System.Globalization.NumberStyles.AllowLeadingSign,
                System.Globalization.CultureInfo.InvariantCulture, out _))
        {
            problems.Add("its content checksum is not a whole number");
        }

        if (!ContentChecksum.IsKnown(manifest.ContentChecksumAlgorithm))
        {
            problems.Add($"its content checksum algorithm '{manifest.ContentChecksumAlgorithm}' is neither {ContentChecksum.CsvLineHash} nor {ContentChecksum.RecordHash} " +
                         "(an archive from a newer FinanceHub.Data: restore it with that version)");
        }
        else if (manifest.ContentChecksumAlgorithm == ContentChecksum.CsvLineHash && manifest.Format != ArchiveFiles.CsvGzipManifestFormat)
        {
            problems.Add($"its content checksum algorithm {ContentChecksum.CsvLineHash} is for csv+gzip files only");
        }

        if (manifest.RowCount < 0 || manifest.FileSize < 0)
        {
            problems.Add("it gives a negative row count or size");
        }

        if (manifest.FileSha256 is null || !Sha256Hex().IsMatch(manifest.FileSha256))
        {
            problems.Add("its SHA-256 is not 64 hex digits");
        }

        if (manifest.DataFile is null || !DataFileName().IsMatch(manifest.DataFile) || Path.GetFileName(manifest.DataFile) != manifest.DataFile)
        {
            problems.Add($"its data file '{manifest.DataFile}' is not a plain *.csv.gz or *.parquet name beside the manifest");
        }

        switch (manifest.Format)
        {
            case ArchiveFiles.CsvGzipManifestFormat when manifest.NullMarker != ArchiveColumns.Null || manifest.DataFile?.EndsWith(".csv.gz", StringComparison.Ordinal) != true:
                problems.Add($"its format csv+gzip needs the NULL marker {ArchiveColumns.Null} (not '{manifest.NullMarker}') and a *.csv.gz data file");
                break;
            case ArchiveFiles.ParquetManifestFormat when manifest.DataFile?.EndsWith(".parquet", StringComparison.Ordinal) != true
                                                         || manifest.Columns is { Count: > 0 } && ParquetArchive.Problem(manifest.Columns) is not null:
                problems.Add($"its format parquet needs a *.parquet data file and columns with Parquet types ({(manifest.Columns is { Count: > 0 } ? ParquetArchive.Problem(manifest.Columns) : null) ?? "ok"})");
                break;
            case ArchiveFiles.CsvGzipManifestFormat or ArchiveFiles.ParquetManifestFormat:
                break;
            default:
                problems.Add($"its format '{manifest.Format}' is neither csv+gzip nor parquet");
                break;
        }

        return problems.Count == 0
            ? manifest
            : throw new ArchiveIntegrityException(
                $"The manifest {source} cannot be trusted: {string.Join("; ", problems)}. Nothing was read from or done to the files it names.");
    }

    [GeneratedRegex("^[0-9a-f]{64}$", RegexOptions.CultureInvariant)]
    private static partial Regex Sha256Hex();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.\-]*\.(csv\.gz|parquet)$", RegexOptions.CultureInvariant)]
    private static partial Regex DataFileName();
}
