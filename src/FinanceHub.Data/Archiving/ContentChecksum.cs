using System.Text;
using FinanceHub.Data.Timescale;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Archiving;

/// <summary>
/// The content checksum of an archive: an order-independent sum of one 64-bit hash per row, kept as an exact integer,
/// which the database computes again over restored, staged or about-to-be-dropped rows. Two algorithms, named in the
/// manifest and the catalog:
/// <list type="bullet">
/// <item><see cref="CsvLineHash"/> (gzip CSV archives since the CsvLineChecksum migration): the hash of each row's CSV
/// line exactly as PostgreSQL's COPY writes it. The exporter sums it over the bytes it compresses, in the one scan of the
/// table that the COPY makes; the database computes it with <c>financehub.content_checksum_csv</c>.</item>
/// <item><see cref="RecordHash"/> (Parquet archives, and every archive whose manifest names none):
/// <c>hash_record_extended</c> of each row, <c>financehub.content_checksum</c>; a scan of its own.</item>
/// </list>
/// </summary>
internal static class ContentChecksum
{
    public const string RecordHash = "record-hash";

    public const string CsvLineHash = "csv-line-hash";

    /// <summary>The output settings under which COPY writes an archive and the database recomputes its lines' hashes.</summary>
    public const string CsvOutputSettings =
        "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'";

    // ASCII: the server converts it into its own encoding, whatever that is.
    private const string Probe = "FinanceHub.Data content checksum probe, 2026-12-03";

    /// <summary>The algorithm a manifest names (none: the one every archive had before names were written).</summary>
    public static string Of(ArchiveManifest manifest) => manifest.ContentChecksumAlgorithm ?? RecordHash;

    public static bool IsKnown(string? algorithm) => algorithm is null or RecordHash or CsvLineHash;

    /// <summary>
    /// Whether the server's <c>hashtextextended</c> is <see cref="PostgresHash"/>'s over the bytes this process receives:
    /// a UTF-8 database (COPY sends UTF-8, and the server hashes its own encoding) on a little-endian machine.
    /// </summary>
    public static async Task<bool> ServerAgreesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """SELECT current_setting('server_encoding') = 'UTF8' AND hashtextextended($1 COLLATE "C", 0) = $2""", connection, transaction);
        command.Parameters.Add(new() { Value = Probe, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = PostgresHash.HashBytesExtended(Encoding.UTF8.GetBytes(Probe)), NpgsqlDbType = NpgsqlDbType.Bigint });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Row count and checksum of the rows of <paramref name="table"/> in [start, end), computed by the database.</summary>
    public static async Task<(long Rows, string Checksum)> ComputeAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string algorithm, string table, IReadOnlyList<ArchiveColumn> columns,
        string timeColumn, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            algorithm switch
            {
                RecordHash => "SELECT row_count, checksum::text FROM financehub.content_checksum($1::regclass, $2, $3, $4)",
                CsvLineHash => "SELECT row_count, checksum::text FROM financehub.content_checksum_csv($1::regclass, $2, $3, $4, $5, $6)",
                _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown content checksum algorithm."),
            }, connection, transaction)
        {
            CommandTimeout = 0,
        };
        command.Parameters.Add(new() { Value = SqlIdentifiers.Quote(table) });
        command.Parameters.Add(new() { Value = timeColumn, NpgsqlDbType = NpgsqlDbType.Name });
        command.Parameters.Add(new() { Value = start.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = end.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        if (algorithm == CsvLineHash)
        {
            command.Parameters.Add(new() { Value = columns.Select(c => c.Name).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Name });
            command.Parameters.Add(new() { Value = ArchiveColumns.Null, NpgsqlDbType = NpgsqlDbType.Text });
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetString(1));
    }

    /// <summary>
    /// The <see cref="CsvLineHash"/> checksum of a CSV stream as COPY writes it (a header line, then rows ending in a line
    /// break; a line break inside quotes belongs to its value), added up block by block from any number of threads.
    /// Each block must hold whole rows, the first one starting with the header.
    /// </summary>
    public sealed class CsvLines
    {
        private readonly Lock _lock = new();
        private long _rows;
        private Int128 _sum;

        public long Rows
        {
            get
            {
                lock (_lock)
                {
                    return _rows;
                }
            }
        }

        public string Checksum
        {
            get
            {
                lock (_lock)
                {
                    return _sum.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }

        /// <summary>Adds the rows of <paramref name="block"/>; the first block's first line is the header, not a row.</summary>
        public void Add(ReadOnlySpan<byte> block, bool first)
        {
            var (rows, sum) = Sum(block, first);
            lock (_lock)
            {
                _rows += rows;
                _sum += sum;
            }
        }

        internal static (long Rows, Int128 Sum) Sum(ReadOnlySpan<byte> text, bool skipHeader)
        {
            long rows = 0;
            Int128 sum = 0;
            var quotesAnywhere = text.Contains((byte)'"');
            var skip = skipHeader;
            while (!text.IsEmpty)
            {
                // The first line break outside quotes (CsvRowBlocks.RowEnd gives the index after it).
                var end = quotesAnywhere ? CsvRowBlocks.RowEnd(text, first: true) - 1 : text.IndexOf((byte)'\n');
                var line = end < 0 ? text : text[..end];
                if (skip)
                {
                    skip = false;
                }
                else
                {
                    rows++;
                    sum += PostgresHash.HashBytesExtended(line);
                }

                text = end < 0 ? [] : text[(end + 1)..];
            }

            return (rows, sum);
        }
    }
}
