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
            var first = await Processes.RunAsync("dotnet", [Tool, "demo", "--days", "8", "--json"], environment: environment);
            var second = await Processes.RunAsync("dotnet", [Tool, "demo", "--days", "8", "--json"], environment: environment);

            Assert.True(first.ExitCode == 0, first.Error);
            var run = JsonDocument.Parse(first.Output).RootElement;
            Assert.Equal(8 * 1_440 * 4, run.GetProperty("loaded").GetProperty("rowsWritten").GetInt64());
            Assert.Equal(7, run.GetProperty("candles").GetProperty("candles").GetArrayLength());
            var trip = run.GetProperty("roundTrip");
            Assert.True(trip.GetProperty("identical").GetBoolean());
            Assert.Equal(4 * 1_440, trip.GetProperty("rowsRestored").GetInt64());
            Assert.Equal("ok", trip.GetProperty("archiveCheck").GetString());
            // Independent of the demo's own report: the rows are there, once.
            Assert.Equal(8L * 1_440 * 4, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"));

            Assert.True(second.ExitCode == 0, second.Error);
            var again = JsonDocument.Parse(second.Output).RootElement;
            Assert.True(again.GetProperty("loaded").ValueKind == JsonValueKind.Null || again.GetProperty("loaded").GetProperty("rowsWritten").GetInt64() <= 4 * 1_440,
                "a second run the same day loads nothing (a day later it tops up one day)");
            Assert.True(again.GetProperty("roundTrip").GetProperty("identical").GetBoolean());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
