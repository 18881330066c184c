using FinanceHub.Data.Configuration;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Tests.Infrastructure;
using FinanceHub.Data.Timescale;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace FinanceHub.Data.Tests.Health;

/// <summary><c>AddHealthChecks().AddFinanceHubData()</c> against the real server: healthy, degraded for each reason, unhealthy.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class HealthCheckTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_migrated_database_is_healthy_and_says_its_edition_and_version()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("health_ok", migrate: true);
        await using var _ = dataSource;
        await using var services = Services(connectionString);
        // Community releases that run new jobs at once do so within seconds of the migration: let them, so the check sees
        // what they did (on releases that schedule them later this waits in vain, briefly).
        for (var i = 0; fixture.IsCommunity && i < 20 && !await dataSource.ScalarAsync<bool>(
                 "SELECT EXISTS (SELECT 1 FROM timescaledb_information.job_stats WHERE last_run_status IS NOT NULL)"); i++)
        {
            await Task.Delay(500, Ct);
        }

        var entry = await CheckAsync(services);
        // Some servers cannot run TimescaleDB's background jobs at all (PostgreSQL 17.12 with TimescaleDB 2.19 to 2.29:
        // every job, TimescaleDB's own too, fails with "cannot drop portal"). Seen by plain SQL, independent of the check.
        var brokenJobs = fixture.IsCommunity && await dataSource.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM timescaledb_information.job_errors WHERE err_message LIKE 'cannot drop portal%')");

        if (brokenJobs)
        {
            Assert.Equal(HealthStatus.Degraded, entry.Status);
            Assert.Contains("failed on their last run", entry.Description, StringComparison.Ordinal);
        }
        else
        {
            Assert.True(entry.Status == HealthStatus.Healthy, entry.Description);
        }

        Assert.Equal(fixture.Edition.ToString(), entry.Data["edition"]);
        Assert.Equal(await dataSource.ScalarAsync<string>("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"), entry.Data["timescaledb"]);
        Assert.Empty((IEnumerable<string>)entry.Data["pendingMigrations"]);
        Assert.Contains("database", entry.Tags);
    }

    [Fact]
    public async Task Pending_migrations_a_failing_policy_and_a_stale_aggregate_each_degrade_it_with_the_reason()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("health_degraded", migrate: true);
        await using var _ = dataSource;
        await using var services = Services(connectionString, o => o.MaxAggregateLag = TimeSpan.FromHours(1));
        var manager = TestServices.Manager(dataSource);
        // The refresh policies must not run behind the test's back: on community their jobs are paused, as a stopped scheduler would be.
        if (fixture.IsCommunity)
        {
            await dataSource.ExecuteAsync("SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate'");
        }

        // Prices of the last three days (up to two hours ago), never materialized.
        var asset = await dataSource.InsertAssetAsync("HLTH");
        var end = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero).AddHours(DateTime.UtcNow.Hour - 2);
        await dataSource.InsertPricesAsync(asset, end.AddDays(-3), end, TimeSpan.FromMinutes(15));
        var stale = await CheckAsync(services);

        foreach (var view in Aggregates.All)
        {
            await manager.RefreshContinuousAggregateAsync(view, cancellationToken: Ct);
        }

        var refreshed = await CheckAsync(services);
        await FailAPolicyAsync(dataSource, manager);
        var failing = await CheckAsync(services);
        await dataSource.ExecuteAsync("DELETE FROM \"__EFMigrationsHistory\" WHERE migration_id = (SELECT max(migration_id) FROM \"__EFMigrationsHistory\")");
        var pending = await CheckAsync(services);

        Assert.Equal(HealthStatus.Degraded, stale.Status);
        Assert.Contains("asset_prices_hourly is stale", stale.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("is stale", refreshed.Description, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Degraded, failing.Status);
        Assert.Contains("failed on their last run", failing.Description, StringComparison.Ordinal);
        Assert.NotEmpty((IEnumerable<string>)failing.Data["failingJobs"]);
        Assert.Equal(HealthStatus.Degraded, pending.Status);
        Assert.Contains("migration(s) not applied", pending.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_server_is_unhealthy_with_the_reason()
    {
        await using var services = Services("Host=127.0.0.1;Port=1;Username=x;Password=y;Timeout=2");

        var entry = await CheckAsync(services);

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("cannot be reached", entry.Description, StringComparison.Ordinal);
        Assert.Equal(false, entry.Data["reachable"]);
    }

    /// <summary>
    /// A policy that really fails: on Apache the project's retention policy of a table pointed at one that does not exist,
    /// run by maintenance; on community a job whose procedure raises, run by TimescaleDB's scheduler.
    /// </summary>
    private async Task FailAPolicyAsync(NpgsqlDataSource dataSource, TimescaleManager manager)
    {
        if (!fixture.IsCommunity)
        {
            await dataSource.ExecuteAsync("UPDATE financehub.maintenance_policies SET target = 'no_such_table', next_run_at = now() WHERE name = (SELECT min(name) FROM financehub.maintenance_policies WHERE kind = 'Retention')");
            await manager.RunMaintenanceAsync(force: true, Ct);
            return;
        }

        await dataSource.ExecuteAsync(
            """
            CREATE PROCEDURE health_test_fails(job_id int, config jsonb) LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'health test: this job fails'; END $$;
            SELECT add_job('health_test_fails', INTERVAL '1 hour', initial_start => now());
            """);
        for (var i = 0; i < 120 && !await dataSource.ScalarAsync<bool>(
                 "SELECT EXISTS (SELECT 1 FROM timescaledb_information.job_stats s JOIN timescaledb_information.jobs j USING (job_id) WHERE j.proc_name = 'health_test_fails' AND s.last_run_status = 'Failed')"); i++)
        {
            await Task.Delay(500, Ct);
        }
    }

    private static ServiceProvider Services(string connectionString, Action<Data.Health.FinanceHubHealthCheckOptions>? configure = null)
    {
        var services = new ServiceCollection().AddFinanceHubData(new ConfigurationBuilder().Build());
        services.PostConfigure<DatabaseOptions>(o => o.ConnectionString = connectionString);
        services.AddHealthChecks().AddFinanceHubData(configure: configure);
        return services.BuildServiceProvider();
    }

    private static async Task<HealthReportEntry> CheckAsync(IServiceProvider services)
        => (await services.GetRequiredService<HealthCheckService>().CheckHealthAsync(Ct)).Entries["financehub-database"];
}
