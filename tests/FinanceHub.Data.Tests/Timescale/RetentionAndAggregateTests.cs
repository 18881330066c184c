using FinanceHub.Data.Tests.Infrastructure;
using FinanceHub.Data.Timescale.Maintenance;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace FinanceHub.Data.Tests.Timescale;

/// <summary>Retention drops raw chunks; the OHLCV aggregates must keep what those chunks contributed.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class RetentionAndAggregateTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string DailyFromRawSql = """
        SELECT asset_id, time_bucket('1 day', date) AS bucket, first(open, date), max(high), min(low), last(close, date), sum(volume), count(*)
        FROM asset_prices_historic GROUP BY 1, 2 ORDER BY 1, 2
        """;

    private const string DailyViewSql = """
        SELECT asset_id, bucket, open, high, low, close, volume, trade_count FROM asset_prices_daily ORDER BY 1, 2
        """;

    [Fact]
    public async Task Emulated_retention_drops_old_chunks_and_the_daily_aggregate_keeps_their_candles_on_apache_edition()
    {
        fixture.RequireApache();
        var (_, dataSource) = await fixture.CreateDatabaseAsync("retention_apache", migrate: true);
        await using var _ = dataSource;
        var expected = await SeedOldAndRecentPricesAsync(dataSource);

        var results = await Runner(dataSource).RunDueAsync(force: true, Ct);

        Assert.All(results, r => Assert.Equal(MaintenanceOutcome.Succeeded, r.Outcome));
        Assert.Contains(results, r => r.Policy == "retention:asset_prices_historic" && !r.Detail.StartsWith("0 ", StringComparison.Ordinal));
        Assert.Equal(0L, await dataSource.ScalarAsync<long>(
            "SELECT count(*) FROM asset_prices_historic WHERE date < now() - interval '730 days' - interval '7 days'"));
        Assert.Equal(expected, await Rows(dataSource, DailyViewSql));

        // A second refresh (the next scheduled run) recomputes the view from what is left and still loses nothing.
        await Runner(dataSource).RunDueAsync(force: true, Ct);
        Assert.Equal(expected, await Rows(dataSource, DailyViewSql));
    }

    [Fact]
    public async Task Native_retention_job_drops_old_chunks_and_the_continuous_aggregates_keep_their_candles_on_community_edition()
    {
        fixture.RequireCommunity();
        var (_, dataSource) = await fixture.CreateDatabaseAsync("retention_community", migrate: true);
        await using var _ = dataSource;
        var expected = await SeedOldAndRecentPricesAsync(dataSource);
        await dataSource.ExecuteAsync("CALL refresh_continuous_aggregate('asset_prices_daily', NULL, now() - interval '1 day')");

        // Retention first, then the refresh policies, as the scheduler would over time.
        var results = await Runner(dataSource).RunDueAsync(force: true, Ct);

        Assert.Contains(results, r => r.Native && r.Kind == "retention" && r.Target == "asset_prices_historic");
        Assert.All(results, r => Assert.Equal(MaintenanceOutcome.Succeeded, r.Outcome));
        Assert.Equal(0L, await dataSource.ScalarAsync<long>(
            "SELECT count(*) FROM asset_prices_historic WHERE date < now() - interval '730 days' - interval '7 days'"));
        Assert.Equal(expected, await Rows(dataSource, DailyViewSql));
    }

    [Fact]
    public async Task Policies_run_when_due_record_their_outcome_and_a_failure_names_the_error()
    {
        fixture.RequireApache();
        var (_, dataSource) = await fixture.CreateDatabaseAsync("policies", migrate: true);
        await using var _ = dataSource;
        await dataSource.ExecuteAsync(
            """
            INSERT INTO financehub.maintenance_policies (name, kind, target, schedule_interval, enabled, next_run_at)
            VALUES ('refresh:missing_view', 'Refresh', 'missing_view', interval '1 hour', true, now())
            """);
        var runner = Runner(dataSource);

        var first = await runner.RunDueAsync(cancellationToken: Ct);
        var second = await runner.RunDueAsync(cancellationToken: Ct);

        Assert.Equal(6, first.Count); // 3 retention + 2 refresh + the broken one, all due right after migrating
        var failed = Assert.Single(first, r => r.Outcome == MaintenanceOutcome.Failed);
        Assert.Equal("refresh:missing_view", failed.Policy);
        Assert.Contains("missing_view", failed.Detail, StringComparison.Ordinal);
        Assert.Empty(second); // nothing is due again before its schedule interval
        var policies = await runner.ListPoliciesAsync(Ct);
        Assert.Contains(policies, p => p.Name == "refresh:missing_view" && p.LastRunStatus == "Failed" && p.LastError!.Contains("missing_view", StringComparison.Ordinal));
        Assert.All(policies.Where(p => p.Name != "refresh:missing_view"), p => Assert.Equal("Success", p.LastRunStatus));
        Assert.All(policies, p => Assert.True(p.NextRunAt > DateTimeOffset.UtcNow));
    }

    private static MaintenanceRunner Runner(NpgsqlDataSource dataSource)
        => new(dataSource, TimeProvider.System, NullLogger<MaintenanceRunner>.Instance);

    /// <summary>Hourly prices for 100 days ending 700 days ago (partly past the 730-day retention) and for the last 10 days.</summary>
    private static async Task<List<object?[]>> SeedOldAndRecentPricesAsync(NpgsqlDataSource dataSource)
    {
        var btc = await dataSource.InsertAssetAsync("BTC");
        var eth = await dataSource.InsertAssetAsync("ETH");
        var today = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero);
        foreach (var asset in new[] { btc, eth })
        {
            await dataSource.InsertPricesAsync(asset, today.AddDays(-800), today.AddDays(-700), TimeSpan.FromHours(1));
            await dataSource.InsertPricesAsync(asset, today.AddDays(-10), today.AddDays(-1), TimeSpan.FromHours(1));
        }

        Assert.True(await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic WHERE date < now() - interval '740 days'") > 0);
        return await Rows(dataSource, DailyFromRawSql);
    }

    private static async Task<List<object?[]>> Rows(NpgsqlDataSource dataSource, string sql)
        => [.. (await dataSource.QueryAsync(sql)).Select(r => r.Select(v => v is long or int ? Convert.ToInt64(v) : v).ToArray())];
}
