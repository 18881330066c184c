using System.Globalization;
using System.Net;
using Npgsql;
using NpgsqlTypes;
using ParquetSharp;
using ParquetSharp.IO;
using FinanceHub.Data.Timescale;

namespace FinanceHub.Data.Archiving;

/// <summary>
/// Parquet archives: rows streamed from a binary COPY into typed Parquet columns, one row group at a time, and back from
/// a Parquet file into a binary COPY. PostgreSQL types map to Parquet's logical types so that query engines read the
/// cold tier with the database's types: <c>numeric(p,s)</c> as DECIMAL(p,s), <c>timestamptz</c> as a UTC TIMESTAMP in
/// microseconds, integers and doubles as themselves, text (and <c>inet</c>, <c>uuid</c> as PostgreSQL prints them) as STRING.
/// Written with ParquetSharp (Apache Arrow's C++ writer): its row-group statistics are what engines prune by.
/// </summary>
internal static class ParquetArchive
{
    /// <summary>The largest numeric precision a Parquet archive keeps exactly (.NET's decimal holds 28 digits).</summary>
    public const int MaxDecimalPrecision = 28;

    /// <summary>Why <paramref name="columns"/> cannot be archived as Parquet (null when they can).</summary>
    public static string? Problem(IReadOnlyList<ArchiveColumn> columns)
    {
        var problems = columns.Select(c => (c, Problem: ColumnProblem(c))).Where(p => p.Problem is not null).Select(p => $"{p.c.Name} {p.c.Type}: {p.Problem}").ToList();
        return problems.Count == 0 ? null : string.Join("; ", problems);
    }

    private static string? ColumnProblem(ArchiveColumn column)
    {
        if (!ArchiveColumns.IsSupported(column.Type))
        {
            return "not a type archives hold";
        }

        if (BaseType(column.Type) != "numeric")
        {
            return null;
        }

        return ParseNumeric(column.Type) is not { } numeric
            ? "a numeric without a declared precision and scale has no exact Parquet decimal type"
            : numeric.Precision > MaxDecimalPrecision ? $"a precision above {MaxDecimalPrecision} digits does not fit a decimal exactly" : null;
    }

    /// <summary>
    /// The SQL expression that a Parquet export selects for a column: inet as PostgreSQL prints it (<c>abbrev</c>:
    /// <c>10.1.2.3</c>, <c>10.1.0.0/16</c>; its <c>::text</c> would add <c>/32</c> to every address), uuid as text.
    /// </summary>
    public static string SelectExpression(ArchiveColumn column) => BaseType(column.Type) switch
    {
        "inet" => $"abbrev({SqlIdentifiers.Quote(column.Name)})",
        "uuid" => SqlIdentifiers.Quote(column.Name) + "::text",
        _ => SqlIdentifiers.Quote(column.Name),
    };

    /// <summary>
    /// Writes every row of <paramref name="export"/> (a binary COPY of <paramref name="columns"/>, selected with
    /// <see cref="SelectExpression"/>) to <paramref name="output"/> as Parquet, in row groups of <paramref name="rowGroupRows"/>
    /// rows; memory holds one row group. Returns the number of rows.
    /// </summary>
    public static async Task<long> WriteAsync(
        NpgsqlBinaryExporter export, Stream output, IReadOnlyList<ArchiveColumn> columns, int rowGroupRows, Action<long>? rowsWritten,
        CancellationToken cancellationToken)
    {
        var buffers = columns.Select(c => ColumnBuffer.For(c, rowGroupRows)).ToArray();
        using var properties = new WriterPropertiesBuilder().Compression(Compression.Zstd).CompressionLevel(1).CreatedBy("FinanceHub.Data").Build();
        using var stream = new ManagedOutputStream(output, leaveOpen: true);
        using var writer = new ParquetFileWriter(stream, buffers.Select(b => b.Column).ToArray(), properties);
        long rows = 0;
        var inGroup = 0;
        while (await export.StartRowAsync(cancellationToken) != -1)
        {
            foreach (var buffer in buffers)
            {
                await buffer.ReadAsync(export, inGroup, cancellationToken);
            }

            if (++inGroup == rowGroupRows)
            {
                Flush(writer, buffers, inGroup);
                rows += inGroup;
                inGroup = 0;
                rowsWritten?.Invoke(rows);
            }
        }

        if (inGroup > 0 || rows == 0)
        {
            // An empty range still gets one (empty) row group, so the file states its schema to every reader.
            Flush(writer, buffers, inGroup);
            rows += inGroup;
        }

        writer.Close();
        return rows;
    }

    private static void Flush(ParquetFileWriter writer, ColumnBuffer[] buffers, int count)
    {
        using var group = writer.AppendRowGroup();
        foreach (var buffer in buffers)
        {
            using var column = group.NextColumn();
            buffer.Write(column, count);
        }

        group.Close();
    }

    /// <summary>
    /// Streams the rows of a Parquet archive into <paramref name="table"/> through a binary COPY, one row group in memory at
    /// a time. The file's columns must be the manifest's by name, and read as the manifest's types; anything else is an
    /// integrity error, and the COPY is cancelled.
    /// </summary>
    public static async Task CopyIntoAsync(NpgsqlConnection connection, ArchiveManifest manifest, string path, string table, CancellationToken cancellationToken)
    {
        var names = string.Join(", ", manifest.Columns.Select(c => SqlIdentifiers.Quote(c.Name)));
        ParquetFileReader reader;
        try
        {
            reader = new ParquetFileReader(path);
        }
        catch (ParquetException ex)
        {
            throw new ArchiveIntegrityException($"Archive {Path.GetFileName(path)} is not a readable Parquet file ({ex.Message}): it is corrupt or truncated.");
        }

        using (reader)
        {
            var buffers = manifest.Columns.Select(c => ColumnBuffer.For(c, 0)).ToArray();
            var schema = reader.FileMetaData.Schema;
            var fileColumns = Enumerable.Range(0, schema.NumColumns).Select(i => schema.Column(i).Name).ToList();
            if (!fileColumns.SequenceEqual(buffers.Select(b => b.Column.Name), StringComparer.Ordinal))
            {
                throw new ArchiveIntegrityException(
                    $"Archive {Path.GetFileName(path)} has columns ({string.Join(", ", fileColumns)}) that are not its manifest's " +
                    $"({string.Join(", ", manifest.Columns.Select(c => c.Name))}).");
            }

            await using var import = await connection.BeginBinaryImportAsync(
                $"COPY {SqlIdentifiers.Quote(table)} ({names}) FROM STDIN (FORMAT binary)", cancellationToken);
            try
            {
                for (var g = 0; g < reader.FileMetaData.NumRowGroups; g++)
                {
                    int count;
                    using (var group = reader.RowGroup(g))
                    {
                        count = checked((int)group.MetaData.NumRows);
                        for (var c = 0; c < buffers.Length; c++)
                        {
                            using var column = group.Column(c);
                            buffers[c].Load(column, count);
                        }
                    }

                    for (var row = 0; row < count; row++)
                    {
                        await import.StartRowAsync(cancellationToken);
                        foreach (var buffer in buffers)
                        {
                            await buffer.WriteAsync(import, row, cancellationToken);
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is ParquetException or IOException or InvalidDataException or NotSupportedException or FormatException
                                           or OverflowException or IndexOutOfRangeException or InvalidCastException)
            {
                throw new ArchiveIntegrityException($"Archive {Path.GetFileName(path)} cannot be read ({ex.Message}): it is corrupt or truncated.");
            }

            // Disposed without completing, the COPY is cancelled: nothing of a half-read file is kept.
            await import.CompleteAsync(cancellationToken);
        }
    }

    private static string BaseType(string type) => type.Split('(')[0];

    private static (int Precision, int Scale)? ParseNumeric(string type)
    {
        // format_type writes numeric(20,8); a bare numeric has no typmod.
        var open = type.IndexOf('(', StringComparison.Ordinal);
        if (open < 0)
        {
            return null;
        }

        var parts = type[(open + 1)..type.IndexOf(')', StringComparison.Ordinal)].Split(',');
        return (int.Parse(parts[0], CultureInfo.InvariantCulture), parts.Length > 1 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : 0);
    }

    /// <summary>One column's values for a row group, and how they pass between COPY and Parquet.</summary>
    private abstract class ColumnBuffer
    {
        public required Column Column { get; init; }

        public abstract ValueTask ReadAsync(NpgsqlBinaryExporter export, int row, CancellationToken cancellationToken);

        public abstract void Write(ColumnWriter column, int count);

        public abstract void Load(ColumnReader column, int count);

        public abstract ValueTask WriteAsync(NpgsqlBinaryImporter import, int row, CancellationToken cancellationToken);

        public static ColumnBuffer For(ArchiveColumn column, int capacity)
        {
            var name = column.Name;
            return BaseType(column.Type) switch
            {
                "integer" => new Values<int>(capacity, NpgsqlDbType.Integer) { Column = new Column<int?>(name) },
                "bigint" => new Values<long>(capacity, NpgsqlDbType.Bigint) { Column = new Column<long?>(name) },
                "smallint" => new Values<short>(capacity, NpgsqlDbType.Smallint) { Column = new Column<short?>(name) },
                "double precision" => new Values<double>(capacity, NpgsqlDbType.Double) { Column = new Column<double?>(name) },
                "boolean" => new Values<bool>(capacity, NpgsqlDbType.Boolean) { Column = new Column<bool?>(name) },
                "numeric" when ParseNumeric(column.Type) is { } numeric => new Values<decimal>(capacity, NpgsqlDbType.Numeric)
                {
                    Column = new Column<decimal?>(name, LogicalType.Decimal(numeric.Precision, numeric.Scale)),
                },
                "timestamp with time zone" => new Timestamps(capacity)
                {
                    Column = new Column<DateTime?>(name, LogicalType.Timestamp(isAdjustedToUtc: true, timeUnit: TimeUnit.Micros)),
                },
                "inet" => new Strings(capacity, NpgsqlDbType.Inet, s => ParseInet(s)) { Column = new Column<string>(name, LogicalType.String()) },
                "uuid" => new Strings(capacity, NpgsqlDbType.Uuid, s => Guid.Parse(s, CultureInfo.InvariantCulture)) { Column = new Column<string>(name, LogicalType.String()) },
                "character varying" => new Strings(capacity, NpgsqlDbType.Varchar, null) { Column = new Column<string>(name, LogicalType.String()) },
                "character" => new Strings(capacity, NpgsqlDbType.Char, null) { Column = new Column<string>(name, LogicalType.String()) },
                "text" => new Strings(capacity, NpgsqlDbType.Text, null) { Column = new Column<string>(name, LogicalType.String()) },
                _ => throw new NotSupportedException($"Column {name} of type {column.Type} cannot be archived as Parquet."),
            };
        }

        protected static void WriteBatch<TValue>(ColumnWriter column, TValue[] values, int count)
        {
            using var writer = column.LogicalWriter<TValue>();
            writer.WriteBatch(values, 0, count);
        }

        /// <summary>Reads a row group's <paramref name="count"/> values of a column into <paramref name="buffer"/> (grown when too small).</summary>
        protected TValue[] ReadBatch<TValue>(ColumnReader column, TValue[] buffer, int count)
        {
            if (buffer.Length < count)
            {
                buffer = new TValue[count];
            }

            using var reader = column.LogicalReader<TValue>();
            var read = 0;
            while (read < count && reader.HasNext)
            {
                read += reader.ReadBatch(buffer, read, count - read);
            }

            return read == count ? buffer : throw new InvalidDataException($"column {Column.Name} holds {read} values where its row group has {count} rows");
        }

        private static NpgsqlInet ParseInet(string text)
        {
            var slash = text.IndexOf('/', StringComparison.Ordinal);
            return slash < 0
                ? new NpgsqlInet(IPAddress.Parse(text))
                : new NpgsqlInet(IPAddress.Parse(text[..slash]), byte.Parse(text[(slash + 1)..], CultureInfo.InvariantCulture));
        }
    }

    private class Values<T>(int capacity, NpgsqlDbType type) : ColumnBuffer where T : struct
    {
        private T?[] _buffer = new T?[capacity];

        public override async ValueTask ReadAsync(NpgsqlBinaryExporter export, int row, CancellationToken cancellationToken)
        {
            if (export.IsNull)
            {
                _buffer[row] = null;
                await export.SkipAsync(cancellationToken);
            }
            else
            {
                _buffer[row] = await export.ReadAsync<T>(type, cancellationToken);
            }
        }

        protected virtual T Convert(T value) => value;

        public override void Write(ColumnWriter column, int count) => WriteBatch(column, _buffer, count);

        public override void Load(ColumnReader column, int count) => _buffer = ReadBatch(column, _buffer, count);

        public override ValueTask WriteAsync(NpgsqlBinaryImporter import, int row, CancellationToken cancellationToken)
            => _buffer[row] is { } value ? new ValueTask(import.WriteAsync(Convert(value), type, cancellationToken)) : new ValueTask(import.WriteNullAsync(cancellationToken));
    }

    /// <summary>timestamptz: UTC on both sides (a Parquet reader hands back an unspecified kind).</summary>
    private sealed class Timestamps(int capacity) : Values<DateTime>(capacity, NpgsqlDbType.TimestampTz)
    {
        protected override DateTime Convert(DateTime value) => DateTime.SpecifyKind(value, DateTimeKind.Utc);
    }

    private sealed class Strings(int capacity, NpgsqlDbType type, Func<string, object>? parse) : ColumnBuffer
    {
        private string?[] _buffer = new string?[capacity];

        public override async ValueTask ReadAsync(NpgsqlBinaryExporter export, int row, CancellationToken cancellationToken)
        {
            if (export.IsNull)
            {
                _buffer[row] = null;
                await export.SkipAsync(cancellationToken);
            }
            else
            {
                // inet and uuid arrive as text (see SelectExpression).
                _buffer[row] = await export.ReadAsync<string>(parse is null ? type : NpgsqlDbType.Text, cancellationToken);
            }
        }

        public override void Write(ColumnWriter column, int count) => WriteBatch(column, _buffer, count);

        public override void Load(ColumnReader column, int count) => _buffer = ReadBatch(column, _buffer, count);

        public override ValueTask WriteAsync(NpgsqlBinaryImporter import, int row, CancellationToken cancellationToken)
            => _buffer[row] is not { } value ? new ValueTask(import.WriteNullAsync(cancellationToken))
                : parse is null ? new ValueTask(import.WriteAsync(value, type, cancellationToken))
                : new ValueTask(import.WriteAsync(parse(value), type, cancellationToken));
    }
}
