using FinanceHub.Data.Ingest;
using FinanceHub.Data.Tests.Infrastructure;
using FinanceHub.Data.Timescale;
using FinanceHub.Data.Timescale.Maintenance;
using Npgsql;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Timescale;

/// <summary>
/// Refreshes started by the project while another refresh holds the same aggregate. Since 2.27 TimescaleDB registers each
/// running refresh's window with its backend's pid and fails an overlapping one with 55P03; the tests register such a window
/// from a connection of their own (the state a running refresh policy leaves), so the collision happens every time.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class ConcurrentRefreshTests(DatabaseFixture fixture)
{
    private static readonly DateTimeOffset Today = new(DateTime.UtcNow.Date, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_refresh_that_meets_a_concurrent_refresh_waits_for_it_and_then_refreshes()
    {
        var dataSource = await CreateDatabaseAsync("refresh_waits");
        await using var _ = dataSource;
        var asset = await dataSource.InsertAssetAsync("BTC");
        await dataSource.InsertPricesAsync(asset, Today.AddDays(-10), Today.AddDays(-2), TimeSpan.FromHours(1));
        var manager = Manager(dataSource, new RefreshRetryOptions { MaxRetries = 30, FirstDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromMilliseconds(300) });

        await using (var holder = await HoldRefreshWindowsAsync(dataSource, "asset_prices_daily"))
        {
            var refresh = manager.RefreshContinuousAggregateAsync("asset_prices_daily", cancellationToken: Ct);
            await Task.Delay(TimeSpan.FromSeconds(1), Ct);
            Assert.False(refresh.IsCompleted, "the refresh should still be waiting behind the held window");
            await ReleaseAsync(holder);

            var result = await refresh;

            Assert.Equal(AggregateRefreshStatus.Refreshed, result.Status);
            Assert.True(result.Attempts > 1, $"attempts: {result.Attempts}");
        }

        Assert.Equal(8, await MaterializedRowsAsync(dataSource, "asset_prices_daily"));
    }

    [Fact]
    public async Task A_backfill_while_the_aggregates_are_being_refreshed_commits_its_rows_and_reports_the_refresh_pending()
    {
        var dataSource = await CreateDatabaseAsync("ingest_pending");
        await using var _ = dataSource;
        var asset = await dataSource.InsertAssetAsync("BTC");
        await dataSource.InsertPricesAsync(asset, Today.AddDays(-45), Today, TimeSpan.FromHours(1));
        var impatient = new RefreshRetryOptions { MaxRetries = 1, FirstDelay = TimeSpan.FromMilliseconds(50) };
        var manager = Manager(dataSource, impatient);
        await manager.RefreshContinuousAggregateAsync("asset_prices_daily", cancellationToken: Ct);
        await manager.RefreshContinuousAggregateAsync("asset_prices_hourly", cancellationToken: Ct);
        // The candle ladder's rungs were refreshed with their parents; their policies are paused, so that only the
        // project's refreshes can bring the backfill into them.
        await dataSource.ExecuteAsync(
            """
            SELECT alter_job(j.job_id, scheduled => false) FROM timescaledb_information.jobs j
            JOIN timescaledb_information.continuous_aggregates ca
              ON (j.hypertable_schema, j.hypertable_name) IN ((ca.view_schema, ca.view_name), (ca.materialization_hypertable_schema, ca.materialization_hypertable_name))
            WHERE j.proc_name = 'policy_refresh_continuous_aggregate' AND ca.view_name IN ('asset_prices_weekly', 'asset_prices_monthly', 'asset_prices_4hour')
            """);
        // A Wednesday of last month whose week has ended: its week, month and 4 hours are whole candles in the past,
        // which the rungs hold, whatever the date.
        var day = new DateTimeOffset(Today.Year, Today.Month, 1, 0, 0, 0, TimeSpan.Zero).AddDays(-1);
        while (day.DayOfWeek != DayOfWeek.Wednesday)
        {
            day = day.AddDays(-1);
        }

        if (day.AddDays(5) > DateTimeOffset.UtcNow.AddHours(-1))
        {
            day = day.AddDays(-7);
        }

        PriceRow[] backfill = [.. Enumerable.Range(0, 24).Select(h => new PriceRow("BTC", day.AddHours(h).AddMinutes(30), 1, 2, 0.5m, 1, 1000))];

        IngestResult result;
        await using (var holder = await HoldRefreshWindowsAsync(dataSource, "asset_prices_daily", "asset_prices_hourly"))
        {
            result = await Ingestor(dataSource, impatient).IngestPricesAsync(backfill, cancellationToken: Ct);
            Assert.Equal(await RawDailyVolumeAsync(dataSource, day) - 24_000, await AggregateDailyVolumeAsync(dataSource, day));
            foreach (var (rung, bucket) in Rungs)
            {
                Assert.Equal(await RawVolumeAsync(dataSource, bucket, day) - (rung == "asset_prices_4hour" ? 4_000 : 24_000), await RungVolumeAsync(dataSource, rung, bucket, day));
            }
            await ReleaseAsync(holder);
        }

        Assert.Equal(24, result.RowsWritten);
        Assert.Equal(["asset_prices_daily", "asset_prices_hourly"], result.AggregateRefreshes!.Select(r => r.View).Order());
        Assert.All(result.AggregateRefreshes!, r =>
        {
            Assert.Equal(AggregateRefreshStatus.Pending, r.Status);
            Assert.Contains("concurrent refresh", r.Detail, StringComparison.Ordinal);
        });

        // Recorded as owed, and the next ordinary maintenance run (not forced: no policy job runs) refreshes it.
        Assert.Equal(["asset_prices_daily", "asset_prices_hourly"],
            (await dataSource.QueryAsync("SELECT view_name FROM financehub.pending_refreshes")).Select(r => ((string)r[0]!).Trim('"').Split('.')[^1].Trim('"')).Order());
        var maintenance = await manager.RunMaintenanceAsync(force: false, Ct);
        Assert.Equal(2, maintenance.Count(m => m.Policy.StartsWith("pending refresh", StringComparison.Ordinal) && m.Outcome == MaintenanceOutcome.Succeeded));
        Assert.Equal(await RawDailyVolumeAsync(dataSource, day), await AggregateDailyVolumeAsync(dataSource, day));
        // The rungs over the daily and hourly aggregates were refreshed after them, over the pending windows.
        foreach (var (rung, bucket) in Rungs)
        {
            Assert.Equal(await RawVolumeAsync(dataSource, bucket, day), await RungVolumeAsync(dataSource, rung, bucket, day));
        }
        Assert.Equal(0L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM financehub.pending_refreshes"));
    }

    [Fact]
    public async Task A_policy_run_that_meets_a_concurrent_refresh_is_reported_pending_not_failed()
    {
        var dataSource = await CreateDatabaseAsync("maintain_pending");
        await using var _ = dataSource;
        var manager = Manager(dataSource, new RefreshRetryOptions { MaxRetries = 1, FirstDelay = TimeSpan.FromMilliseconds(50) });

        IReadOnlyList<MaintenanceRunResult> results;
        await using (var holder = await HoldRefreshWindowsAsync(dataSource, "asset_prices_daily"))
        {
            results = await manager.RunMaintenanceAsync(force: true, Ct);
            await ReleaseAsync(holder);
        }

        Assert.Contains(results, r => r.Target == "asset_prices_daily" && r.Outcome == MaintenanceOutcome.Pending);
        Assert.Contains(results, r => r.Target == "asset_prices_hourly" && r.Outcome == MaintenanceOutcome.Succeeded);
        Assert.DoesNotContain(results, r => r.Outcome == MaintenanceOutcome.Failed);
        // Released, the same job runs through.
        var again = await manager.RunMaintenanceAsync(force: true, Ct);
        Assert.Contains(again, r => r.Target == "asset_prices_daily" && r.Kind.Contains("refresh", StringComparison.Ordinal) && r.Outcome == MaintenanceOutcome.Succeeded);
    }

    private async Task<NpgsqlDataSource> CreateDatabaseAsync(string purpose)
    {
        fixture.RequireCommunity();
        var tracked = await fixture.DataSource.ScalarAsync<bool>(
            "SELECT to_regclass('_timescaledb_catalog.continuous_aggs_jobs_refresh_ranges') IS NOT NULL");
        Assert.SkipUnless(tracked,
            "This TimescaleDB makes a refresh wait for a concurrent one instead of failing (55P03 and its retry exist since 2.27); " +
            "point FINANCEHUB_CONNECTION_STRING at TimescaleDB 2.27 or later to run it.");
        var (_, dataSource) = await fixture.CreateDatabaseAsync(purpose, migrate: true);
        // The policies' own scheduled runs would race the test's; they are run on demand (maintain --force) here.
        await dataSource.ExecuteAsync(
            "SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate'");
        return dataSource;
    }

    /// <summary>Registers a refresh over all time of <paramref name="views"/> on a connection that stays open, as a running refresh does.</summary>
    private static async Task<NpgsqlConnection> HoldRefreshWindowsAsync(NpgsqlDataSource dataSource, params string[] views)
    {
        var connection = await dataSource.OpenConnectionAsync(Ct);
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO _timescaledb_catalog.continuous_aggs_jobs_refresh_ranges (materialization_id, start_range, end_range, pid, job_id, created_at)
            SELECT mat_hypertable_id, -9223372036854775808, 9223372036854775807, pg_backend_pid(), 0, now()
            FROM _timescaledb_catalog.continuous_agg WHERE user_view_name = ANY($1)
            """, connection);
        command.Parameters.Add(new() { Value = views });
        Assert.Equal(views.Length, await command.ExecuteNonQueryAsync(Ct));
        return connection;
    }

    private static async Task ReleaseAsync(NpgsqlConnection holder)
    {
        await using var command = new NpgsqlCommand(
            "DELETE FROM _timescaledb_catalog.continuous_aggs_jobs_refresh_ranges WHERE pid = pg_backend_pid()", holder);
        await command.ExecuteNonQueryAsync(Ct);
    }

    private static async Task<long> MaterializedRowsAsync(NpgsqlDataSource dataSource, string view)
    {
        var table = await dataSource.ScalarAsync<string>(
            "SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) FROM timescaledb_information.continuous_aggregates WHERE view_name = $1",
            view);
        return await dataSource.ScalarAsync<long>($"SELECT count(*) FROM {table}");
    }

    private static async Task<decimal> RawDailyVolumeAsync(NpgsqlDataSource dataSource, DateTimeOffset day)
        => await dataSource.ScalarAsync<decimal>(
            "SELECT sum(volume) FROM asset_prices_historic WHERE date >= $1 AND date < $1 + interval '1 day'", day);

    /// <summary>The candle ladder's rungs and the bucket of each that holds a time (plain SQL over a value named t, in UTC).</summary>
    private static readonly (string View, string Bucket)[] Rungs =
    [
        ("asset_prices_weekly", "date_trunc('week', t, 'UTC')"),
        ("asset_prices_monthly", "date_trunc('month', t, 'UTC')"),
        ("asset_prices_4hour", "date_trunc('day', t, 'UTC') + floor(extract(hour FROM t AT TIME ZONE 'UTC') / 4) * interval '4 hours'"),
    ];

    /// <summary>The raw volume of the bucket holding <paramref name="day"/>'s 09:00.</summary>
    private static Task<decimal> RawVolumeAsync(NpgsqlDataSource dataSource, string bucket, DateTimeOffset day)
        => dataSource.ScalarAsync<decimal>(
            $"SELECT coalesce(sum(volume), 0) FROM (SELECT volume, date AS t FROM asset_prices_historic) p WHERE {bucket} = (SELECT {bucket} FROM (SELECT $1::timestamptz AS t) x)",
            day.AddHours(9));

    /// <summary>A rung's materialized volume of that bucket (read from its materialization hypertable: no real-time rows), 0 when none.</summary>
    private static async Task<decimal> RungVolumeAsync(NpgsqlDataSource dataSource, string rung, string bucket, DateTimeOffset day)
    {
        var table = await dataSource.ScalarAsync<string>(
            "SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) FROM timescaledb_information.continuous_aggregates WHERE view_name = $1", rung);
        return await dataSource.ScalarAsync<decimal>(
            $"SELECT coalesce((SELECT volume FROM {table} WHERE bucket = (SELECT {bucket} FROM (SELECT $1::timestamptz AS t) x)), 0)", day.AddHours(9));
    }

    private static async Task<decimal> AggregateDailyVolumeAsync(NpgsqlDataSource dataSource, DateTimeOffset day)
        => await dataSource.ScalarAsync<decimal>("SELECT volume FROM asset_prices_daily WHERE bucket = $1", day);
}
