using FinanceHub.Data.Entities;

namespace FinanceHub.Data.Timescale;

/// <summary>Keeps the price aggregates exact after rows were written below their watermark (a backfill or a restore).</summary>
internal static class PriceAggregateRefresher
{
    /// <summary>
    /// Refreshes the aggregates over the buckets of [<paramref name="from"/>, <paramref name="to"/>] that they have materialized.
    /// A window that a concurrent refresh keeps busy comes back <see cref="AggregateRefreshStatus.Pending"/>, not as an error.
    /// </summary>
    public static async Task<IReadOnlyList<AggregateRefreshResult>> RefreshTouchedAsync(
        ITimescaleManager timescale, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var refreshed = new List<AggregateRefreshResult>();
        // Rows newer than an aggregate's watermark are read from the raw table anyway; only rows below it need a refresh.
        foreach (var aggregate in await timescale.GetAggregatesAsync(cancellationToken))
        {
            if (!Aggregates.All.Contains(aggregate.View) || aggregate.MaterializedThrough is not { } watermark || from >= watermark)
            {
                continue;
            }

            var width = aggregate.View == Aggregates.Hourly ? TimeSpan.FromHours(1) : TimeSpan.FromDays(1);
            var start = new DateTimeOffset(from.UtcTicks - (from.UtcTicks % width.Ticks), TimeSpan.Zero);
            var end = new DateTimeOffset(to.UtcTicks - (to.UtcTicks % width.Ticks), TimeSpan.Zero) + width;
            refreshed.Add(await timescale.RefreshContinuousAggregateAsync(aggregate.View, start, end < watermark ? end : watermark, cancellationToken));
        }

        return refreshed;
    }
}
