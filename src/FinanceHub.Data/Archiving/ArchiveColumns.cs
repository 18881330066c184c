using Npgsql;

namespace FinanceHub.Data.Archiving;

/// <summary>An archive's columns and its CSV NULL marker; PostgreSQL's own COPY writes and reads the CSV.</summary>
internal static class ArchiveColumns
{
    /// <summary>
    /// The CSV text of a NULL, unquoted (as PostgreSQL's <c>COPY ... (FORMAT csv, NULL '\N')</c> reads it); an empty field is
    /// an empty string, and a text value that is itself <c>\N</c> is written quoted, which PostgreSQL and the restore read as text.
    /// </summary>
    public const string Null = "\\N";

    private static readonly string[] SupportedTypes =
        ["integer", "bigint", "smallint", "numeric", "double precision", "timestamp with time zone", "character varying", "text", "character", "boolean", "inet", "uuid"];

    /// <summary>Whether archives can hold a column of <paramref name="type"/> (as <c>format_type</c> writes it).</summary>
    public static bool IsSupported(string? type) => type is not null && SupportedTypes.Contains(type.Split('(')[0], StringComparer.Ordinal);

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
}
