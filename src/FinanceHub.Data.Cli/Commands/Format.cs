using System.Globalization;

namespace FinanceHub.Data.Cli.Commands;

/// <summary>Formatting for people.</summary>
internal static class Format
{
    /// <summary>A line for each aggregate refresh that is pending behind a concurrent refresh (none when all were done).</summary>
    public static IEnumerable<string> PendingRefreshes(IReadOnlyList<Timescale.AggregateRefreshResult>? refreshes)
        => (refreshes ?? []).Where(r => r.Status == Timescale.AggregateRefreshStatus.Pending).Select(r =>
            r.Detail is { } detail && detail.StartsWith("refreshing after the commit failed", StringComparison.Ordinal)
                ? $"warning: the rows are committed, but {r.View} is not refreshed over them yet ({detail}); the next 'financehub-data maintain', " +
                  "or this command run again, completes it. Until then its candles there may lack them."
                : $"note: {r.View} was not refreshed over the loaded range because a concurrent refresh held it ({r.Detail}); " +
                  "the rows are committed and the window is recorded: the next 'financehub-data maintain' refreshes it.");

    public static string Bytes(long? bytes) => bytes switch
    {
        null => "-",
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.#} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.#} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):0.##} GiB"),
    };

    public static string Time(DateTimeOffset? time) => time is { } t ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) : "-";

    public static string Ratio(double? ratio) => ratio is { } r ? string.Create(CultureInfo.InvariantCulture, $"{r:0.0}x") : "-";

    public static string Escape(string? text) => Spectre.Console.Markup.Escape(text ?? "-");
}
