using FinanceHub.Data.Entities;

namespace FinanceHub.Data.Timescale;

/// <summary>
/// Keeps the price aggregates exact after a load or a restore: every bucket below an aggregate's watermark must be
/// materialized, because the repository (and a continuous aggregate's real-time view) reads those buckets from the
/// aggregate only.
/// </summary>
internal static class PriceAggregateRefresher
{
    /// <summary>The project's refresh policies stop this far before now (end_offset in migrations-sql/0200).</summary>
    private static readonly TimeSpan PolicyEndOffset = TimeSpan.FromHours(1);

    /// <summary>
    /// Refreshes the aggregates over what rows written in [<paramref name="from"/>, <paramref name="to"/>] need:
    /// <list type="bullet">
    /// <item>rows below the watermark (a backfill): their buckets, up to the watermark;</item>
    /// <item>with a watermark below the reach of the refresh policy (nothing materialized yet, a fresh database loaded with
    /// history): everything from the rows up to where the policy stops. Otherwise the policy's first run would move the
    /// watermark past rows it never materializes, and their candles would vanish.</item>
    /// </list>
    /// Rows inside the policy's window and above the watermark are left to the policy. A window that a concurrent refresh
    /// keeps busy comes back <see cref="AggregateRefreshStatus.Pending"/>, not as an error.
    /// </summary>
    public static async Task<IReadOnlyList<AggregateRefreshResult>> RefreshTouchedAsync(
        ITimescaleManager timescale, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var refreshed = new List<AggregateRefreshResult>();
        var now = DateTimeOffset.UtcNow;
        foreach (var aggregate in await timescale.GetAggregatesAsync(cancellationToken))
        {
            if (!Aggregates.All.Contains(aggregate.View))
            {
                continue;
            }

            var width = aggregate.View == Aggregates.Hourly ? TimeSpan.FromHours(1) : TimeSpan.FromDays(1);
            var start = Floor(from, width);
            DateTimeOffset end;
            var watermark = aggregate.MaterializedThrough;
            if (aggregate.RefreshReach is { } reach && reach != TimeSpan.MaxValue && (watermark is null || watermark < now - reach))
            {
                // The policy will not reach below now - reach: materialize from the rows (or the watermark) up to where it stops.
                start = watermark is { } w && w < from ? Floor(w, width) : start;
                end = Floor(now - PolicyEndOffset, width);
            }
            else if (watermark is { } w && from < w)
            {
                var last = Floor(to, width) + width;
                end = last < w ? last : w;
            }
            else
            {
                continue;
            }

            if (end - start >= width)
            {
                refreshed.Add(await timescale.RefreshContinuousAggregateAsync(aggregate.View, start, end, cancellationToken));
            }
        }

        return refreshed;
    }

    private static DateTimeOffset Floor(DateTimeOffset t, TimeSpan width) => new(t.UtcTicks - (t.UtcTicks % width.Ticks), TimeSpan.Zero);
}
