using FinanceHub.Data.Tests.Infrastructure;
using FinanceHub.Data.Timescale;
using FinanceHub.Data.Timescale.Maintenance;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Timescale;

/// <summary>The TimescaleDB manager against the real server, on each edition.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class TimescaleManagerTests(DatabaseFixture fixture)
{
    // Quotes, a semicolon with a second statement, mixed case and spaces: if any of these reached SQL unquoted, the
    // statement would break or drop the assets table.
    private const string HostileTable = "Weird \"Prices\"; DROP TABLE assets; --";
    private const string HostileTime = "Time \"Col\"";
    private const string HostileSeries = "Mixed Case";
    private const string HostileView = "View'); DROP TABLE assets; --";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Health_reports_server_extension_edition_and_workers()
    {
        var health = await Manager(fixture.DataSource).GetHealthAsync(Ct);

        Assert.True(health.Healthy);
        Assert.Equal(await fixture.DataSource.ScalarAsync<string>("SELECT current_setting('server_version')"), health.ServerVersion);
        Assert.Equal(fixture.Edition, health.Edition);
        Assert.Matches(@"^\d+\.\d+\.\d+", health.ExtensionVersion);
        Assert.True(health.MaxBackgroundWorkers > 0);
    }

    [Fact]
    public async Task Health_of_an_unreachable_server_says_so_without_throwing()
    {
        await using var nowhere = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Username=x;Password=y;Timeout=2");

        var health = await Manager(nowhere).GetHealthAsync(Ct);

        Assert.False(health.Reachable);
        Assert.False(await Manager(nowhere).IsAvailableAsync(Ct));
        Assert.NotNull(health.Error);
    }

    [Fact]
    public async Task Setup_installs_the_extension_and_helper_functions_and_can_run_twice()
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync("setup", migrate: false);
        await using var _ = dataSource;
        var manager = Manager(dataSource);

        await manager.SetupAsync(Ct);
        await manager.SetupAsync(Ct);

        Assert.Equal(fixture.Edition, await manager.GetEditionAsync(Ct));
        Assert.Contains(await manager.GetFeatureSupportAsync(Ct), f => f.Feature == "hypertables" && f.Support == FeatureSupportLevel.Native);
    }

    [Fact]
    public async Task Hostile_names_are_quoted_everywhere_and_only_the_intended_objects_change()
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync("hostile", migrate: true);
        await using var _ = dataSource;
        await dataSource.InsertAssetAsync("BTC");
        await dataSource.ExecuteAsync(
            $"CREATE TABLE {SqlIdentifiers.Quote(HostileTable)} ({SqlIdentifiers.Quote(HostileTime)} timestamptz NOT NULL, {SqlIdentifiers.Quote(HostileSeries)} int NOT NULL, value numeric)");
        await dataSource.ExecuteAsync(
            $"INSERT INTO {SqlIdentifiers.Quote(HostileTable)} SELECT t, (extract(epoch FROM t)::bigint % 3)::int, 1 FROM generate_series(now() - interval '60 days', now(), interval '1 hour') t");
        var manager = Manager(dataSource);

        await manager.CreateHypertableAsync(HostileTable, HostileTime, TimeSpan.FromDays(7), migrateData: true, Ct);
        await manager.AddDimensionAsync(HostileTable, HostileSeries, 2, Ct);
        await manager.SetChunkTimeIntervalAsync(HostileTable, TimeSpan.FromDays(3), Ct);
        await manager.SetRetentionPolicyAsync(HostileTable, TimeSpan.FromDays(365), Ct);
        var chunks = await manager.GetChunksAsync(HostileTable, Ct);
        var dropped = await manager.DropChunksOlderThanAsync(HostileTable, TimeSpan.FromDays(30), Ct);
        if (fixture.IsCommunity)
        {
            await manager.EnableCompressionAsync(HostileTable, [HostileSeries], [$"{HostileTime} DESC"], TimeSpan.FromDays(7), Ct);
            Assert.True(await manager.CompressChunksAsync(HostileTable, TimeSpan.FromDays(7), Ct) > 0);
            await manager.CreateContinuousAggregateAsync(new ContinuousAggregateDefinition(
                HostileView, HostileTable, TimeSpan.FromDays(1), [new AggregateColumn("avg", "value", "avg value"), new AggregateColumn("count", "*", "n")],
                [HostileSeries], TimeSpan.FromDays(10), TimeSpan.FromHours(1), TimeSpan.FromHours(1)), Ct);
            await manager.RefreshContinuousAggregateAsync(HostileView, cancellationToken: Ct);
            Assert.True(await dataSource.ScalarAsync<long>($"SELECT count(*) FROM {SqlIdentifiers.Quote(HostileView)}") > 0);
            await manager.DropContinuousAggregateAsync(HostileView, Ct);
        }

        Assert.Equal(1L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM assets")); // nothing dropped it
        Assert.True(chunks.Count > 3);
        Assert.True(dropped > 0);
        Assert.Equal(1L, await dataSource.ScalarAsync<long>(
            "SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_name = $1", HostileTable));
        Assert.Equal(2L, await dataSource.ScalarAsync<long>(
            "SELECT count(*) FROM timescaledb_information.dimensions WHERE hypertable_name = $1", HostileTable));
        Assert.True(await dataSource.ScalarAsync<long>($"SELECT count(*) FROM {SqlIdentifiers.Quote(HostileTable)}") > 0);
    }

    [Theory]
    [InlineData("no_such_table", "There is no table named 'no_such_table'")]
    [InlineData("assets", "not a hypertable")]
    public async Task Unknown_tables_and_plain_tables_are_clear_argument_errors(string table, string message)
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => Manager(fixture.DataSource).GetChunksAsync(table, Ct));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_column_is_a_clear_argument_error()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            Manager(fixture.DataSource).AddDimensionAsync("asset_prices_historic", "no such column", 4, Ct));

        Assert.Contains("no column named 'no such column'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Community_only_operations_on_the_apache_edition_name_the_feature_the_edition_and_what_to_do()
    {
        fixture.RequireApache();
        var manager = Manager(fixture.DataSource);

        var compression = await Assert.ThrowsAsync<TimescaleFeatureUnavailableException>(() =>
            manager.CompressChunksAsync("asset_prices_historic", TimeSpan.FromDays(30), Ct));
        var aggregate = await Assert.ThrowsAsync<TimescaleFeatureUnavailableException>(() => manager.CreateContinuousAggregateAsync(
            new ContinuousAggregateDefinition("x", "asset_prices_historic", TimeSpan.FromDays(1), [new AggregateColumn("max", "high", "h")], []), Ct));

        Assert.Equal(("Compression", TimescaleEdition.Apache), (compression.Feature, compression.Edition));
        Assert.Contains("Apache-2 edition", compression.Message, StringComparison.Ordinal);
        Assert.Contains("community edition", compression.Message, StringComparison.Ordinal);
        Assert.Equal("Continuous aggregates", aggregate.Feature);
    }

    [Fact]
    public async Task Compression_compresses_and_decompresses_chunks_and_reports_sizes_on_community_edition()
    {
        fixture.RequireCommunity();
        var (_, dataSource) = await fixture.CreateDatabaseAsync("compression", migrate: true);
        await using var _ = dataSource;
        var asset = await dataSource.InsertAssetAsync("BTC");
        await dataSource.InsertPricesAsync(asset, DateTimeOffset.UtcNow.AddDays(-120), DateTimeOffset.UtcNow, TimeSpan.FromMinutes(10));
        var manager = Manager(dataSource);
        var rows = await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic");

        var compressed = await manager.CompressChunksAsync("asset_prices_historic", TimeSpan.FromDays(30), Ct);
        var stats = await manager.GetCompressionStatsAsync("asset_prices_historic", Ct);
        var chunks = await manager.GetChunksAsync("asset_prices_historic", Ct);
        var hypertable = (await manager.GetHypertablesAsync(Ct)).Single(h => h.Name == "asset_prices_historic");

        Assert.True(compressed >= 10);
        Assert.Equal(compressed, stats.CompressedChunks);
        Assert.True(stats.Ratio > 1, $"ratio {stats.Ratio}");
        Assert.Equal(compressed, chunks.Count(c => c.IsCompressed && c.BytesAfterCompression > 0));
        Assert.True(hypertable.CompressionRatio > 1);
        Assert.Equal(rows, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"));
        Assert.Equal(compressed, await manager.DecompressChunksAsync("asset_prices_historic", cancellationToken: Ct));
        Assert.Equal(0L, (await manager.GetCompressionStatsAsync("asset_prices_historic", Ct)).CompressedChunks);
    }

    [Fact]
    public async Task Retention_shorter_than_an_aggregate_refresh_window_is_refused_on_community_edition()
    {
        fixture.RequireCommunity();
        var (_, dataSource) = await fixture.CreateDatabaseAsync("short_retention", migrate: true);
        await using var _ = dataSource;

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Manager(dataSource).SetRetentionPolicyAsync("asset_prices_historic", TimeSpan.FromDays(20), Ct));

        Assert.Contains("asset_prices_daily", error.Message, StringComparison.Ordinal);
        Assert.Equal("730 days", await dataSource.ScalarAsync<string>(
            "SELECT config->>'drop_after' FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_name = 'asset_prices_historic'"));
    }

    [Fact]
    public async Task Refreshing_a_continuous_aggregate_never_deletes_the_candles_of_chunks_that_retention_dropped()
    {
        fixture.RequireCommunity();
        var (_, dataSource) = await fixture.CreateDatabaseAsync("refresh_clamp", migrate: true);
        await using var _ = dataSource;
        var asset = await dataSource.InsertAssetAsync("BTC");
        var today = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero);
        await dataSource.InsertPricesAsync(asset, today.AddDays(-800), today.AddDays(-760), TimeSpan.FromHours(1));
        await dataSource.InsertPricesAsync(asset, today.AddDays(-5), today, TimeSpan.FromHours(1));
        var manager = Manager(dataSource);
        await manager.RefreshContinuousAggregateAsync("asset_prices_daily", cancellationToken: Ct);
        var before = await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_daily");

        Assert.True(await manager.DropChunksOlderThanAsync("asset_prices_historic", TimeSpan.FromDays(730), Ct) > 0);
        var start = (await manager.RefreshContinuousAggregateAsync("asset_prices_daily", cancellationToken: Ct)).Start;

        Assert.NotNull(start); // clamped to the oldest remaining chunk
        Assert.Equal(before, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_daily"));
    }

    [Fact]
    public async Task A_refresh_after_every_raw_chunk_was_dropped_keeps_the_aggregates_history()
    {
        fixture.RequireCommunity();
        var (_, dataSource) = await fixture.CreateDatabaseAsync("refresh_no_chunks", migrate: true);
        await using var _ = dataSource;
        var asset = await dataSource.InsertAssetAsync("BTC");
        var today = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero);
        await dataSource.InsertPricesAsync(asset, today.AddDays(-800), today.AddDays(-760), TimeSpan.FromHours(1));
        var manager = Manager(dataSource);
        await manager.RefreshContinuousAggregateAsync("asset_prices_daily", cancellationToken: Ct);
        await manager.RefreshContinuousAggregateAsync("asset_prices_weekly", cancellationToken: Ct);
        var days = await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_daily");
        var weeks = await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_weekly");

        Assert.True(await manager.DropChunksOlderThanAsync("asset_prices_historic", TimeSpan.FromDays(730), Ct) > 0);
        Assert.Equal(0L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'asset_prices_historic'"));
        await manager.RefreshContinuousAggregateAsync("asset_prices_daily", cancellationToken: Ct);

        // Nothing to compute, everything to lose: a refresh without an end would have deleted every bucket.
        Assert.Equal(40L, days);
        Assert.Equal(days, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_daily"));
        Assert.Equal(weeks, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_weekly"));
    }

    [Fact]
    public async Task Retention_policy_on_the_apache_edition_is_a_project_policy_that_can_be_changed_and_removed()
    {
        fixture.RequireApache();
        var (_, dataSource) = await fixture.CreateDatabaseAsync("retention_policy", migrate: true);
        await using var _ = dataSource;
        var manager = Manager(dataSource);

        await manager.SetRetentionPolicyAsync("api_usage_logs", TimeSpan.FromDays(3), Ct);
        var jobs = await manager.GetJobsAsync(Ct);
        var removed = await manager.RemoveRetentionPolicyAsync("api_usage_logs", Ct);
        var removedAgain = await manager.RemoveRetentionPolicyAsync("api_usage_logs", Ct);

        Assert.Contains(jobs, j => j.Id == "retention:api_usage_logs" && !j.Native && j.Config!.Contains("3 days", StringComparison.Ordinal));
        Assert.True(removed);
        Assert.False(removedAgain);
    }

    [Fact]
    public async Task An_aggregate_that_the_candle_ladder_reads_is_dropped_only_after_its_rungs_with_an_error_naming_them_before()
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync("drop_parent", migrate: true);
        await using var _ = dataSource;
        var manager = Manager(dataSource);

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => manager.DropContinuousAggregateAsync("asset_prices_hourly", Ct));
        var stillThere = await dataSource.ScalarAsync<bool>("SELECT to_regclass('asset_prices_hourly') IS NOT NULL");
        await manager.DropContinuousAggregateAsync("asset_prices_4hour", Ct);
        await manager.DropContinuousAggregateAsync("asset_prices_hourly", Ct);

        Assert.Contains("asset_prices_hourly cannot be dropped", refused.Message, StringComparison.Ordinal);
        Assert.Contains("DropContinuousAggregateAsync(\"asset_prices_4hour\")", refused.Message, StringComparison.Ordinal);
        Assert.True(stillThere);
        Assert.True(await dataSource.ScalarAsync<bool>("SELECT to_regclass('asset_prices_hourly') IS NULL AND to_regclass('asset_prices_4hour') IS NULL"));
        Assert.Equal(0L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM financehub.maintenance_policies WHERE target = 'asset_prices_hourly'"));
        Assert.Equal(["asset_prices_daily", "asset_prices_monthly", "asset_prices_weekly"], (await manager.GetAggregatesAsync(Ct)).Select(a => a.View));
    }

    [Fact]
    public async Task Jobs_storage_hypertables_and_aggregates_are_reported()
    {
        var manager = Manager(fixture.DataSource);

        var jobs = await manager.GetJobsAsync(Ct);
        var storage = await manager.GetStorageAsync(Ct);
        var hypertables = await manager.GetHypertablesAsync(Ct);
        var aggregates = await manager.GetAggregatesAsync(Ct);

        Assert.Contains(jobs, j => j.Kind == "retention" && j.Target == "asset_prices_historic" && j.Native == fixture.IsCommunity);
        Assert.Contains(jobs, j => j.Kind.Contains("refresh", StringComparison.Ordinal) && j.Target == "asset_prices_daily");
        Assert.True(storage.DatabaseBytes > 0);
        Assert.Equal(["api_usage_logs", "asset_prices_historic", "performance_metrics"], storage.Hypertables.Select(h => h.Name));
        Assert.Equal(["api_usage_logs", "asset_prices_historic", "performance_metrics"], hypertables.Select(h => h.Name));
        Assert.Equal(["asset_prices_4hour", "asset_prices_daily", "asset_prices_hourly", "asset_prices_monthly", "asset_prices_weekly"], aggregates.Select(a => a.View));
        Assert.All(aggregates, a => Assert.Equal(fixture.IsCommunity, a.RealTime));
    }
}
