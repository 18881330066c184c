using System.Globalization;
using FinanceHub.Data.Querying;
using NodaTime;
using NodaTime.Text;

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

    /// <summary>
    /// An instant: with an explicit offset (<c>2026-01-01T00:00:00Z</c>), or a date or a local time read in
    /// <paramref name="zone"/> (an IANA name; UTC when not given): <c>2026-01-01</c> is the start of that day there
    /// (midnight, or the first moment of the day where a clock change skips midnight), <c>2026-01-01T09:30</c> that wall time.
    /// </summary>
    public static DateTimeOffset Instant(string text, string option, string? zone = null)
    {
        if (HasOffset(text) && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var instant))
        {
            return instant;
        }

        var timeZone = Zone(zone ?? "UTC", "--time-zone");
        if (LocalDatePattern.Iso.Parse(text) is { Success: true } date)
        {
            return date.Value.AtStartOfDayInZone(timeZone).ToDateTimeOffset();
        }

        foreach (var pattern in new[] { LocalDateTimePattern.GeneralIso, LocalDateTimePattern.CreateWithInvariantCulture("uuuu-MM-dd'T'HH:mm"),
                     LocalDateTimePattern.CreateWithInvariantCulture("uuuu-MM-dd HH:mm:ss"), LocalDateTimePattern.CreateWithInvariantCulture("uuuu-MM-dd HH:mm") })
        {
            if (pattern.Parse(text) is { Success: true } local)
            {
                var mapping = timeZone.MapLocal(local.Value);
                return mapping.Count == 1
                    ? mapping.Single().ToDateTimeOffset()
                    : throw new CliUsageException($"{option}: {text} {(mapping.Count == 0 ? "does not exist" : "occurs twice")} in {timeZone.Id} (a clock change); give the offset, e.g. {text}{(mapping.Count == 0 ? "" : mapping.First().ToDateTimeOffset().ToString("zzz", CultureInfo.InvariantCulture))}.");
            }
        }

        throw new CliUsageException(
            $"{option}: '{text}' is not a date or an instant; write e.g. 2026-01-31 (the start of that day in --time-zone, else UTC), 2026-01-31T14:00:00Z or 2026-01-31T09:00:00-05:00.");
    }

    /// <summary>An IANA time zone by name, or a usage error that says so.</summary>
    public static DateTimeZone Zone(string name, string option)
        => DateTimeZoneProviders.Tzdb.GetZoneOrNull(name)
           ?? throw new CliUsageException($"{option}: '{name}' is not an IANA time zone; write e.g. UTC, Europe/London or America/New_York.");

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
