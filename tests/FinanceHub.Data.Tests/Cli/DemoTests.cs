using System.Text.Json;
using FinanceHub.Data.Tests.Infrastructure;

namespace FinanceHub.Data.Tests.Cli;

/// <summary>The main job's demo (<c>financehub-data demo</c>, run by eng/run-local.sh), through the real process.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class DemoTests(DatabaseFixture fixture)
{
    private static readonly string Tool = typeof(FinanceHub.Data.Cli.CliApplication).Assembly.Location;

    [Fact]
    public async Task The_demo_loads_prices_shows_a_week_of_candles_and_round_trips_an_archive_and_a_second_run_loads_nothing_again()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("demo", migrate: true);
        await using var _ = dataSource;
        var folder = Directory.CreateTempSubdirectory("financehub-demo-").FullName;
        try
        {
            var environment = new Dictionary<string, string?> { ["FINANCEHUB_CONNECTION_STRING"] = connectionString, ["ARCHIVE_BASE_PATH"] = folder };
            // Another asset's rows on the demo's archive day: the round trip must leave them alone.
            var other = await dataSource.InsertAssetAsync("OTHER");
            var day = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero).AddDays(-7);
            await dataSource.InsertPricesAsync(other, day, day.AddDays(1), TimeSpan.FromMinutes(30));
            const string TableMd5 = "SELECT md5(string_agg(concat_ws('|', asset_id, date, open, high, low, close, volume), ',' ORDER BY asset_id, date)) FROM asset_prices_historic";
            var first = await Processes.RunAsync("dotnet", [Tool, "demo", "--days", "8", "--json"], environment: environment);
            var afterFirst = await dataSource.ScalarAsync<string>(TableMd5);
            var second = await Processes.RunAsync("dotnet", [Tool, "demo", "--days", "8", "--json"], environment: environment);
            var afterSecond = await dataSource.ScalarAsync<string>(TableMd5);

            Assert.True(first.ExitCode == 0, first.Error);
            var run = JsonDocument.Parse(first.Output).RootElement;
            Assert.Equal(8 * 1_440 * 4, run.GetProperty("loaded").GetProperty("rowsWritten").GetInt64());
            Assert.Equal(7, run.GetProperty("candles").GetProperty("candles").GetArrayLength());
            var trip = run.GetProperty("roundTrip");
            Assert.True(trip.GetProperty("identical").GetBoolean());
            Assert.Equal(4 * 1_440, trip.GetProperty("rowsRestored").GetInt64());
            Assert.Equal("ok", trip.GetProperty("archiveCheck").GetString());
            // Independent of the demo's own report: the rows are there, once.
            Assert.Equal(8L * 1_440 * 4, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic p JOIN assets a ON a.id = p.asset_id WHERE a.symbol LIKE 'DEMO%'"));
            Assert.Equal(48L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic WHERE asset_id = $1", other));

            Assert.True(second.ExitCode == 0, second.Error);
            var again = JsonDocument.Parse(second.Output).RootElement;
            if (again.GetProperty("alreadyPresent").GetInt64() == 8 * 1_440 * 4)
            {
                // The same UTC day: nothing is loaded again, and the whole table is as the first run left it.
                Assert.Equal(JsonValueKind.Null, again.GetProperty("loaded").ValueKind);
                Assert.Equal(afterFirst, afterSecond);
            }
            else
            {
                // Past midnight the window moved by a day: only that day is added.
                Assert.Equal(4 * 1_440, again.GetProperty("loaded").GetProperty("rowsWritten").GetInt64());
            }

            Assert.True(again.GetProperty("roundTrip").GetProperty("identical").GetBoolean());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
