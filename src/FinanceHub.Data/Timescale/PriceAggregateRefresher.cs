using FinanceHub.Data.Entities;
using FinanceHub.Data.Infrastructure;
using FinanceHub.Data.Querying;
using FinanceHub.Data.Timescale.Catalog;
using Npgsql;

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
    /// keeps busy comes back <see cref="AggregateRefreshStatus.Pending"/>, not as an error. With <paramref name="only"/>, that
    /// aggregate alone.
    /// </summary>
    public static async Task<IReadOnlyList<AggregateRefreshResult>> RefreshTouchedAsync(
        ITimescaleManager timescale, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken, string? only = null)
    {
        // Only the aggregates over the price rows: refreshing one refreshes the candle ladder's rungs over it (see RefreshRungsAsync).
        var refreshed = new List<AggregateRefreshResult>();
        var now = DateTimeOffset.UtcNow;
        foreach (var aggregate in await timescale.GetAggregatesAsync(cancellationToken))
        {
            if (!Aggregates.All.Contains(aggregate.View) || (only is not null && aggregate.View != only))
            {
                continue;
            }

            var width = aggregate.View == Aggregates.Hourly ? BucketWidth.OneHour : BucketWidth.OneDay;
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
                refreshed.Add(await timescale.RefreshContinuousAggregateAsync(aggregate.View, start, end, cancellationToken));
            }
        }

        return refreshed;
    }

    /// <summary>
    /// Community edition: after a refresh of <paramref name="parent"/> (an aggregate over the price rows, its name bare or
    /// qualified) over [<paramref name="start"/>, <paramref name="end"/>), refreshes the candle ladder's rungs over it: the
    /// same window widened to their whole candles, but never past the parent's watermark or an hour before now, rounded
    /// down to a whole candle: a rung never materializes a candle that its parent has not finished or that has not ended
    /// (those are read from the parent). A rung's
    /// refresh that a concurrent one keeps busy is recorded in <c>financehub.pending_refreshes</c>, like its parent's.
    /// (On the Apache edition <c>financehub.refresh_materialized_view</c> refreshes the rungs itself.)
    /// </summary>
    public static async Task RefreshRungsAsync(
        NpgsqlDataSource dataSource, TimescaleCatalog catalog, ConcurrentRefreshRetry retry, string parent, DateTimeOffset? start, DateTimeOffset? end,
        CancellationToken cancellationToken)
    {
        var name = parent[(parent.LastIndexOf('.') + 1)..].Trim('"');
        var rungs = Aggregates.Ladder.Where(r => r.Parent == name).ToList();
        if (rungs.Count == 0 || await catalog.GetWatermarkAsync(parent, cancellationToken) is not { } watermark)
        {
            return;
        }

        foreach (var rung in rungs)
        {
            if (!await dataSource.ScalarAsync<bool>("SELECT to_regclass($1) IS NOT NULL", [rung.View], cancellationToken))
            {
                continue;
            }

            var from = start is { } s ? Floor(s, rung.Width) : (DateTimeOffset?)null;
            // Whole candles only: none past the parent's watermark, and none that has not ended (as the policies, whose
            // windows end an hour before now). A refresh without an end materializes the parent's current bucket. But
            // candles the rung already holds are always recomputed: its own policy, which knows nothing of the parent's
            // watermark, may have stored one past it (after a gap in the data).
            var ended = DateTimeOffset.UtcNow - PolicyEndOffset;
            var last = Floor(watermark < ended ? watermark : ended, rung.Width);
            if (await catalog.GetWatermarkAsync(rung.View, cancellationToken) is { } held && held > last)
            {
                last = held;
            }

            var to = end is { } e && Next(Floor(e.AddTicks(-1), rung.Width), rung.Width) is var wide && wide < last ? wide : last;
            if (from is { } f && Next(f, rung.Width) > to)
            {
                continue;
            }

            var (_, pending) = await retry.ExecuteAsync(ct => dataSource.ExecuteAsync(
                "CALL refresh_continuous_aggregate($1::regclass, $2, $3)", [rung.View, NpgsqlCommands.TimestampTz(from), NpgsqlCommands.TimestampTz(to)], ct),
                cancellationToken);
            if (pending is not null)
            {
                await dataSource.ExecuteAsync(
                    "INSERT INTO financehub.pending_refreshes (view_name, range_start, range_end, reason) VALUES ($1, $2, $3, $4)",
                    [rung.View, NpgsqlCommands.TimestampTz(from), NpgsqlCommands.TimestampTz(to), pending], cancellationToken);
            }
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
