using System.Globalization;
using System.Net;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Archiving;

/// <summary>How each column type is written to and read back from an archive's CSV: invariant text that round-trips exactly.</summary>
internal static class ArchiveColumns
{
    /// <summary>
    /// The CSV text of a NULL, unquoted (as PostgreSQL's <c>COPY ... (FORMAT csv, NULL '\N')</c> reads it); an empty field is
    /// an empty string, and a text value that is itself <c>\N</c> is written quoted, which PostgreSQL and the restore read as text.
    /// </summary>
    public const string Null = "\\N";

    private static readonly byte[] NullBytes = "\\N"u8.ToArray();

    private static readonly string[] SupportedTypes =
        ["integer", "bigint", "smallint", "numeric", "double precision", "timestamp with time zone", "character varying", "text", "character", "boolean", "inet", "uuid"];

    /// <summary>Whether archives can hold a column of <paramref name="type"/> (as <c>format_type</c> writes it).</summary>
    public static bool IsSupported(string? type) => type is not null && SupportedTypes.Contains(type.Split('(')[0], StringComparer.Ordinal);

    /// <summary>Whether a field's raw CSV bytes are the NULL marker, unquoted.</summary>
    public static bool IsNull(ReadOnlySpan<byte> rawField) => rawField.SequenceEqual(NullBytes);

    /// <summary>UTC, with the fraction of a second only when there is one (microseconds at most, as PostgreSQL keeps).</summary>
    private const string TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.FFFFFF'Z'";

    public static async Task<List<ArchiveColumn>> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT a.attname::text, format_type(a.atttypid, a.atttypmod)
            FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """, connection, transaction)
        {
            Parameters = { new() { Value = table } },
        };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var columns = new List<ArchiveColumn>();
        while (await reader.ReadAsync(cancellationToken))
        {
            columns.Add(new ArchiveColumn(reader.GetString(0), reader.GetString(1)));
        }

        return columns;
    }

    /// <summary>The export query's expression for a column: numeric as the server's text, the rest as is.</summary>
    public static string ExportExpression(ArchiveColumn column)
        => column.Type.StartsWith("numeric", StringComparison.Ordinal)
            ? $"{Timescale.SqlIdentifiers.Quote(column.Name)}::text"
            : Timescale.SqlIdentifiers.Quote(column.Name);

    /// <summary>Copies a non-null field of a column of <paramref name="type"/> from a binary COPY export into the CSV.</summary>
    public static Action<CsvHelper.CsvWriter, NpgsqlBinaryExporter> FieldCopier(string type) => type.Split('(')[0] switch
    {
        "integer" => static (csv, e) => csv.WriteField(e.Read<int>(NpgsqlDbType.Integer), default),
        "bigint" => static (csv, e) => csv.WriteField(e.Read<long>(NpgsqlDbType.Bigint), default),
        "smallint" => static (csv, e) => csv.WriteField(e.Read<short>(NpgsqlDbType.Smallint), default),
        "numeric" => static (csv, e) => csv.WriteField(e.Read<string>(NpgsqlDbType.Text)),
        "double precision" => static (csv, e) => csv.WriteField(e.Read<double>(NpgsqlDbType.Double), "R"),
        "timestamp with time zone" => static (csv, e) => csv.WriteField(DateTime.SpecifyKind(e.Read<DateTime>(NpgsqlDbType.TimestampTz), DateTimeKind.Utc), TimestampFormat),
        "character varying" or "text" => static (csv, e) => WriteText(csv, e.Read<string>(NpgsqlDbType.Text)),
        "character" => static (csv, e) => WriteText(csv, e.Read<string>(NpgsqlDbType.Char)),
        "boolean" => static (csv, e) => csv.WriteField(e.Read<bool>(NpgsqlDbType.Boolean) ? "true" : "false"),
        "inet" => static (csv, e) => csv.WriteField(e.Read<IPAddress>(NpgsqlDbType.Inet).ToString()),
        "uuid" => static (csv, e) => csv.WriteField(e.Read<Guid>(NpgsqlDbType.Uuid), default),
        _ => throw new NotSupportedException($"Archiving a column of type {type} is not supported."),
    };

    private static void WriteText(CsvHelper.CsvWriter csv, string value)
    {
        if (value == Null)
        {
            csv.WriteField(value, CsvHelper.CsvQuoting.Always);
        }
        else
        {
            csv.WriteField(value);
        }
    }

    /// <summary>Parses <paramref name="text"/> (null for a NULL field) for a column of <paramref name="type"/> and writes it to a binary COPY.</summary>
    public static async Task WriteAsync(NpgsqlBinaryImporter writer, string type, string? text, CancellationToken cancellationToken)
    {
        if (text is null)
        {
            await writer.WriteNullAsync(cancellationToken);
            return;
        }

        var baseType = type.Split('(')[0];
        switch (baseType)
        {
            case "integer":
                await writer.WriteAsync(int.Parse(text, CultureInfo.InvariantCulture), NpgsqlDbType.Integer, cancellationToken);
                break;
            case "bigint":
                await writer.WriteAsync(long.Parse(text, CultureInfo.InvariantCulture), NpgsqlDbType.Bigint, cancellationToken);
                break;
            case "smallint":
                await writer.WriteAsync(short.Parse(text, CultureInfo.InvariantCulture), NpgsqlDbType.Smallint, cancellationToken);
                break;
            case "numeric":
                await writer.WriteAsync(decimal.Parse(text, NumberStyles.Number, CultureInfo.InvariantCulture), NpgsqlDbType.Numeric, cancellationToken);
                break;
            case "double precision":
                await writer.WriteAsync(double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture), NpgsqlDbType.Double, cancellationToken);
                break;
            case "timestamp with time zone":
                await writer.WriteAsync(DateTime.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal),
                    NpgsqlDbType.TimestampTz, cancellationToken);
                break;
            case "boolean":
                await writer.WriteAsync(bool.Parse(text), NpgsqlDbType.Boolean, cancellationToken);
                break;
            case "inet":
                await writer.WriteAsync(IPAddress.Parse(text), NpgsqlDbType.Inet, cancellationToken);
                break;
            case "uuid":
                await writer.WriteAsync(Guid.Parse(text, CultureInfo.InvariantCulture), NpgsqlDbType.Uuid, cancellationToken);
                break;
            default:
                await writer.WriteAsync(text, NpgsqlDbType.Text, cancellationToken);
                break;
        }
    }
}
