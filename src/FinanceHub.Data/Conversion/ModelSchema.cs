using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;

namespace FinanceHub.Data.Conversion;

/// <summary>
/// The tables, keys, column types and defaults of the project's EF model, as the conversion and the baseline need them:
/// the hypertable built beside an old table takes the model's key, a renamed column takes the model's type, and a
/// missing column is added with the model's default. One source, so the conversion can never drift from the migrations.
/// </summary>
internal static class ModelSchema
{
    private static readonly Lazy<IRelationalModel> Relational = new(() =>
    {
        var options = new DbContextOptionsBuilder<FinanceHubDbContext>().UseNpgsql().UseSnakeCaseNamingConvention().Options;
        using var context = new FinanceHubDbContext(options);
        return context.Model.GetRelationalModel();
    });

    /// <summary>A column of the model: its store type, whether it is nullable, and its default as SQL (null if none).</summary>
    public sealed record Column(string Name, string StoreType, bool Nullable, string? DefaultSql);

    /// <summary>The model's table <paramref name="table"/> (schema <c>public</c>), or null when the model has none.</summary>
    public static ITable? FindTable(string table) => Relational.Value.FindTable(table, null);

    /// <summary>The primary key of <paramref name="table"/> in the model: its constraint name and columns in order.</summary>
    public static (string Name, IReadOnlyList<string> Columns)? PrimaryKey(string table)
        => FindTable(table)?.PrimaryKey is { } key ? (key.Name, [.. key.Columns.Select(c => c.Name)]) : null;

    /// <summary>The model's column <paramref name="column"/> of <paramref name="table"/>, or null.</summary>
    public static Column? FindColumn(string table, string column)
        => FindTable(table)?.FindColumn(column) is { } c ? new Column(c.Name, c.StoreType, c.IsNullable, DefaultSql(c)) : null;

    /// <summary>Every column of <paramref name="table"/> in the model.</summary>
    public static IReadOnlyList<Column> Columns(string table)
        => FindTable(table) is { } t ? [.. t.Columns.Select(c => new Column(c.Name, c.StoreType, c.IsNullable, DefaultSql(c)))] : [];

    private static string? DefaultSql(IColumn column) => column.DefaultValueSql ?? column.DefaultValue switch
    {
        null => null,
        bool b => b ? "true" : "false",
        string s => Timescale.SqlIdentifiers.Literal(s),
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        var other => Timescale.SqlIdentifiers.Literal(other.ToString() ?? ""),
    };
}
