using System.Globalization;

namespace FinanceHub.Data.Timescale;

/// <summary>Quoting for the few places where DDL cannot take parameters. Names are validated against the catalog first.</summary>
public static class SqlIdentifiers
{
    /// <summary><paramref name="identifier"/> as a quoted identifier (<c>"a""b"</c>), whatever it contains.</summary>
    public static string Quote(string identifier)
    {
        ArgumentException.ThrowIfNullOrEmpty(identifier);
        if (identifier.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("An identifier cannot contain a NUL character.", nameof(identifier));
        }

        return "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    /// <summary><paramref name="value"/> as a string literal (<c>'it''s'</c>); standard_conforming_strings is on since PostgreSQL 9.1.</summary>
    public static string Literal(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("A string literal cannot contain a NUL character.", nameof(value));
        }

        return "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";
    }

    /// <summary>A <see cref="TimeSpan"/> as an interval literal in whole microseconds (digits only, nothing to escape).</summary>
    public static string Interval(TimeSpan value)
        => $"INTERVAL '{(value.Ticks / 10).ToString(CultureInfo.InvariantCulture)} microseconds'";
}
