using FinanceHub.Data.Configuration;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Querying;
using FinanceHub.Data.Replicas;
using FinanceHub.Data.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Replicas;

/// <summary>
/// Reads on a real streaming standby of the test server (<c>eng/devstack.sh up --replica</c>): served there, equal to the
/// primary's once replayed, and sent to the primary when the standby is too far behind or stopped.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class ReadReplicaTests(DatabaseFixture fixture)
{
    private static readonly string? StandbyConnectionString = Environment.GetEnvironmentVariable("FINANCEHUB_TEST_REPLICA_CONNECTION_STRING");
    private static readonly string? StandbyControl = Environment.GetEnvironmentVariable("FINANCEHUB_TEST_REPLICA_CONTROL");
    private static readonly DateTimeOffset Start = new(2026, 9, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset End = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(3);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Candles_buckets_as_of_and_read_contexts_are_served_by_the_standby_and_equal_the_primarys()
    {
        await using var setup = await SetUpAsync("replica_reads");
        var (services, primary) = (setup.Services, setup.Primary);
        var routed = services.GetRequiredService<ITimeSeriesRepository>();
        var direct = new TimeSeriesRepository(primary, Manager(primary));

        // A read context on the standby: the serving session says it is in recovery, and it refuses to write.
        await using (var read = await services.GetRequiredService<IFinanceHubReadContextFactory>().CreateAsync(cancellationToken: Ct))
        {
            Assert.True(await read.Database.SqlQuery<bool>($"SELECT pg_is_in_recovery() AS \"Value\"").SingleAsync(Ct));
            Assert.Equal(await primary.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"), await read.AssetPrices.LongCountAsync(Ct));
            read.Assets.Add(new Asset { Symbol = "NOPE", AssetType = AssetType.Crypto });
            Assert.Contains("for reads", (await Assert.ThrowsAsync<InvalidOperationException>(() => read.SaveChangesAsync(Ct))).Message, StringComparison.Ordinal);
        }

        // Candles from each aggregate (hourly, daily, the weekly rung), buckets and as-of prices: the standby's answers are the primary's.
        foreach (var (interval, from, to) in new[] { ("1hour", Start.AddDays(3), Start.AddDays(5)), ("1day", Start, End), ("1week", Start, End) })
        {
            var onStandby = await routed.GetOhlcvAsync("BTC", interval, from, to, cancellationToken: Ct);
            var onPrimary = await direct.GetOhlcvAsync("BTC", interval, from, to, cancellationToken: Ct);
            Assert.Equal("replica", onStandby.ServedBy);
            Assert.NotNull(onStandby.AggregateUsed);
            Assert.NotEmpty(onPrimary.Candles);
            Assert.Equal(onPrimary.Candles, onStandby.Candles);
        }

        var buckets = new TimeBucketQuery("asset_prices_historic", BucketWidth.Parse("1 day"), Start, End);
        Assert.Equal(await direct.GetTimeBucketedDataAsync(buckets, Ct), await routed.GetTimeBucketedDataAsync(buckets, Ct));
        var asOfPrices = services.GetRequiredService<IAsOfPriceRepository>();
        Assert.Equal(Start.AddDays(10), (await asOfPrices.GetPriceAsOfAsync("BTC", Start.AddDays(10).AddMinutes(30), cancellationToken: Ct)).Price!.Date);

        // Hold the standby back: new rows on the primary are not there. Without a limit the standby answers (without them),
        // which shows where the answer came from; with a limit the primary does, with them; after catch-up the standby does.
        var (later, laterEnd) = (End, End.AddDays(1));
        await setup.ExecuteOnStandbyAsync("SELECT pg_wal_replay_pause()");
        try
        {
            await primary.InsertPricesAsync(setup.AssetId, later, laterEnd, TimeSpan.FromHours(1));
            await Task.Delay(TimeSpan.FromSeconds(1.5), Ct);

            var stale = await routed.GetOhlcvAsync("BTC", "1hour", later, laterEnd, cancellationToken: Ct);
            var fresh = await routed.GetOhlcvAsync("BTC", "1hour", later, laterEnd, new OhlcvOptions { MaxStaleness = TimeSpan.FromSeconds(1) }, Ct);
            var staleBuckets = await routed.GetTimeBucketedDataAsync(new TimeBucketQuery("asset_prices_historic", BucketWidth.Parse("1 hour"), later, laterEnd), Ct);
            var freshBuckets = await routed.GetTimeBucketedDataAsync(
                new TimeBucketQuery("asset_prices_historic", BucketWidth.Parse("1 hour"), later, laterEnd, MaxStaleness: TimeSpan.FromSeconds(1)), Ct);
            var staleAsOf = await asOfPrices.GetPriceAsOfAsync("BTC", laterEnd, cancellationToken: Ct);
            var freshAsOf = await asOfPrices.GetPriceAsOfAsync("BTC", laterEnd, new AsOfOptions { MaxStaleness = TimeSpan.FromSeconds(1) }, Ct);
            await using var staleContext = await services.GetRequiredService<IFinanceHubReadContextFactory>().CreateAsync(cancellationToken: Ct);
            await using var freshContext = await services.GetRequiredService<IFinanceHubReadContextFactory>().CreateAsync(TimeSpan.FromSeconds(1), Ct);
            var staleRows = await staleContext.AssetPrices.LongCountAsync(p => p.Date >= later, Ct);
            var freshRows = await freshContext.AssetPrices.LongCountAsync(p => p.Date >= later, Ct);
            var status = await services.GetRequiredService<ReplicaRouter>().GetStatusAsync(Ct);
            var cli = await Processes.RunAsync("dotnet", [typeof(FinanceHub.Data.Cli.CliApplication).Assembly.Location, "status", "--json"], environment: new Dictionary<string, string?>
            {
                ["FINANCEHUB_CONNECTION_STRING"] = setup.PrimaryConnectionString, ["FINANCEHUB_READ_CONNECTION_STRING"] = setup.StandbyConnectionString, ["TIMESCALE_DB_HOST"] = null,
            });

            Assert.Equal(("replica", 0), (stale.ServedBy, stale.Candles.Count));
            Assert.StartsWith("primary (the read endpoint is ", fresh.ServedBy, StringComparison.Ordinal);
            Assert.Equal(24, fresh.Candles.Count);
            // Buckets, as-of prices and read contexts alike: the standby's answer lacks the new rows, the primary's has them.
            Assert.Equal((0, 24), (staleBuckets.Count, freshBuckets.Count));
            Assert.Equal((End.AddHours(-1), laterEnd.AddHours(-1)), (staleAsOf.Price!.Date, freshAsOf.Price!.Date));
            Assert.Equal((0L, 24L), (staleRows, freshRows));
            Assert.True(status is { Reachable: true, InRecovery: true, ReplayPaused: true, ReplayLag.TotalSeconds: >= 1 }, status.ToString());
            Assert.True(cli.ExitCode == 0, cli.Error);
            using var json = System.Text.Json.JsonDocument.Parse(cli.Output);
            var endpoint = json.RootElement.GetProperty("readEndpoint");
            Assert.True(endpoint.GetProperty("inRecovery").GetBoolean());
            Assert.True(endpoint.GetProperty("replayPaused").GetBoolean());
        }
        finally
        {
            await setup.ExecuteOnStandbyAsync("SELECT pg_wal_replay_resume()");
        }

        await setup.WaitForReplayAsync();
        var caughtUp = await routed.GetOhlcvAsync("BTC", "1hour", later, laterEnd, new OhlcvOptions { MaxStaleness = TimeSpan.FromSeconds(5) }, Ct);
        Assert.Equal("replica", caughtUp.ServedBy);
        Assert.Equal((await direct.GetOhlcvAsync("BTC", "1hour", later, laterEnd, cancellationToken: Ct)).Candles, caughtUp.Candles);
    }

    [Fact]
    public async Task With_the_standby_stopped_reads_go_to_the_primary_and_return_to_the_standby_when_it_is_back()
    {
        Assert.SkipUnless(Environment.IsPrivilegedProcess || StandbyControl?.Contains("devstack.sh", StringComparison.Ordinal) != true,
            "Stopping the local stack's standby (eng/devstack.sh replica stop) needs root; run the tests as root, as eng/test.sh does in CI.");
        await using var setup = await SetUpAsync("replica_down");
        var (services, primary) = (setup.Services, setup.Primary);
        var routed = services.GetRequiredService<ITimeSeriesRepository>();
        var expected = (await new TimeSeriesRepository(primary, Manager(primary)).GetOhlcvAsync("BTC", "1day", Start, End, cancellationToken: Ct)).Candles;

        await Setup.ControlAsync("stop");
        try
        {
            // A context made first, before any query found the standby down, goes to the primary as well.
            await using (var first = await setup.CreateServices().GetRequiredService<IFinanceHubReadContextFactory>().CreateAsync(cancellationToken: Ct))
            {
                Assert.False(await first.Database.SqlQuery<bool>($"SELECT pg_is_in_recovery() AS \"Value\"").SingleAsync(Ct));
            }

            var down = await routed.GetOhlcvAsync("BTC", "1day", Start, End, cancellationToken: Ct);
            var again = await routed.GetOhlcvAsync("BTC", "1day", Start, End, cancellationToken: Ct);
            await using var read = await services.GetRequiredService<IFinanceHubReadContextFactory>().CreateAsync(cancellationToken: Ct);
            var status = await services.GetRequiredService<ReplicaRouter>().GetStatusAsync(Ct);

            Assert.StartsWith("primary (the read endpoint failed", down.ServedBy, StringComparison.Ordinal);
            Assert.Equal(expected, down.Candles);
            Assert.Equal("primary (the read endpoint failed recently)", again.ServedBy);
            Assert.False(await read.Database.SqlQuery<bool>($"SELECT pg_is_in_recovery() AS \"Value\"").SingleAsync(Ct));
            Assert.False(status.Reachable);
        }
        finally
        {
            await Setup.ControlAsync("start");
        }

        await setup.WaitForReplayAsync();
        await Task.Delay(RetryAfter + TimeSpan.FromMilliseconds(200), Ct); // the retry period of this test's router
        var back = await routed.GetOhlcvAsync("BTC", "1day", Start, End, cancellationToken: Ct);
        Assert.Equal("replica", back.ServedBy);
        Assert.Equal(expected, back.Candles);
    }

    /// <summary>A migrated database with a month of hourly BTC prices and every aggregate refreshed, replayed on the standby.</summary>
    private async Task<Setup> SetUpAsync(string purpose)
    {
        Assert.SkipWhen(string.IsNullOrEmpty(StandbyConnectionString) || string.IsNullOrEmpty(StandbyControl),
            "Needs a streaming standby of the test server: FINANCEHUB_TEST_REPLICA_CONNECTION_STRING and FINANCEHUB_TEST_REPLICA_CONTROL are not set " +
            "(eng/devstack.sh up --replica, then eng/devstack.sh env, sets them for the local stack).");
        var (connectionString, primary) = await fixture.CreateDatabaseAsync(purpose, migrate: true);
        var standby = new NpgsqlConnectionStringBuilder(StandbyConnectionString) { Database = new NpgsqlConnectionStringBuilder(connectionString).Database }.ConnectionString;
        var setup = new Setup(connectionString, primary, standby);
        try
        {
            setup.AssetId = await primary.InsertAssetAsync("BTC");
            await primary.InsertPricesAsync(setup.AssetId, Start, End, TimeSpan.FromHours(1));
            var manager = Manager(primary);
            foreach (var view in Aggregates.All)
            {
                await manager.RefreshContinuousAggregateAsync(view, cancellationToken: Ct);
            }

            if (!await setup.StandbyAnswersAsync())
            {
                await Setup.ControlAsync("start");
            }

            await setup.WaitForReplayAsync();
            setup.Services = setup.CreateServices();
            return setup;
        }
        catch
        {
            await setup.DisposeAsync();
            throw;
        }
    }

    private sealed class Setup(string primaryConnectionString, NpgsqlDataSource primary, string standbyConnectionString) : IAsyncDisposable
    {
        public string PrimaryConnectionString { get; } = primaryConnectionString;

        public NpgsqlDataSource Primary { get; } = primary;

        public string StandbyConnectionString { get; } = standbyConnectionString;

        public int AssetId { get; set; }

        public ServiceProvider Services { get; set; } = null!;

        private readonly List<ServiceProvider> _providers = [];

        /// <summary>The application's registrations (AddFinanceHubData) pointed at this test's primary and standby.</summary>
        public ServiceProvider CreateServices()
        {
            var services = new ServiceCollection();
            services.AddFinanceHubData(new ConfigurationBuilder().Build());
            services.PostConfigure<DatabaseOptions>(o =>
            {
                (o.ConnectionString, o.ReadConnectionString, o.MaxReplicaLag, o.ReplicaRetryAfter) = (PrimaryConnectionString, StandbyConnectionString, null, RetryAfter);
            });
            var provider = services.BuildServiceProvider();
            _providers.Add(provider);
            return provider;
        }

        public async Task<bool> StandbyAnswersAsync()
        {
            try
            {
                await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(StandbyConnectionString) { Database = "postgres", Pooling = false, Timeout = 3 }.ConnectionString);
                await connection.OpenAsync(Ct);
                return true;
            }
            catch (NpgsqlException)
            {
                return false;
            }
        }

        public async Task ExecuteOnStandbyAsync(string sql)
        {
            await using var connection = new NpgsqlConnection(StandbyConnectionString);
            await connection.OpenAsync(Ct);
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync(Ct);
        }

        /// <summary>Waits until the standby has replayed everything the primary has written so far (and the test database exists there).</summary>
        public async Task WaitForReplayAsync()
        {
            var target = await Primary.ScalarAsync<string>("SELECT pg_current_wal_lsn()::text");
            var server = new NpgsqlConnectionStringBuilder(StandbyConnectionString) { Database = "postgres", Pooling = false }.ConnectionString;
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                try
                {
                    await using var connection = new NpgsqlConnection(server);
                    await connection.OpenAsync(Ct);
                    await using var command = new NpgsqlCommand("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", connection) { Parameters = { new() { Value = target } } };
                    if ((bool)(await command.ExecuteScalarAsync(Ct))!)
                    {
                        return;
                    }
                }
                catch (NpgsqlException) when (DateTime.UtcNow < deadline)
                {
                    // Starting up.
                }

                Assert.True(DateTime.UtcNow < deadline, $"The standby did not replay up to {target} within 60 s.");
                await Task.Delay(100, Ct);
            }
        }

        public static async Task ControlAsync(string verb)
        {
            var parts = StandbyControl!.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var run = await Processes.RunAsync("bash", [.. parts, verb], timeout: TimeSpan.FromSeconds(90));
            Assert.True(run.ExitCode == 0, $"{StandbyControl} {verb}: {run.Error}");
            NpgsqlConnection.ClearAllPools();
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var provider in _providers)
            {
                await provider.DisposeAsync();
            }

            await Primary.DisposeAsync();
        }
    }
}
