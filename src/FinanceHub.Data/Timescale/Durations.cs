using System.Globalization;

namespace FinanceHub.Data.Timescale;

/// <summary>Durations as people and PostgreSQL write them: <c>730 days</c>, <c>1 hour</c>, <c>30 minutes</c>.</summary>
public static class Durations
{
    /// <summary>The largest whole unit that represents <paramref name="value"/> exactly, e.g. <c>7 days</c>; mixed values as <c>1 day 2 hours</c>.</summary>
    public static string Describe(TimeSpan value)
    {
        if (value == TimeSpan.Zero)
        {
            return "0 seconds";
        }

        var parts = new List<string>();
        var rest = value.Duration();
        foreach (var (unit, size) in Units)
        {
            var count = rest.Ticks / size.Ticks;
            if (count > 0)
            {
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"{count} {unit}{(count == 1 ? "" : "s")}"));
                rest -= TimeSpan.FromTicks(count * size.Ticks);
            }
        }

        if (rest > TimeSpan.Zero)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{rest.Ticks / 10} microseconds"));
        }

        return (value < TimeSpan.Zero ? "-" : "") + string.Join(' ', parts);
    }

    private static readonly (string Unit, TimeSpan Size)[] Units =
    [
        ("day", TimeSpan.FromDays(1)), ("hour", TimeSpan.FromHours(1)), ("minute", TimeSpan.FromMinutes(1)), ("second", TimeSpan.FromSeconds(1)),
    ];
}
