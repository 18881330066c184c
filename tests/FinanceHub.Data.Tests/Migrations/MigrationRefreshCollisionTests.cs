using FinanceHub.Data.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Migrations;

/// <summary>
/// The migrations that refresh continuous aggregates (0300 and the candle ladder's 0910) applied while a refresh of the
/// same aggregates is under way, the way every deployment path applies them: `dotnet ef database update`, the migration
/// bundle, `financehub-data migrate` and the generated idempotent script with psql. Since TimescaleDB 2.27 an overlapping
/// refresh fails with 55P03 instead of waiting. The refresh under way is a registered window on a connection of the
/// test's own (the state a running refresh policy leaves, held for seconds), and the policies are due every second on
/// top of it, so the collision happens on every run rather than now and then on a busy server.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class MigrationRefreshCollisionTests(DatabaseFixture fixture)
{
    private const string LastMigrationWithoutRefresh = "20261125164014_PriceAggregates";
    /// <summary>How long the refresh under way goes on after the applier is seen waiting for it.</summary>
    private static readonly TimeSpan Hold = TimeSpan.FromSeconds(2);

    /// <summary>Runs in a row per way of applying (FINANCEHUB_TEST_COLLISION_RUNS raises it for soak runs).</summary>
    private static readonly int Runs = int.TryParse(Environment.GetEnvironmentVariable("FINANCEHUB_TEST_COLLISION_RUNS"), out var runs) ? runs : 2;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("database update")]
    [InlineData("bundle")]
    [InlineData("migrate")]
    [InlineData("idempotent script")]
    public async Task Applying_the_migrations_waits_for_a_refresh_under_way_and_leaves_the_policies_scheduled(string applier)
    {
        fixture.RequireCommunity();
        var tracked = await fixture.DataSource.ScalarAsync<bool>(
            "SELECT to_regclass('_timescaledb_catalog.continuous_aggs_jobs_refresh_ranges') IS NOT NULL");
        Assert.SkipUnless(tracked,
            "This TimescaleDB makes a refresh wait for a concurrent one by itself (the refresh-window registry and 55P03 exist since 2.26.3); " +
            "point FINANCEHUB_CONNECTION_STRING at a later release to run it.");

        for (var run = 1; run <= Runs; run++)
        {
            var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("collision", migrate: false);
            await using var _ = dataSource;
            await using (var context = DatabaseFixture.CreateContext(dataSource))
            {
                await context.GetService<IMigrator>().MigrateAsync(LastMigrationWithoutRefresh, Ct);
            }

            // 12 assets, 40 days of hourly prices: history older than the policies' 7- and 30-day windows.
            var start = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero).AddDays(-40);
            for (var i = 0; i < 12; i++)
            {
                await dataSource.InsertPricesAsync(await dataSource.InsertAssetAsync($"A{i}"), start, start.AddDays(40), TimeSpan.FromHours(1));
            }

            await dataSource.ExecuteAsync(
                "SELECT alter_job(job_id, schedule_interval => interval '1 second', next_start => now()) FROM timescaledb_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate'");

            var holder = await dataSource.OpenConnectionAsync(Ct);
            await using (holder)
            {
                await using (var register = new NpgsqlCommand(
                    """
                    INSERT INTO _timescaledb_catalog.continuous_aggs_jobs_refresh_ranges (materialization_id, start_range, end_range, pid, job_id, created_at)
                    SELECT mat_hypertable_id, -9223372036854775808, 9223372036854775807, pg_backend_pid(), 0, now()
                    FROM _timescaledb_catalog.continuous_agg WHERE user_view_name IN ('asset_prices_hourly', 'asset_prices_daily')
                    """, holder))
                {
                    Assert.Equal(2, await register.ExecuteNonQueryAsync(Ct));
                }

                // Released only once the applier is seen waiting for it (sleeping in refresh_continuous_aggregate_when_free),
                // so that every run really meets a refresh under way; a run that fails or ends first never releases it.
                var applying = ApplyAsync(applier, connectionString, dataSource);
                var met = false;
                for (var waited = TimeSpan.Zero; !applying.IsCompleted && !met && waited < TimeSpan.FromMinutes(3); waited += TimeSpan.FromMilliseconds(50))
                {
                    met = await dataSource.ScalarAsync<bool>(
                        """
                        SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> $1
                                       AND wait_event = 'PgSleep' AND query LIKE '%refresh_continuous_aggregate_when_free%')
                        """, holder.ProcessID);
                    await Task.Delay(50, Ct);
                }

                await Task.Delay(Hold, Ct);
                await using (var release = new NpgsqlCommand(
                    "DELETE FROM _timescaledb_catalog.continuous_aggs_jobs_refresh_ranges WHERE pid = pg_backend_pid()", holder))
                {
                    await release.ExecuteNonQueryAsync(Ct);
                }

                var applied = await applying;
                Assert.True(applied.ExitCode == 0, $"run {run}: {applier} failed:\n{applied.Output}\n{applied.Error}");
                Assert.True(met, $"run {run}: {applier} was never seen waiting for the refresh under way");
            }

            Assert.Equal(await MigrationCountAsync(), await dataSource.ScalarAsync<long>("SELECT count(*) FROM \"__EFMigrationsHistory\""));

            // The migration's refresh materialized the history (the real-time views would show raw rows without it, so the
            // materialized rows are read), equal to plain SQL over the raw rows, for every whole day of the 40.
            var cutoff = await dataSource.ScalarAsync<DateTime>("SELECT date_trunc('day', now() - interval '1 day')");
            foreach (var view in new[] { "asset_prices_hourly", "asset_prices_daily" })
            {
                var width = view == "asset_prices_hourly" ? "1 hour" : "1 day";
                var table = await dataSource.ScalarAsync<string>(
                    "SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) FROM timescaledb_information.continuous_aggregates WHERE view_name = $1", view);
                var materialized = await dataSource.ScalarAsync<string>(
                    $"""
                    SELECT md5(string_agg(concat_ws('|', asset_id, bucket, open, high, low, close, volume), ',' ORDER BY asset_id, bucket))
                    FROM {table} WHERE bucket < $1
                    """, cutoff);
                var expected = await dataSource.ScalarAsync<string>(
                    $"""
                    SELECT md5(string_agg(concat_ws('|', asset_id, bucket, open, high, low, close, volume), ',' ORDER BY asset_id, bucket))
                    FROM (SELECT asset_id, date_bin(interval '{width}', date, timestamptz '2000-01-01 00:00+00') AS bucket,
                                 (array_agg(open ORDER BY date))[1] AS open, max(high) AS high, min(low) AS low,
                                 (array_agg(close ORDER BY date DESC))[1] AS close, sum(volume) AS volume
                          FROM asset_prices_historic GROUP BY 1, 2) raw
                    WHERE bucket < $1
                    """, cutoff);
                Assert.True(expected == materialized, $"run {run}, {applier}: {view} materialized differs from the raw rows");
            }

            // Every refresh policy is still switched on and due no later than the scheduler itself would set it: its interval
            // after a run, or its retry backoff after a failed one (retry period times failures, at most five intervals,
            // plus 12.5% jitter). A policy postponed or switched off by the migration fails this.
            var policies = await dataSource.QueryAsync(
                """
                SELECT j.job_id, j.scheduled,
                       coalesce(s.next_start, j.next_start, now()) <= now() + least(j.retry_period * 20, j.schedule_interval * 5) * 1.13 + interval '5 seconds',
                       format('%s: scheduled %s, next start %s (now %s), every %s, retry %s, last run %s at %s (%s)', j.hypertable_name, j.scheduled,
                              s.next_start, now(), j.schedule_interval, j.retry_period, s.last_run_status, s.last_run_started_at,
                              (SELECT e.err_message FROM timescaledb_information.job_errors e WHERE e.job_id = j.job_id ORDER BY e.start_time DESC LIMIT 1))
                FROM timescaledb_information.jobs j JOIN timescaledb_information.job_stats s USING (job_id)
                WHERE j.proc_name = 'policy_refresh_continuous_aggregate'
                """);
            Assert.Equal(5, policies.Count);
            Assert.All(policies, p => Assert.True((bool)p[1]! && (bool)p[2]!, $"run {run}, {applier}: refresh policy job {p[0]} is switched off or postponed: {p[3]}"));
        }
    }

    private sealed record Applied(int ExitCode, string Output, string Error);

    private async Task<Applied> ApplyAsync(string applier, string connectionString, NpgsqlDataSource dataSource)
    {
        switch (applier)
        {
            case "database update":
            {
                // As a developer runs it: the design-time factory takes the connection from the environment.
                var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
                var result = await Processes.RunAsync("dotnet",
                    ["ef", "database", "update", "--project", "src/FinanceHub.Data", "--no-build", "--configuration", configuration],
                    Processes.RepositoryRoot,
                    new Dictionary<string, string?>
                    {
                        ["FINANCEHUB_CONNECTION_STRING"] = connectionString, ["TIMESCALE_DB_HOST"] = null, ["TIMESCALE_DB_PORT"] = null,
                        ["TIMESCALE_DB_NAME"] = null, ["TIMESCALE_DB_USER"] = null, ["TIMESCALE_DB_PASSWORD"] = null,
                    },
                    TimeSpan.FromMinutes(5));
                return new(result.ExitCode, result.Output, result.Error);
            }

            case "bundle":
            {
                var result = await Processes.RunAsync(await MigrationBundleTests.GetBundleAsync(), ["--connection", connectionString]);
                return new(result.ExitCode, result.Output, result.Error);
            }

            case "migrate":
            {
                var (code, output, error) = await RunCliAsync("migrate", "--connection", connectionString);
                return new(code, output, error);
            }

            case "idempotent script":
            {
                string script;
                await using (var context = fixture.CreateContext())
                {
                    script = context.GetService<IMigrator>().GenerateScript(null, null, MigrationsSqlGenerationOptions.Idempotent);
                }

                var failure = await Record.ExceptionAsync(() => SqlScriptTests.PsqlAsync(connectionString, dataSource, script));
                return new(failure is null ? 0 : 1, "", failure?.Message ?? "");
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(applier), applier, null);
        }
    }

    private async Task<long> MigrationCountAsync()
    {
        await using var context = fixture.CreateContext();
        return context.Database.GetMigrations().LongCount();
    }
}
