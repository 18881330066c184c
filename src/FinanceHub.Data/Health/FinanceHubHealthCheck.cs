using FinanceHub.Data.Entities;
using FinanceHub.Data.Infrastructure;
using FinanceHub.Data.Timescale;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FinanceHub.Data.Health;

/// <summary>Thresholds of <see cref="FinanceHubHealthCheck"/>.</summary>
public sealed class FinanceHubHealthCheckOptions
{
    /// <summary>
    /// How far an aggregate's watermark may trail the newest price before it counts as stale. Default: per aggregate, two
    /// schedule intervals of its refresh policy plus one bucket, at least 3 hours (hourly) and 2 days (daily).
    /// </summary>
    public TimeSpan? MaxAggregateLag { get; set; }

    /// <summary>Archives started but not yet verified (or whose chunks are not yet dropped) above this count are a backlog (default 0).</summary>
    public int MaxArchiveBacklog { get; set; }

    /// <summary>Pending refresh windows (a refresh met a concurrent one) above this count are a backlog (default 0).</summary>
    public int MaxPendingRefreshes { get; set; }
}

/// <summary>
/// ASP.NET Core health check of the FinanceHub database: the server reachable and TimescaleDB loaded (else
/// <see cref="HealthStatus.Unhealthy"/>); pending migrations, failing jobs or maintenance policies, stale price
/// aggregates, an archive or refresh backlog (each <see cref="HealthStatus.Degraded"/>). Every finding is in the result's
/// data under its own key, and the description names the reasons. Register with
/// <c>services.AddHealthChecks().AddFinanceHubData()</c>.
/// </summary>
public sealed class FinanceHubHealthCheck(
    NpgsqlDataSource dataSource, ITimescaleManager timescale, IServiceScopeFactory scopes, IOptions<FinanceHubHealthCheckOptions> options) : IHealthCheck
{
    /// <inheritdoc />
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>();
        var server = await timescale.GetHealthAsync(cancellationToken);
        data["reachable"] = server.Reachable;
        if (!server.Reachable)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"the database cannot be reached: {server.Error}", data: data);
        }

        data["serverVersion"] = server.ServerVersion!;
        data["timescaledb"] = server.ExtensionVersion ?? "not installed";
        data["edition"] = server.Edition.ToString();
        if (!server.ExtensionInstalled)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, server.Error, data: data);
        }

        var reasons = new List<string>();
        if (server.UpdateDue)
        {
            data["extensionUpdateDue"] = server.AvailableVersion!;
            reasons.Add($"TimescaleDB {server.AvailableVersion} is on the server but the database runs {server.ExtensionVersion}");
        }

        await using (var scope = scopes.CreateAsyncScope())
        {
            var pending = (await scope.ServiceProvider.GetRequiredService<FinanceHubDbContext>().Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
            data["pendingMigrations"] = pending;
            if (pending.Count > 0)
            {
                reasons.Add($"{pending.Count} migration(s) not applied ({string.Join(", ", pending)})");
            }
        }

        // One round trip for what the rest needs: which project tables exist, the newest price, the backlogs.
        var state = (await dataSource.QueryAsync(
            """
            SELECT to_regclass('financehub.maintenance_policies') IS NOT NULL,
                   (SELECT max(date) FROM asset_prices_historic),
                   CASE WHEN to_regclass('financehub.archives') IS NOT NULL
                        THEN (SELECT count(*) FROM financehub.archives WHERE status = 'Exported' OR last_error IS NOT NULL) END,
                   CASE WHEN to_regclass('financehub.pending_refreshes') IS NOT NULL THEN (SELECT count(*) FROM financehub.pending_refreshes) END
            """, [], r => (Migrated: r.GetBoolean(0), Newest: r.IsDBNull(1) ? (DateTimeOffset?)null : r.GetFieldValue<DateTimeOffset>(1),
                Archives: r.IsDBNull(2) ? (long?)null : r.GetInt64(2), Refreshes: r.IsDBNull(3) ? (long?)null : r.GetInt64(3)), cancellationToken))[0];
        if (state.Migrated)
        {
            var jobs = await timescale.GetJobsAsync(cancellationToken);
            var failing = jobs.Where(j => j.Enabled && string.Equals(j.LastRunStatus, "Failed", StringComparison.OrdinalIgnoreCase))
                .Select(j => $"{j.Kind} {j.Target} ({j.Id}): {j.LastError ?? "failed"}").ToList();
            data["failingJobs"] = failing;
            if (failing.Count > 0)
            {
                reasons.Add($"{failing.Count} job(s) failed on their last run: {string.Join("; ", failing)}");
            }

            await CheckAggregatesAsync(state.Newest, jobs, data, reasons, cancellationToken);
            CheckBacklog(state.Archives, state.Refreshes, data, reasons);
        }

        return reasons.Count == 0
            ? HealthCheckResult.Healthy($"TimescaleDB {server.ExtensionVersion} ({server.Edition}) on PostgreSQL {server.ServerVersion}", data)
            : HealthCheckResult.Degraded(string.Join("; ", reasons), data: data);
    }

    private async Task CheckAggregatesAsync(
        DateTimeOffset? newest, IReadOnlyList<JobInfo> jobs, Dictionary<string, object> data, List<string> reasons, CancellationToken cancellationToken)
    {
        var lags = new Dictionary<string, string>();
        foreach (var aggregate in await timescale.GetAggregatesAsync(cancellationToken))
        {
            if (Aggregates.Ladder.FirstOrDefault(r => r.View == aggregate.View) is { } rung)
            {
                await CheckRungAsync(rung, aggregate, newest, jobs, lags, reasons, cancellationToken);
                continue;
            }

            // Trailing behind the newest price, not behind the clock: a quiet market is not a stale aggregate.
            TimeSpan? lag = newest is not { } n ? TimeSpan.Zero
                : aggregate.MaterializedThrough is { } through ? (through < n ? n - through : TimeSpan.Zero)
                : null; // rows, and nothing materialized
            var policy = jobs.FirstOrDefault(j => j.Kind.Contains("refresh", StringComparison.OrdinalIgnoreCase) && j.Target.EndsWith(aggregate.View, StringComparison.Ordinal));
            var threshold = options.Value.MaxAggregateLag ?? DefaultLag(aggregate.View, policy);
            lags[aggregate.View] = lag is { } l ? Durations.Describe(l) : "never materialized";
            if (lag is null || lag > threshold)
            {
                reasons.Add($"{aggregate.View} is stale: materialized through {aggregate.MaterializedThrough?.ToString("O") ?? "nothing"}, " +
                            $"{(lag is { } behind ? Durations.Describe(behind) : "never")} behind the newest price (threshold {Durations.Describe(threshold)})");
            }
        }

        data["aggregateLag"] = lags;
    }

    /// <summary>
    /// A rung of the candle ladder holds whole candles only (never the one the newest price is in), so it trails the newest
    /// price by up to a week or a month when all is well. It is stale when a candle that has ended, and has prices, is not
    /// materialized some time after its end: two schedule intervals of its own policy plus its parent's threshold (the
    /// parent materializes first).
    /// </summary>
    private async Task CheckRungAsync(
        LadderRung rung, AggregateInfo aggregate, DateTimeOffset? newest, IReadOnlyList<JobInfo> jobs, Dictionary<string, string> lags, List<string> reasons,
        CancellationToken cancellationToken)
    {
        if (newest is not { } n)
        {
            lags[rung.View] = Durations.Describe(TimeSpan.Zero);
            return;
        }

        // The last ended candle with prices: the rung's watermark is due to reach its end.
        var current = PriceAggregateRefresher.Floor(n, rung.Width);
        var lastEnded = await dataSource.ScalarAsync<DateTime?>("SELECT max(date) FROM asset_prices_historic WHERE date < $1", [current.UtcDateTime], cancellationToken);
        if (lastEnded is not { } last)
        {
            lags[rung.View] = Durations.Describe(TimeSpan.Zero);
            return;
        }

        var due = PriceAggregateRefresher.Ceiling(new DateTimeOffset(last, TimeSpan.Zero).AddTicks(1), rung.Width);
        var behind = aggregate.MaterializedThrough is { } through ? (through < due ? due - through : TimeSpan.Zero) : (TimeSpan?)null;
        lags[rung.View] = behind is { } b ? Durations.Describe(b) : "never materialized";
        var own = Policy(rung.View);
        var threshold = options.Value.MaxAggregateLag
            ?? DefaultLag(rung.Parent, Policy(rung.Parent)) + (own is not null && TryParseInterval(own.Schedule, out var every) ? every * 2 : TimeSpan.FromHours(2));
        if (behind is not { } late || late > TimeSpan.Zero)
        {
            var overdue = DateTimeOffset.UtcNow - due;
            if (overdue > threshold)
            {
                reasons.Add($"{rung.View} is stale: materialized through {aggregate.MaterializedThrough?.ToString("O") ?? "nothing"}, " +
                            $"its candles up to {due:O} ended {Durations.Describe(overdue)} ago (threshold {Durations.Describe(threshold)})");
            }
        }

        JobInfo? Policy(string view)
            => jobs.FirstOrDefault(j => j.Kind.Contains("refresh", StringComparison.OrdinalIgnoreCase) && j.Target.EndsWith(view, StringComparison.Ordinal));
    }

    /// <summary>Two schedule intervals and one bucket of the aggregate's refresh policy, at least 3 hours (hourly) or 2 days (daily).</summary>
    private static TimeSpan DefaultLag(string view, JobInfo? policy)
    {
        var (bucket, floor) = view.EndsWith("daily", StringComparison.Ordinal) ? (TimeSpan.FromDays(1), TimeSpan.FromDays(2)) : (TimeSpan.FromHours(1), TimeSpan.FromHours(3));
        return policy is not null && TryParseInterval(policy.Schedule, out var every) && (every * 2) + bucket > floor ? (every * 2) + bucket : floor;
    }

    private static bool TryParseInterval(string text, out TimeSpan value)
    {
        try
        {
            value = Querying.BucketWidth.Parse(text).Duration;
            return value > TimeSpan.Zero;
        }
        catch (ArgumentException)
        {
            value = default;
            return false;
        }
    }

    private void CheckBacklog(long? archives, long? refreshes, Dictionary<string, object> data, List<string> reasons)
    {
        if (archives is { } unfinished)
        {
            // Exported but never verified, or with an error.
            data["archiveBacklog"] = unfinished;
            if (unfinished > options.Value.MaxArchiveBacklog)
            {
                reasons.Add($"{unfinished} archive(s) exported but not verified, or with an error ('financehub-data archives verify' shows them)");
            }
        }

        if (refreshes is { } pending)
        {
            data["pendingRefreshes"] = pending;
            if (pending > options.Value.MaxPendingRefreshes)
            {
                reasons.Add($"{pending} aggregate refresh window(s) pending ('financehub-data maintain' completes them)");
            }
        }
    }
}
