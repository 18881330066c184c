using System.Globalization;
using FinanceHub.Data.Ingest;
using FinanceHub.Data.Tests.Infrastructure;
using Npgsql;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Ingest;

/// <summary>
/// Parallel loads while other sessions act on the chunks being loaded: the compression policy run by the job scheduler
/// every second, a person compressing chunks by hand, a retention drop. Before the streams locked each chunk up front,
/// a policy queueing between two streams, or a chunk compressed while empty, left the streams waiting on each other
/// through the client (a hang, or a timeout after 30 s). Each load must end within its bound, and either commit exactly
/// the file's rows (an md5 over them, the file parsed by the server) or fail naming why and keep none.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class ParallelIngestUnderJobsTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>How many loads the policy test runs (FINANCEHUB_TEST_POLICY_RUNS; 20 by default).</summary>
    private static int PolicyRuns => int.TryParse(Environment.GetEnvironmentVariable("FINANCEHUB_TEST_POLICY_RUNS"), CultureInfo.InvariantCulture, out var n) ? n : 20;

    [Fact]
    public async Task Parallel_loads_while_the_compression_policy_runs_every_second_commit_exactly_the_files_rows()
    {
        fixture.RequireCommunity();
        var (_, dataSource) = await fixture.CreateDatabaseAsync("ingest_policy", migrate: true);
        var ingestor = Ingestor(dataSource);
        var job = await dataSource.ScalarAsync<int>(
            "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_name = 'asset_prices_historic'");
        await dataSource.ExecuteAsync("SELECT alter_job($1, schedule_interval => interval '1 second', next_start => now())", job);
        var overlapped = 0;
        var directory = Directory.CreateTempSubdirectory("fh-policy-").FullName;
        try
        {
            var today = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero);
            for (var run = 0; run < PolicyRuns; run++)
            {
                // A month of five-minute bars of ten assets: each load creates most of its chunks, old enough (over 30 days)
                // for the policy to compress them the moment they exist; the chunk it shares with the run before may be
                // compressed already (an insert into a compressed chunk).
                var start = today.AddDays(-90 - (30 * run));
                var file = await IngestOracle.WriteCsvAsync(Path.Combine(directory, $"run{run}.csv"), start, 30, 10, seed: run, stepMinutes: 5);

                // Due a moment into the load (a policy run that failed waits for its retry backoff otherwise).
                await dataSource.ExecuteAsync("SELECT alter_job($1, next_start => now() + interval '300 milliseconds')", job);
                var loadStart = await dataSource.ScalarAsync<DateTime>("SELECT now()");
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var result = await ingestor.IngestPricesAsync(ReadCsv(file), new IngestOptions { Parallelism = 2, RefreshAggregates = false, OnUnknownSymbol = UnknownSymbolMode.Create }, Ct)
                    .WaitAsync(TimeSpan.FromMinutes(2), Ct);
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"run {run}: the load took {clock.Elapsed}");
                if (await dataSource.ScalarAsync<bool>(
                        "SELECT coalesce(last_run_started_at BETWEEN $2 AND now(), false) FROM timescaledb_information.job_stats WHERE job_id = $1", job, loadStart))
                {
                    overlapped++;
                }

                Assert.Equal(10 * 30 * 288, result.RowsWritten);
                Assert.True(await IngestOracle.CsvMd5Async(dataSource, file) == await IngestOracle.TableMd5Async(dataSource, start, start.AddDays(30)),
                    $"run {run}: the table's rows of [{start:O}, +30 days) differ from the file's");
            }

            // The policy did start while loads ran, and compressed the loads' chunks.
            Assert.True(overlapped >= Math.Max(1, PolicyRuns / 4), $"a compression policy run started during only {overlapped} of {PolicyRuns} loads");
            Assert.True(await dataSource.ScalarAsync<long>(
                "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'asset_prices_historic' AND is_compressed") > 0);
        }
        finally
        {
            await dataSource.ExecuteAsync("SELECT alter_job($1, schedule_interval => interval '1 day')", job);
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Parallel_loads_while_a_person_compresses_the_chunks_end_within_seconds_with_all_rows_or_none()
    {
        fixture.RequireCommunity();
        await LoadWhileAsync("ingest_compress", ageDays: 120, _ =>
            "SELECT count(compress_chunk(c, if_not_compressed => true)) FROM show_chunks('asset_prices_historic', older_than => interval '60 days') c",
            checkFromDay: 0);
    }

    [Fact]
    public async Task Parallel_loads_while_retention_drops_their_chunks_end_within_seconds_with_all_rows_or_none()
    {
        // Drops the chunks of the load's first two weeks: those rows may go once committed (that is what a drop does); the
        // chunks from day 22 on are never dropped, and hold exactly the file's rows.
        await LoadWhileAsync("ingest_drop", ageDays: 1000, start =>
            $"SELECT count(*) FROM drop_chunks('asset_prices_historic', older_than => '{start.AddDays(15):O}'::timestamptz)",
            checkFromDay: 22);
    }

    /// <summary>
    /// Five parallel loads of a month of bars <paramref name="ageDays"/> back, while another session runs the statement
    /// (made for the load's first day) on their chunks, at a different moment of each. A load either commits the file's rows exactly (from
    /// <paramref name="checkFromDay"/> on) or fails (a lock cycle with that session, named; or its chunks dropped under
    /// it) keeping none; none runs past its bound.
    /// </summary>
    private async Task LoadWhileAsync(string purpose, int ageDays, Func<DateTimeOffset, string> statementFor, int checkFromDay)
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync(purpose, migrate: true);
        var ingestor = Ingestor(dataSource);
        var directory = Directory.CreateTempSubdirectory("fh-jobs-").FullName;
        var outcomes = new List<string>();
        var overlapping = 0;
        try
        {
            var today = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero);
            for (var run = 0; run < 5; run++)
            {
                var start = today.AddDays(-ageDays - (35 * run));
                var file = await IngestOracle.WriteCsvAsync(Path.Combine(directory, $"run{run}.csv"), start, 30, 10, seed: run, stepMinutes: 5);
                var statement = statementFor(start);
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var other = Task.Run(async () =>
                {
                    // Once, a little later in each run: early, it meets the chunks the load is creating and locking. When
                    // the server picks it as a deadlock's victim (40P01), that is the server's resolution, not a failure.
                    await using var connection = await dataSource.OpenConnectionAsync(stop.Token);
                    await Task.Delay(TimeSpan.FromMilliseconds(new[] { 0, 60, 150, 300, 600 }[run]), stop.Token);
                    var began = clock.Elapsed;
                    await using var command = new NpgsqlCommand(statement, connection) { CommandTimeout = 120 };
                    try
                    {
                        await command.ExecuteScalarAsync(stop.Token);
                    }
                    catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DeadlockDetected)
                    {
                    }

                    return (Began: began, Ended: clock.Elapsed);
                }, stop.Token);
                TimeSpan loadEnded;
                try
                {
                    await ingestor.IngestPricesAsync(ReadCsv(file),
                            new IngestOptions { Parallelism = 2, RefreshAggregates = false, OnUnknownSymbol = UnknownSymbolMode.Create }, Ct)
                        .WaitAsync(TimeSpan.FromMinutes(2), Ct);
                    loadEnded = clock.Elapsed;
                    outcomes.Add("loaded");
                    await other.WaitAsync(TimeSpan.FromMinutes(2), Ct);
                    var from = start.AddDays(checkFromDay);
                    Assert.True(await IngestOracle.CsvMd5Async(dataSource, file, from, start.AddDays(30)) == await IngestOracle.TableMd5Async(dataSource, from, start.AddDays(30)),
                        $"run {run}: the table's rows of [{from:O}, {start.AddDays(30):O}) differ from the file's");
                }
                catch (Exception ex) when (ex is LoadLockCycleException || (ex is InvalidOperationException && ex.Message.Contains("was dropped", StringComparison.Ordinal)))
                {
                    loadEnded = clock.Elapsed;
                    outcomes.Add(ex.GetType().Name);
                    await other.WaitAsync(TimeSpan.FromMinutes(2), Ct);
                    Assert.Contains("Nothing of the load was kept", ex.Message, StringComparison.OrdinalIgnoreCase);
                    Assert.Null(await IngestOracle.TableMd5Async(dataSource, start, start.AddDays(30)));
                }

                // Within seconds, whatever happened; and did the statement run while the load did?
                Assert.True(loadEnded < TimeSpan.FromSeconds(30), $"run {run}: the load took {loadEnded}");
                var (began, _) = await other;
                if (began < loadEnded)
                {
                    overlapping++;
                }

            }

            // Dropping the chunks of a load that committed is the statement's business; what matters is that some loads
            // committed, and that the statement met loads under way.
            Assert.Contains("loaded", outcomes);
            Assert.True(overlapping >= 3, $"the statement started before the load ended in only {overlapping} of 5 runs");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The file's rows, read by the test (the product's CSV reader is the CLI's; here the library is under test).</summary>
    private static async IAsyncEnumerable<PriceRow> ReadCsv(string path)
    {
        foreach (var line in (await File.ReadAllLinesAsync(path, Ct)).Skip(1))
        {
            var f = line.Split(',');
            yield return new PriceRow(f[0], DateTimeOffset.Parse(f[1], CultureInfo.InvariantCulture), D(f[2]), D(f[3]), D(f[4]), D(f[5]), D(f[6]),
                TradeCount: int.Parse(f[7], CultureInfo.InvariantCulture));
        }

        static decimal D(string text) => decimal.Parse(text, CultureInfo.InvariantCulture);
    }
}
