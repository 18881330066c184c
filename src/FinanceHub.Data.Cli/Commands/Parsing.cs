using System.Globalization;
using FinanceHub.Data.Querying;

namespace FinanceHub.Data.Cli.Commands;

/// <summary>Command-line values: durations and instants.</summary>
internal static class Parsing
{
    /// <summary>A duration: <c>30 days</c>, <c>2 hours</c>, <c>1day</c>, <c>00:30:00</c>. Months are not fixed durations and are refused.</summary>
    public static TimeSpan Duration(string text, string option)
    {
        BucketWidth width;
        try
        {
            width = BucketWidth.Parse(text);
        }
        catch (ArgumentException)
        {
            throw new CliUsageException($"{option}: '{text}' is not a duration; write e.g. '30 days', '12 hours', '90 minutes' or '00:30:00'.");
        }

        return width.Months == 0 ? width.Duration : throw new CliUsageException($"{option}: months have no fixed length; give days instead (e.g. '30 days').");
    }

    /// <summary>An instant with an explicit offset (<c>2026-01-01T00:00:00Z</c>), or a date (<c>2026-01-01</c>, midnight UTC).</summary>
    public static DateTimeOffset Instant(string text, string option)
    {
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            return new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        }

        if (HasOffset(text) && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var instant))
        {
            return instant;
        }

        throw new CliUsageException(
            $"{option}: '{text}' is not an instant with an offset; write e.g. 2026-01-31, 2026-01-31T14:00:00Z or 2026-01-31T09:00:00-05:00.");
    }

    /// <summary>Whether a timestamp text says its offset (Z or ±hh:mm); a time without one is ambiguous.</summary>
    public static bool HasOffset(string text)
    {
        var t = text.Trim();
        if (t.EndsWith('Z') || t.EndsWith('z'))
        {
            return true;
        }

        var timeStart = t.IndexOfAny(['T', ' ']);
        if (timeStart < 0)
        {
            return false;
        }

        var time = t[timeStart..];
        return time.LastIndexOfAny(['+', '-']) > 0;
    }
}
