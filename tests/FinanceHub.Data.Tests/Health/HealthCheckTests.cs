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
        await PauseJobsAsync(dataSource);
        await using var services = Services(connectionString);

        var entry = await CheckAsync(services);

        Assert.True(entry.Status == HealthStatus.Healthy, entry.Description);
        Assert.Equal(fixture.Edition.ToString(), entry.Data["edition"]);
        Assert.Equal(await dataSource.ScalarAsync<string>("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"), entry.Data["timescaledb"]);
        Assert.Empty((IEnumerable<string>)entry.Data["pendingMigrations"]);
        Assert.Contains("database", entry.Tags);
    }

    [Fact]
    public async Task A_stale_aggregate_a_failing_policy_and_pending_migrations_each_degrade_it_with_the_reason()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("health_degraded", migrate: true);
        await using var _ = dataSource;
        // Default thresholds. TimescaleDB's jobs are paused so that nothing runs behind the test's back (and, on servers
        // whose jobs cannot run at all, so that their failures do not stand in for the ones this test causes).
        await PauseJobsAsync(dataSource);
        await using var services = Services(connectionString);
        var manager = TestServices.Manager(dataSource);

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
        var removed = await dataSource.QueryAsync(
            "DELETE FROM \"__EFMigrationsHistory\" WHERE migration_id = (SELECT max(migration_id) FROM \"__EFMigrationsHistory\") RETURNING migration_id, product_version");
        var pending = await CheckAsync(services);
        await dataSource.ExecuteAsync("INSERT INTO \"__EFMigrationsHistory\" (migration_id, product_version) VALUES ($1, $2)", removed[0][0], removed[0][1]);

        Assert.Equal(HealthStatus.Degraded, stale.Status);
        Assert.Contains("asset_prices_hourly is stale", stale.Description, StringComparison.Ordinal);
        Assert.True(refreshed.Status == HealthStatus.Healthy, refreshed.Description);
        Assert.Equal(HealthStatus.Degraded, pending.Status);
        Assert.Contains("migration(s) not applied", pending.Description, StringComparison.Ordinal);
        Assert.Single((IEnumerable<string>)pending.Data["pendingMigrations"]);

        // Last, as it needs TimescaleDB's scheduler on the community edition, which a busy server may not give a worker.
        var failingJob = await FailAPolicyAsync(dataSource, manager);
        var failing = await CheckAsync(services);
        await RepairAsync(dataSource, failingJob);
        var repaired = await CheckAsync(services);

        Assert.Equal(HealthStatus.Degraded, failing.Status);
        Assert.Contains("failed on their last run", failing.Description, StringComparison.Ordinal);
        Assert.Contains(failingJob, failing.Description, StringComparison.Ordinal);
        Assert.True(repaired.Status == HealthStatus.Healthy, repaired.Description);
    }

    [Fact]
    public async Task A_rung_of_the_candle_ladder_missing_ended_candles_is_stale_and_its_current_candle_is_not()
    {
        // On the Apache edition a rung is a materialized view refreshed in the same transaction as its parent
        // (financehub.refresh_materialized_view): it cannot fall behind it, and the parents' staleness is tested above.
        Assert.SkipUnless(fixture.IsCommunity,
            "A rung that falls behind its parent exists only on the community edition (continuous aggregates with policies of their own); " +
            "on the Apache edition the rungs are refreshed with their parents in one transaction.");
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("health_ladder", migrate: true);
        await using var _ = dataSource;
        await PauseJobsAsync(dataSource);
        // A threshold of one minute: any ended candle with prices that is not materialized is stale, whatever the weekday.
        await using var services = Services(connectionString, o => o.MaxAggregateLag = TimeSpan.FromMinutes(1));
        // Prices of the last 20 days up to two hours ago; the parents materialized by plain SQL, which leaves the rungs
        // as they were: empty, though weeks and 4-hour candles with prices have ended.
        var asset = await dataSource.InsertAssetAsync("LDDR");
        var end = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero).AddHours(DateTime.UtcNow.Hour - 2);
        await dataSource.InsertPricesAsync(asset, end.AddDays(-20), end, TimeSpan.FromMinutes(30));
        foreach (var view in Aggregates.All)
        {
            await dataSource.ExecuteAsync($"CALL refresh_continuous_aggregate('{view}', NULL, NULL)");
        }

        var stale = await CheckAsync(services);
        foreach (var view in Aggregates.All)
        {
            await TestServices.Manager(dataSource).RefreshContinuousAggregateAsync(view, cancellationToken: Ct);
        }

        var refreshed = await CheckAsync(services);

        Assert.Equal(HealthStatus.Degraded, stale.Status);
        Assert.Contains("asset_prices_weekly is stale", stale.Description, StringComparison.Ordinal);
        Assert.Contains("asset_prices_4hour is stale", stale.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("asset_prices_daily is stale", stale.Description, StringComparison.Ordinal);
        Assert.True(refreshed.Status == HealthStatus.Healthy, refreshed.Description);
        // Healthy although the weekly rung holds none of the current week, which has prices: it is not due yet.
        var materialization = await dataSource.ScalarAsync<string>(
            "SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) FROM timescaledb_information.continuous_aggregates WHERE view_name = 'asset_prices_weekly'");
        // (Whole weeks end an hour before now: on a Monday before 01:00 last week is the current one.)
        Assert.Equal(0L, await dataSource.ScalarAsync<long>($"SELECT count(*) FROM {materialization} WHERE bucket >= date_trunc('week', now() - interval '1 hour', 'UTC')"));
        Assert.True(await dataSource.ScalarAsync<long>($"SELECT count(*) FROM {materialization}") >= 2);
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
    /// A policy that really fails, and what the health check names it by: on Apache the project's retention policy of a
    /// table pointed at one that does not exist, run by maintenance; on community a job whose procedure raises, run by
    /// TimescaleDB's scheduler.
    /// </summary>
    private async Task<string> FailAPolicyAsync(NpgsqlDataSource dataSource, TimescaleManager manager)
    {
        if (!fixture.IsCommunity)
        {
            await dataSource.ExecuteAsync("UPDATE financehub.maintenance_policies SET target = 'no_such_table', next_run_at = now() WHERE name = 'retention:api_usage_logs'");
            await manager.RunMaintenanceAsync(force: true, Ct);
            return "retention:api_usage_logs";
        }

        var job = await dataSource.ScalarAsync<int>(
            """
            CREATE PROCEDURE health_test_fails(job_id int, config jsonb) LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'health test: this job fails'; END $$;
            SELECT add_job('health_test_fails', INTERVAL '1 hour', initial_start => now());
            """);
        for (var i = 0; i < 120 && !await dataSource.ScalarAsync<bool>(
                 "SELECT EXISTS (SELECT 1 FROM timescaledb_information.job_stats WHERE job_id = $1 AND last_run_status = 'Failed')", job); i++)
        {
            await Task.Delay(500, Ct);
        }

        if (!await dataSource.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM timescaledb_information.job_stats WHERE job_id = $1 AND last_run_status IS NOT NULL)", job))
        {
            Assert.Skip("TimescaleDB's scheduler did not run the failing job within a minute (no free background worker on this server); " +
                        "the stale-aggregate and pending-migration parts above passed.");
        }

        return $"({job})";
    }

    /// <summary>Undoes <see cref="FailAPolicyAsync"/>: the policy's target back, or the failing job removed.</summary>
    private async Task RepairAsync(NpgsqlDataSource dataSource, string failingJob)
    {
        if (!fixture.IsCommunity)
        {
            await dataSource.ExecuteAsync(
                "UPDATE financehub.maintenance_policies SET target = 'api_usage_logs', last_run_status = NULL, last_error = NULL WHERE name = 'retention:api_usage_logs'");
            return;
        }

        await dataSource.ExecuteAsync("SELECT delete_job($1)", int.Parse(failingJob.Trim('(', ')'), System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Every TimescaleDB job of the database unscheduled (community; the Apache edition has none).</summary>
    private async Task PauseJobsAsync(NpgsqlDataSource dataSource)
    {
        if (fixture.IsCommunity)
        {
            await dataSource.ExecuteAsync("SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs");
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
