using System.Reflection;

namespace FinanceHub.Data.Migrations.Infrastructure;

/// <summary>The SQL files of <c>migrations-sql/</c>, embedded in this assembly under their exact relative paths.</summary>
public static class SqlResources
{
    private static readonly Assembly Assembly = typeof(SqlResources).Assembly;

    /// <summary>The text of <c>migrations-sql/{path}</c>.</summary>
    /// <exception cref="InvalidOperationException">No such file was embedded.</exception>
    public static string Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var name = "migrations-sql/" + path;
        using var stream = Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException(
                $"The SQL file '{name}' is not embedded in {Assembly.GetName().Name}. Check that it exists under migrations-sql/ " +
                $"and that the project embeds migrations-sql/**/*.sql. Embedded: {string.Join(", ", Names)}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Every embedded SQL file, by its path relative to <c>migrations-sql/</c>.</summary>
    public static IReadOnlyList<string> Names { get; } =
        [.. Assembly.GetManifestResourceNames().Where(n => n.StartsWith("migrations-sql/", StringComparison.Ordinal))
            .Select(n => n["migrations-sql/".Length..]).Order(StringComparer.Ordinal)];
}
