using System.Globalization;
using FinanceHub.Data.Tests.Infrastructure;
using FinanceHub.Data.Timescale;
using FinanceHub.Data.Timescale.Catalog;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Timescale;

/// <summary>
/// The version-aware catalog against the server it runs on (2.19 reads jobs by materialization hypertable, 2.20 and later by
/// the aggregate's own name), checked against TimescaleDB's internal job table, which both shapes are views of.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class TimescaleCatalogTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Refresh_policies_are_found_for_each_aggregate_whatever_the_jobs_view_names()
    {
        fixture.RequireCommunity();
        // Oracle: the internal job table, joined on ids (no names), which is what timescaledb_information.jobs presents.
        var expected = (await fixture.DataSource.QueryAsync(
                """
                SELECT c.user_view_name::text, j.id, j.config->>'start_offset'
                FROM _timescaledb_config.bgw_job j
                JOIN _timescaledb_catalog.continuous_agg c ON c.mat_hypertable_id = j.hypertable_id
                WHERE j.proc_name = 'policy_refresh_continuous_aggregate'
                ORDER BY 1, 2
                """))
            .Select(r => ((string)r[0]!, (int)r[1]!, (string)r[2]!)).ToList();

        var found = (await new TimescaleCatalog(fixture.DataSource).GetRefreshPoliciesAsync(null, null, Ct))
            .Where(p => p.JobId is not null).Select(p => (p.View, p.JobId!.Value, p.StartOffset)).OrderBy(p => p.View).ThenBy(p => p.Item2).ToList();

        Assert.Equal([("asset_prices_4hour", "7 days"), ("asset_prices_daily", "30 days"), ("asset_prices_hourly", "7 days"),
            ("asset_prices_monthly", "3 mons"), ("asset_prices_weekly", "35 days")], expected.Select(e => (e.Item1, e.Item3)));
        // A reach in months is how far back it reaches as of now (the catalog reports durations).
        var now = DateTime.UtcNow;
        Assert.Equal(expected.Select(e => (e.Item1, e.Item2, (TimeSpan?)(e.Item3 == "3 mons" ? now - now.AddMonths(-3) : TimeSpan.FromDays(int.Parse(e.Item3.Split(' ')[0], CultureInfo.InvariantCulture))))),
            found);
    }

    [Fact]
    public async Task Jobs_name_the_aggregate_they_refresh_on_every_release()
    {
        fixture.RequireCommunity();
        var expected = (await fixture.DataSource.QueryAsync(
                """
                SELECT j.id::text, c.user_view_name::text FROM _timescaledb_config.bgw_job j
                JOIN _timescaledb_catalog.continuous_agg c ON c.mat_hypertable_id = j.hypertable_id ORDER BY 1
                """))
            .Select(r => ((string)r[0]!, (string)r[1]!)).ToList();

        var jobs = await Manager(fixture.DataSource).GetJobsAsync(Ct);
        // The join itself, whatever the jobs view names on this release (on 2.20+ its name alone would pass the check above).
        var release = TimescaleRelease.Parse(await fixture.DataSource.ScalarAsync<string>("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"))!;
        var joined = await fixture.DataSource.ScalarAsync<long>(
            $"""
            SELECT count(*) FROM timescaledb_information.jobs j JOIN timescaledb_information.continuous_aggregates ca
              ON {TimescaleCatalog.JobOfAggregate(release, "j", "ca")}
            WHERE j.proc_name = 'policy_refresh_continuous_aggregate'
            """);

        // The hourly and daily aggregates and the candle ladder's three rungs.
        Assert.Equal(5, expected.Count);
        Assert.All(expected, e => Assert.Contains(jobs, j => j.Id == e.Item1 && j.Target == e.Item2));
        Assert.Equal(5L, joined);
    }

    [Fact]
    public async Task A_price_aggregate_whose_refresh_policy_is_missing_is_an_error_naming_it_not_nothing_to_protect()
    {
        fixture.RequireCommunity();
        var (_, dataSource) = await fixture.CreateDatabaseAsync("orphan_cagg", migrate: true);
        await using var _ = dataSource;
        await dataSource.ExecuteAsync("SELECT remove_continuous_aggregate_policy('asset_prices_daily')");
        var manager = Manager(dataSource);

        var retention = await Assert.ThrowsAsync<TimescaleCatalogException>(() =>
            manager.SetRetentionPolicyAsync("asset_prices_historic", TimeSpan.FromDays(5), Ct));
        var drop = await Assert.ThrowsAsync<TimescaleCatalogException>(() =>
            manager.DropChunksOlderThanAsync("asset_prices_historic", TimeSpan.FromDays(5), Ct));

        Assert.Contains("asset_prices_daily", retention.Message, StringComparison.Ordinal);
        Assert.Contains("asset_prices_daily", drop.Message, StringComparison.Ordinal);
        Assert.Equal("730 days", await dataSource.ScalarAsync<string>(
            "SELECT config->>'drop_after' FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_name = 'asset_prices_historic'"));
    }

    [Fact]
    public async Task Dropping_chunks_that_an_aggregate_refresh_still_reaches_is_refused_and_drops_nothing()
    {
        fixture.RequireCommunity();
        var (_, dataSource) = await fixture.CreateDatabaseAsync("drop_in_window", migrate: true);
        await using var _ = dataSource;
        var asset = await dataSource.InsertAssetAsync("BTC");
        var today = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero);
        await dataSource.InsertPricesAsync(asset, today.AddDays(-60), today, TimeSpan.FromHours(6));
        var rows = await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Manager(dataSource).DropChunksOlderThanAsync("asset_prices_historic", TimeSpan.FromDays(20), Ct));

        Assert.Contains("asset_prices_daily", error.Message, StringComparison.Ordinal);
        Assert.Equal(rows, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"));
    }

    [Fact]
    public async Task Health_reports_the_installed_release_and_the_servers_library_as_the_catalog_has_them()
    {
        var row = (await fixture.DataSource.QueryAsync(
            "SELECT e.extversion::text, a.default_version::text FROM pg_extension e, pg_available_extensions a WHERE e.extname = 'timescaledb' AND a.name = 'timescaledb'"))[0];

        var health = await Manager(fixture.DataSource).GetHealthAsync(Ct);

        Assert.Equal((string)row[0]!, health.ExtensionVersion);
        Assert.Equal((string)row[1]!, health.AvailableVersion);
        Assert.Equal(!Equals(row[0], row[1]) && Version.Parse((string)row[1]!) > Version.Parse((string)row[0]!), health.UpdateDue);
        Assert.Equal(health.Release!.KnownDefects.Count, health.Advice.Count(a => a.Contains("known defect", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("2.19.3", 2, 19, 3, false, true, false)]
    [InlineData("2.20.0", 2, 20, 0, true, true, false)]
    [InlineData("2.29.2", 2, 29, 2, true, true, true)]
    [InlineData("2.30.0-dev", 2, 30, 0, true, true, true)]
    [InlineData("2.17.2", 2, 17, 2, false, false, false)]
    [InlineData("2.19.9", 2, 19, 9, false, true, false)]
    [InlineData("2.26.9", 2, 26, 9, true, true, false)]
    [InlineData("2.27.0", 2, 27, 0, true, true, true)]
    public void Release_numbers_decide_the_catalog_shape(
        string text, int major, int minor, int patch, bool jobsNameAggregates, bool columnstore, bool refreshFailsOnConcurrency)
    {
        var release = TimescaleRelease.Parse(text)!;

        Assert.Equal(new Version(major, minor, patch), release.Version);
        Assert.Equal(jobsNameAggregates, release.JobsNameContinuousAggregates);
        Assert.Equal(columnstore, release.HasColumnstore);
        Assert.Equal(refreshFailsOnConcurrency, release.ConcurrentRefreshFails);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("two.nineteen")]
    [InlineData("2")]
    public void Text_that_is_not_a_release_number_parses_to_nothing(string? text) => Assert.Null(TimescaleRelease.Parse(text));

    [Fact]
    public void Releases_with_known_defects_are_flagged_and_their_fixes_are_not()
    {
        Assert.Contains(TimescaleRelease.Parse("2.22.0")!.KnownDefects, d => d.Area == "continuous aggregates" && d.FixedIn == "2.22.1");
        Assert.Empty(TimescaleRelease.Parse("2.22.1")!.KnownDefects);
        Assert.Empty(TimescaleRelease.Parse("2.19.3")!.KnownDefects);
        Assert.Empty(TimescaleRelease.Parse("2.29.2")!.KnownDefects);
        Assert.Equal(["8707"], TimescaleRelease.Parse("2.21.0")!.KnownDefects.Select(d => d.Reference[^4..]));
        var health = new TimescaleHealth(true, "17.6", true, "2.22.0", "2.29.2", TimescaleEdition.Community, 8, 1, false, null);
        Assert.True(health.UpdateDue);
        Assert.Contains(health.Advice, a => a.Contains("ALTER EXTENSION timescaledb UPDATE", StringComparison.Ordinal));
        Assert.Equal(2, health.Advice.Count(a => a.Contains("known defect", StringComparison.Ordinal)));
        Assert.False(new TimescaleHealth(true, "17.6", true, "2.29.2", "2.29.2", TimescaleEdition.Community, 8, 1, false, null).UpdateDue);
        Assert.False(new TimescaleHealth(true, "17.6", true, "2.29.2", "2.19.3", TimescaleEdition.Community, 8, 1, false, null).UpdateDue);
    }
}
