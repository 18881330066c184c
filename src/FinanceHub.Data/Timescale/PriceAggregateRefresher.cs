using FinanceHub.Data.Entities;
using FinanceHub.Data.Querying;

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
        var aggregates = (await timescale.GetAggregatesAsync(cancellationToken)).ToDictionary(a => a.View);
        // Parents first, then the ladder's rungs, which roll up what their parent holds once it is refreshed. On the Apache
        // edition a parent's refresh refreshes its rungs in the same transaction.
        var order = Aggregates.All.Select(v => (View: v, Parent: (string?)null, Width: v == Aggregates.Hourly ? BucketWidth.OneHour : BucketWidth.OneDay))
            .Concat(Aggregates.Ladder.Select(r => (r.View, (string?)r.Parent, r.Width)));
        foreach (var (view, parent, width) in order)
        {
            if (!aggregates.TryGetValue(view, out var aggregate) || (parent is not null && aggregate.Kind != "continuous aggregate"))
            {
                continue;
            }

            if (parent is not null && refreshed.Any(r => r.View == parent && r.Status == AggregateRefreshStatus.Pending))
            {
                // Its parent's window waits in financehub.pending_refreshes; the maintenance run that refreshes it refreshes
                // the rungs over it too. Refreshed now, the rung would roll up the parent's rows without the new ones.
                continue;
            }

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
                var last = Next(Floor(to, width), width);
                end = last < w ? last : w;
            }
            else
            {
                continue;
            }

            if (Next(start, width) <= end)
            {
                refreshed.Add(await timescale.RefreshContinuousAggregateAsync(view, start, end, cancellationToken));
            }
        }

        return refreshed;
    }

    /// <summary>The rungs of the ladder over <paramref name="view"/> (a parent aggregate, its name qualified or not) and their windows covering [<paramref name="start"/>, <paramref name="end"/>).</summary>
    public static IEnumerable<(string View, DateTimeOffset? Start, DateTimeOffset? End)> RungWindows(string view, DateTimeOffset? start, DateTimeOffset? end)
    {
        var name = view[(view.LastIndexOf('.') + 1)..].Trim('"');
        foreach (var rung in Aggregates.Ladder.Where(r => r.Parent == name))
        {
            yield return (rung.View, start is { } s ? Floor(s, rung.Width) : null, end is { } e ? Next(Floor(e.AddTicks(-1), rung.Width), rung.Width) : null);
        }
    }

    /// <summary>The start of the UTC bucket of <paramref name="width"/> that holds <paramref name="t"/> (weeks start on Mondays, as time_bucket's do).</summary>
    internal static DateTimeOffset Floor(DateTimeOffset t, BucketWidth width)
    {
        var utc = t.UtcDateTime;
        return width.Months > 0
            ? new DateTimeOffset(utc.Year, (((utc.Month - 1) / width.Months) * width.Months) + 1, 1, 0, 0, 0, TimeSpan.Zero)
            // DateTime's ticks count from Monday 0001-01-01, so whole weeks of ticks start on Mondays.
            : new DateTimeOffset(utc.Ticks - (utc.Ticks % width.Duration.Ticks), TimeSpan.Zero);
    }

    /// <summary>The start of the first whole UTC bucket of <paramref name="width"/> at or after <paramref name="t"/>.</summary>
    internal static DateTimeOffset Ceiling(DateTimeOffset t, BucketWidth width) => Floor(t, width) is var f && f == t ? f : Next(f, width);

    private static DateTimeOffset Next(DateTimeOffset bucket, BucketWidth width) => width.Months > 0 ? bucket.AddMonths(width.Months) : bucket + width.Duration;
}
