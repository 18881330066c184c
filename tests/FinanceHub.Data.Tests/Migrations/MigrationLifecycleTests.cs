using FinanceHub.Data.Migrations;
using FinanceHub.Data.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace FinanceHub.Data.Tests.Migrations;

/// <summary>Up, down, again, interrupted and concurrent, each on a database of its own.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class MigrationLifecycleTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Migrating_down_to_zero_leaves_no_project_objects_behind()
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync("down0", migrate: true);
        await using var _ = dataSource;
        var before = await dataSource.ProjectObjectsAsync();
        Assert.Contains("public.asset_prices_historic (r)", before);

        await using (var context = DatabaseFixture.CreateContext(dataSource))
        {
            await context.GetService<IMigrator>().MigrateAsync(Migration.InitialDatabase, Ct);
        }

        Assert.Empty(await dataSource.ProjectObjectsAsync());
        Assert.Equal(0L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM \"__EFMigrationsHistory\""));
    }

    [Fact]
    public async Task Migrating_down_and_up_again_keeps_every_row_and_the_identity_sequence()
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync("downup", migrate: true);
        await using var _ = dataSource;
        var asset = await dataSource.InsertAssetAsync("BTC");
        var now = DateTimeOffset.UtcNow;
        await dataSource.InsertPricesAsync(asset, now.AddDays(-60), now, TimeSpan.FromHours(1));
        await dataSource.ExecuteAsync(
            """
            INSERT INTO api_usage_logs (created_at, endpoint, method, status_code, duration_ms)
            SELECT t, '/api/v1/prices', 'GET', 200, 3.5 FROM generate_series(now() - interval '2 days', now(), interval '1 minute') t
            """);
        var prices = await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic");
        var maxLogId = await dataSource.ScalarAsync<long>("SELECT max(id) FROM api_usage_logs");

        await using (var context = DatabaseFixture.CreateContext(dataSource))
        {
            await context.GetService<IMigrator>().MigrateAsync("InitialSchema", Ct);
        }

        Assert.Equal(0L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"));
        Assert.Equal(prices, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"));
        Assert.Equal("pk_asset_prices_historic", await dataSource.ScalarAsync<string>(
            "SELECT conname::text FROM pg_constraint WHERE conrelid = 'asset_prices_historic'::regclass AND contype = 'p'"));
        Assert.Equal(1L, await dataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'asset_prices_historic'::regclass AND contype = 'f'"));
        var newId = await dataSource.ScalarAsync<long>(
            "INSERT INTO api_usage_logs (created_at, endpoint, method, status_code, duration_ms) VALUES (now(), '/x', 'GET', 200, 1) RETURNING id");
        Assert.True(newId > maxLogId, $"identity restarted at {newId}, rows go up to {maxLogId}");

        // TimescaleDB cannot be created again in a backend that loaded and then dropped it ("already been loaded with
        // another version"); separate 'database update' runs get new sessions, and so does this test.
        dataSource.Clear();

        await using (var context = DatabaseFixture.CreateContext(dataSource))
        {
            await context.Database.MigrateAsync(Ct);
        }

        Assert.Equal(prices, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"));
        Assert.Equal(3L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM timescaledb_information.hypertables"));
        // The initial refresh materialized what was already there: one daily row per day that has prices.
        Assert.Equal(
            await dataSource.ScalarAsync<long>("SELECT count(DISTINCT time_bucket('1 day', date)) FROM asset_prices_historic"),
            await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_daily"));
    }

    [Fact]
    public async Task An_interrupted_update_converges_when_run_again()
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync("converge", migrate: false);
        await using var _ = dataSource;
        await using (var context = DatabaseFixture.CreateContext(dataSource))
        {
            await context.GetService<IMigrator>().MigrateAsync("TimescaleLayer", Ct);
        }

        // As if the process died after part of PriceAggregates had run, but before its history row was written
        // (a suppressTransaction step, or a script run by hand): the aggregates already exist.
        await dataSource.ExecuteAsync(Data.Migrations.Infrastructure.SqlResources.Read("0200_price_aggregates/up.sql"));

        await using (var context = DatabaseFixture.CreateContext(dataSource))
        {
            await context.Database.MigrateAsync(Ct);
            Assert.Empty(await context.Database.GetPendingMigrationsAsync(Ct));
        }

        Assert.Equal(2L, await dataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_class WHERE relname IN ('asset_prices_hourly', 'asset_prices_daily')"));
    }

    [Fact]
    public async Task Two_updates_started_at_the_same_moment_both_succeed_and_apply_each_migration_once()
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync("concurrent", migrate: false);
        await using var _ = dataSource;

        async Task MigrateAsync()
        {
            await using var context = DatabaseFixture.CreateContext(dataSource);
            await context.Database.MigrateAsync(Ct);
        }

        await Task.WhenAll(Task.Run(MigrateAsync, Ct), Task.Run(MigrateAsync, Ct), Task.Run(MigrateAsync, Ct));

        await using var check = DatabaseFixture.CreateContext(dataSource);
        var applied = await check.Database.GetAppliedMigrationsAsync(Ct);
        Assert.Equal(check.Database.GetMigrations(), applied);
        Assert.Equal(3L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM timescaledb_information.hypertables"));
    }

    [Fact]
    public async Task Design_time_factory_without_configuration_fails_with_a_message_that_says_what_to_set()
    {
        var saved = new[] { "FINANCEHUB_CONNECTION_STRING", "TIMESCALE_DB_HOST" }.ToDictionary(v => v, Environment.GetEnvironmentVariable);
        try
        {
            foreach (var name in saved.Keys)
            {
                Environment.SetEnvironmentVariable(name, null);
            }

            await using var context = new FinanceHubDesignTimeDbContextFactory().CreateDbContext([]);
            // Scripting needs no server, so creating the context works...
            Assert.Contains("CREATE TABLE", context.GetService<IMigrator>().GenerateScript(), StringComparison.Ordinal);
            // ...and the first connection says what to configure.
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => context.Database.MigrateAsync(Ct));
            Assert.Contains("TIMESCALE_DB_HOST", error.Message, StringComparison.Ordinal);
            Assert.Contains("FINANCEHUB_CONNECTION_STRING", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var (name, value) in saved)
            {
                Environment.SetEnvironmentVariable(name, value);
            }
        }
    }
}
