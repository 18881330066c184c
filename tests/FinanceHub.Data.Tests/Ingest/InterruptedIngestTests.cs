using System.Diagnostics;
using FinanceHub.Data.Cli;
using FinanceHub.Data.Querying;
using FinanceHub.Data.Tests.Infrastructure;
using Npgsql;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Ingest;

/// <summary>
/// A load interrupted after its rows committed, while it refreshes the aggregates over them: by SIGKILL of the command, or
/// by the loss of its connection (what a server crash does to a client; the shared test server itself cannot crash
/// mid-suite without breaking every other test's connections). The candles must come out equal to plain SQL over the raw
/// rows once the same command runs again or maintain runs, and each process must exit with the code its message promises.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class InterruptedIngestTests(DatabaseFixture fixture)
{
    private static readonly string Tool = typeof(CliApplication).Assembly.Location;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("killed", 2)]
    [InlineData("killed", 1)]
    [InlineData("disconnected", 2)]
    [InlineData("disconnected", 1)]
    [InlineData("job", 2)]
    public async Task A_load_interrupted_after_its_commit_leaves_candles_that_its_rerun_or_maintain_make_exact(string interruption, int streams)
    {
        if (interruption == "job")
        {
            fixture.RequireCommunity();
        }

        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync($"ingest_{interruption}", migrate: true);
        var directory = Directory.CreateTempSubdirectory("fh-interrupted-").FullName;
        try
        {
            // Two days of history up to now (the aggregates materialized over it), then a week backfilled 60 days back: below
            // every watermark and out of reach of the community edition's refresh policies (7 and 30 days back).
            var today = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero);
            var history = await IngestOracle.WriteCsvAsync(Path.Combine(directory, "history.csv"), today.AddDays(-2), 2, 4, seed: 1);
            var weekStart = today.AddDays(-60);
            var backfill = await IngestOracle.WriteCsvAsync(Path.Combine(directory, "backfill.csv"), weekStart, 7, 4, seed: 7);
            var loaded = await Processes.RunAsync("dotnet", [Tool, "ingest", history, "--create-symbols", "--connection", connectionString]);
            Assert.True(loaded.ExitCode == 0, loaded.Error);
            var materialize = await Processes.RunAsync("dotnet", [Tool, "maintain", "--force", "--connection", connectionString]);
            Assert.True(materialize.ExitCode == 0, materialize.Output + materialize.Error);

            // The refresh after the backfill's commit waits on a lock the test holds, until the interruption.
            var (exitCode, error) = await InterruptDuringRefreshAsync(dataSource, connectionString, backfill, interruption, streams);

            // Every row of the file is in, once: the server's own reading of the CSV against the table.
            Assert.Equal(await IngestOracle.CsvMd5Async(dataSource, backfill), await IngestOracle.TableMd5Async(dataSource, weekStart, weekStart.AddDays(7)));
            var repository = new TimeSeriesRepository(dataSource, Manager(dataSource));
            var stale = await IngestOracle.ServedCandlesAsync(repository, "S2", "1day", weekStart, weekStart.AddDays(7));
            Assert.NotEqual(await IngestOracle.SqlCandlesAsync(dataSource, "S2", "1 day", weekStart, weekStart.AddDays(7)), stale);

            if (interruption == "killed")
            {
                // Killed while it ran (SIGKILL: .NET reports 128 + 9), not ended by itself; then the same command again:
                // nothing left to load, and the refresh it owed is done by that run alone.
                Assert.True(exitCode == 128 + 9, $"exit code {exitCode}, not SIGKILL's: {error}");
                var rerun = await Processes.RunAsync("dotnet", [Tool, "ingest", backfill, "--parallel", $"{streams}", "--connection", connectionString]);
                Assert.True(rerun.ExitCode == 0, rerun.Error);
                Assert.Contains("Nothing left to load", rerun.Output, StringComparison.Ordinal);
                await AssertCandlesExactAsync();
            }
            else if (interruption == "job")
            {
                // Community: TimescaleDB's own scheduler completes it, through the project's job (run now, in the foreground).
                Assert.True(exitCode == 0, error);
                var job = await dataSource.ScalarAsync<int>(
                    "SELECT job_id FROM timescaledb_information.jobs WHERE proc_schema = 'financehub' AND proc_name = 'complete_owed_refreshes'");
                await dataSource.ExecuteAsync($"CALL run_job({job})");
                await AssertCandlesExactAsync();
            }
            else
            {
                // The rows are committed: exit 0, with a warning that says so and who completes the refresh. Then maintain
                // alone makes the candles exact; and a rerun after it loads nothing.
                Assert.True(exitCode == 0, error);
                Assert.Contains("the rows are committed", error, StringComparison.Ordinal);
                Assert.Contains("maintain", error, StringComparison.Ordinal);
                var maintain = await Processes.RunAsync("dotnet", [Tool, "maintain", "--connection", connectionString]);
                Assert.True(maintain.ExitCode == 0, maintain.Output + maintain.Error);
                await AssertCandlesExactAsync();
                var rerun = await Processes.RunAsync("dotnet", [Tool, "ingest", backfill, "--connection", connectionString]);
                Assert.True(rerun.ExitCode == 0, rerun.Error);
                Assert.Contains("Nothing left to load", rerun.Output, StringComparison.Ordinal);
            }

            async Task AssertCandlesExactAsync()
            {
                foreach (var symbol in new[] { "S1", "S2", "S3", "S4" })
                {
                    foreach (var (interval, width) in new[] { ("1day", "1 day"), ("1hour", "1 hour") })
                    {
                        var expected = await IngestOracle.SqlCandlesAsync(dataSource, symbol, width, weekStart, weekStart.AddDays(7));
                        Assert.Equal(7 * (width == "1 day" ? 1 : 24), expected.Count);
                        Assert.Equal(expected, await IngestOracle.ServedCandlesAsync(repository, symbol, interval, weekStart, weekStart.AddDays(7)));
                    }
                }

                Assert.Equal(0L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM financehub.pending_refreshes WHERE kind = 'rows'"));
            }

            // Still once: the reruns wrote nothing.
            Assert.Equal(await IngestOracle.CsvMd5Async(dataSource, backfill), await IngestOracle.TableMd5Async(dataSource, weekStart, weekStart.AddDays(7)));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// Runs the load as its own process while the test holds the price aggregates' materialization locked; once every
    /// stream's transaction has committed (the ledger, read by the test, shows every part) and the process waits on the
    /// test's lock (the only client sessions that can wait on a lock here are the load's; policy jobs are background
    /// workers), kills it or ends its waiting connection, then releases the lock. Returns the exit code and standard error.
    /// </summary>
    private async Task<(int ExitCode, string Error)> InterruptDuringRefreshAsync(
        NpgsqlDataSource dataSource, string connectionString, string file, string interruption, int streams)
    {
        await using var holder = await dataSource.OpenConnectionAsync(Ct);
        await using var hold = await holder.BeginTransactionAsync(Ct);
        var materialized = fixture.IsCommunity
            ? (await dataSource.QueryAsync(
                """
                SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) FROM timescaledb_information.continuous_aggregates
                WHERE view_name IN ('asset_prices_hourly', 'asset_prices_daily')
                """)).Select(r => (string)r[0]!).ToList()
            // Apache: materialized views cannot be locked; their refresh commits with the watermark it records, which waits.
            : ["financehub.maintenance_policies"];
        Assert.Equal(fixture.IsCommunity ? 2 : 1, materialized.Count);
        await using (var lockCommand = new NpgsqlCommand($"LOCK TABLE {string.Join(", ", materialized)} IN {(fixture.IsCommunity ? "EXCLUSIVE" : "SHARE")} MODE", holder, hold))
        {
            await lockCommand.ExecuteNonQueryAsync(Ct);
        }

        var start = new ProcessStartInfo("dotnet", [Tool, "ingest", file, "--parallel", $"{streams}", "--connection", connectionString])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(Ct);
        var error = process.StandardError.ReadToEndAsync(Ct);
        var key = IngestOracle.LoadKey(file);
        var deadline = DateTime.UtcNow.AddSeconds(90);
        int[] waiting = [];
        while (!process.HasExited && DateTime.UtcNow < deadline)
        {
            var committed = await dataSource.ScalarAsync<long>("SELECT count(*) FROM financehub.loads WHERE load_key = $1", key);
            waiting = [.. (await dataSource.QueryAsync(
                    """
                    SELECT pid FROM pg_stat_activity
                    WHERE datname = current_database() AND wait_event_type = 'Lock' AND backend_type = 'client backend' AND pid <> pg_backend_pid()
                    """))
                .Select(r => (int)r[0]!)];
            if (committed == streams && waiting.Length > 0)
            {
                break;
            }

            await Task.Delay(25, Ct);
        }

        var parts = await dataSource.ScalarAsync<long>("SELECT count(*) FROM financehub.loads WHERE load_key = $1", key);
        if (process.HasExited || waiting.Length == 0 || parts != streams)
        {
            var activity = await dataSource.QueryAsync(
                "SELECT concat_ws(' | ', pid, application_name, state, wait_event_type, wait_event, left(query, 80)) FROM pg_stat_activity WHERE datname = current_database()");
            Assert.Fail($"not interrupted after the commit (exited: {process.HasExited}, parts committed {parts} of {streams}): " +
                        string.Join("; ", activity.Select(a => a[0])));
        }

        Assert.True(waiting.Length > 0, "the load did not reach its refresh within 90 s");
        if (interruption == "killed")
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct);
        }

        // A killed client's session does not notice while it waits on a lock: released now, it would finish the refresh
        // the client asked for. Ended first, as a crash ends it, it leaves the refresh undone.
        foreach (var pid in waiting)
        {
            await dataSource.ExecuteAsync("SELECT pg_terminate_backend($1)", pid);
        }

        await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct);
        await hold.RollbackAsync(Ct);
        await output;
        return (process.ExitCode, await error);
    }
}
