using System.Globalization;
using System.Text.RegularExpressions;
using NpgsqlTypes;

namespace FinanceHub.Data.Querying;

/// <summary>
/// A time-bucket width: a whole number of months (calendar buckets) or a fixed duration. Parses the seed's spellings
/// (<c>1min</c>, <c>5min</c>, <c>15min</c>, <c>30min</c>, <c>1hour</c>, <c>4hour</c>, <c>1day</c>, <c>1week</c>,
/// <c>1month</c>), PostgreSQL-style <c>N unit</c> (<c>1 hour</c>, <c>15 minutes</c>, <c>2 weeks</c>), and
/// <see cref="TimeSpan"/> text (<c>01:00:00</c>).
/// </summary>
public readonly partial record struct BucketWidth
{
    private BucketWidth(int months, TimeSpan duration, string name)
    {
        Months = months;
        Duration = duration;
        Name = name;
    }

    /// <summary>Months, for calendar buckets (then <see cref="Duration"/> is zero).</summary>
    public int Months { get; }

    /// <summary>Fixed duration (then <see cref="Months"/> is zero).</summary>
    public TimeSpan Duration { get; }

    /// <summary>The canonical name (<c>1hour</c>, <c>2 hours</c>).</summary>
    public string Name { get; }

    /// <summary>Whether the width is one day or longer (buckets that can follow a time zone's days).</summary>
    public bool IsDayOrLonger => Months > 0 || Duration >= TimeSpan.FromDays(1);

    /// <summary>1 minute.</summary>
    public static BucketWidth OneMinute { get; } = new(0, TimeSpan.FromMinutes(1), "1min");
    /// <summary>5 minutes.</summary>
    public static BucketWidth FiveMinutes { get; } = new(0, TimeSpan.FromMinutes(5), "5min");
    /// <summary>15 minutes.</summary>
    public static BucketWidth FifteenMinutes { get; } = new(0, TimeSpan.FromMinutes(15), "15min");
    /// <summary>30 minutes.</summary>
    public static BucketWidth ThirtyMinutes { get; } = new(0, TimeSpan.FromMinutes(30), "30min");
    /// <summary>1 hour.</summary>
    public static BucketWidth OneHour { get; } = new(0, TimeSpan.FromHours(1), "1hour");
    /// <summary>4 hours.</summary>
    public static BucketWidth FourHours { get; } = new(0, TimeSpan.FromHours(4), "4hour");
    /// <summary>1 day.</summary>
    public static BucketWidth OneDay { get; } = new(0, TimeSpan.FromDays(1), "1day");
    /// <summary>1 week (buckets start on Monday).</summary>
    public static BucketWidth OneWeek { get; } = new(0, TimeSpan.FromDays(7), "1week");
    /// <summary>1 calendar month.</summary>
    public static BucketWidth OneMonth { get; } = new(1, TimeSpan.Zero, "1month");

    /// <summary>The OHLCV intervals, finest first.</summary>
    public static IReadOnlyList<BucketWidth> OhlcvIntervals { get; } =
        [OneMinute, FiveMinutes, FifteenMinutes, ThirtyMinutes, OneHour, FourHours, OneDay, OneWeek, OneMonth];

    /// <summary>A fixed width.</summary>
    public static BucketWidth FromTimeSpan(TimeSpan duration)
    {
        if (duration <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration, "A bucket width must be a positive duration.");
        }

        return OhlcvIntervals.FirstOrDefault(i => i.Months == 0 && i.Duration == duration) is { Name: not null } known
            ? known
            : new BucketWidth(0, duration, Timescale.Durations.Describe(duration));
    }

    /// <summary>A calendar width of <paramref name="months"/> months.</summary>
    public static BucketWidth FromMonths(int months)
        => months switch
        {
            1 => OneMonth,
            > 1 => new BucketWidth(months, TimeSpan.Zero, $"{months} months"),
            _ => throw new ArgumentOutOfRangeException(nameof(months), months, "A bucket width must be at least one month."),
        };

    /// <summary>Parses a width; an unknown spelling is an <see cref="ArgumentException"/> listing the accepted ones.</summary>
    public static BucketWidth Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = text.Trim();
        if (OhlcvIntervals.FirstOrDefault(i => string.Equals(i.Name, s, StringComparison.OrdinalIgnoreCase)) is { Name: not null } named)
        {
            return named;
        }

        var match = UnitPattern().Match(s);
        if (match.Success)
        {
            var n = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            if (n > 0)
            {
                return match.Groups[2].Value.ToLowerInvariant() switch
                {
                    var u when u.StartsWith("mon", StringComparison.Ordinal) => FromMonths(n),
                    var u when u.StartsWith("min", StringComparison.Ordinal) => FromTimeSpan(TimeSpan.FromMinutes(n)),
                    var u when u.StartsWith('h') => FromTimeSpan(TimeSpan.FromHours(n)),
                    var u when u.StartsWith('d') => FromTimeSpan(TimeSpan.FromDays(n)),
                    var u when u.StartsWith('w') => FromTimeSpan(TimeSpan.FromDays(7 * n)),
                    _ => FromTimeSpan(TimeSpan.FromSeconds(n)),
                };
            }
        }

        if (s.Contains(':', StringComparison.Ordinal) && TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out var span) && span > TimeSpan.Zero)
        {
            return FromTimeSpan(span);
        }

        throw new ArgumentException(
            $"Unknown bucket width '{text}'. Use one of {string.Join(", ", OhlcvIntervals.Select(i => i.Name))}, " +
            "'N minutes|hours|days|weeks|months' (e.g. '2 hours'), or a TimeSpan such as '00:15:00'.", nameof(text));
    }

    /// <summary>The width as a PostgreSQL interval parameter.</summary>
    public NpgsqlInterval ToInterval() => new(Months, 0, Duration.Ticks / 10);

    /// <inheritdoc />
    public override string ToString() => Name;

    [GeneratedRegex(@"^(\d+)\s*(seconds?|secs?|minutes?|mins?|hours?|h|days?|d|weeks?|w|months?|mons?)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex UnitPattern();
}
