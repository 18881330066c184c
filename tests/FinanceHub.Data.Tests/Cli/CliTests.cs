using System.Text.Json;
using FinanceHub.Data.Cli;
using FinanceHub.Data.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Cli;

/// <summary>financehub-data, in-process and as a process, against the real server.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class CliTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Status_json_reports_edition_features_and_applied_migrations()
    {
        var (code, output, error) = await RunCliAsync("status", "--json", "--connection", fixture.ConnectionString);

        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal(fixture.IsCommunity ? "community" : "apache", root.GetProperty("health").GetProperty("edition").GetString());
        Assert.All(root.GetProperty("migrations").EnumerateArray(), m => Assert.True(m.GetProperty("applied").GetBoolean()));
        var features = root.GetProperty("features").EnumerateArray().ToDictionary(f => f.GetProperty("feature").GetString()!, f => f.GetProperty("support").GetString());
        Assert.Equal(fixture.IsCommunity ? "native" : "unavailable", features["compression"]);
        Assert.Equal(3, root.GetProperty("hypertables").GetArrayLength());
    }

    [Fact]
    public async Task Status_never_prints_the_password()
    {
        // A role of its own, with a password that cannot occur in the output by chance.
        var role = $"fh_status_{Guid.NewGuid():N}"[..24];
        var password = Guid.NewGuid().ToString("N");
        await using var server = Npgsql.NpgsqlDataSource.Create(fixture.ServerConnectionString);
        await server.ExecuteAsync($"CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE pg_read_all_data, pg_read_all_stats");
        try
        {
            var connection = new Npgsql.NpgsqlConnectionStringBuilder(fixture.ConnectionString) { Username = role, Password = password };

            var (code, output, error) = await RunCliAsync("status", "--connection", connection.ConnectionString);

            Assert.True(code == 0, error);
            Assert.Contains("Hypertables", output, StringComparison.Ordinal);
            Assert.Contains(role, output, StringComparison.Ordinal);
            Assert.DoesNotContain(password, output + error, StringComparison.Ordinal);
        }
        finally
        {
            Npgsql.NpgsqlConnection.ClearAllPools();
            await server.ExecuteAsync($"DROP ROLE IF EXISTS {role}");
        }
    }

    [Fact]
    public async Task Migrate_status_lists_every_migration_as_applied()
    {
        var (code, output, _) = await RunCliAsync("migrate", "--status", "--json", "--connection", fixture.ConnectionString);

        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(0, json.RootElement.GetProperty("pending").GetInt32());
        Assert.Equal(fixture.CreateContext().Database.GetMigrations().Count(), json.RootElement.GetProperty("migrations").GetArrayLength());
    }

    [Fact]
    public async Task Migrate_to_zero_and_back_rolls_back_and_reapplies()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("cli_migrate", migrate: false);
        await using var _ = dataSource;

        var up = await RunCliAsync("migrate", "--connection", connectionString);
        var down = await RunCliAsync("migrate", "--to", "TimescaleLayer", "--connection", connectionString);
        var again = await RunCliAsync("migrate", "--json", "--connection", connectionString);

        Assert.Equal(0, up.Code);
        Assert.Equal(0, down.Code);
        Assert.Contains("reverting 20261125164014_PriceAggregates", down.Error, StringComparison.Ordinal);
        Assert.Equal(0, again.Code);
        using var json = JsonDocument.Parse(again.Output);
        Assert.Equal(fixture.CreateContext().Database.GetMigrations().Count() - 2, json.RootElement.GetProperty("steps").GetArrayLength());
    }

    [Fact]
    public async Task Unknown_migration_is_a_usage_error_naming_the_known_ones()
    {
        var (code, _, error) = await RunCliAsync("migrate", "--to", "NoSuchMigration", "--connection", fixture.ConnectionString);

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("NoSuchMigration", error, StringComparison.Ordinal);
        Assert.Contains("InitialSchema", error, StringComparison.Ordinal);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public async Task Unreachable_server_exits_3_with_one_line()
    {
        var (code, _, error) = await RunCliAsync("status", "--connection", "Host=127.0.0.1;Port=1;Username=x;Password=y;Timeout=3");

        Assert.Equal(ExitCodes.Unreachable, code);
        Assert.StartsWith("financehub-data: error: cannot reach the database", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Password=y", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Maintain_runs_due_policies_and_exits_0()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("cli_maintain", migrate: true);
        await using var _ = dataSource;

        var (code, output, error) = await RunCliAsync("maintain", "--force", "--json", "--connection", connectionString);

        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(0, json.RootElement.GetProperty("failed").GetInt32());
        Assert.True(json.RootElement.GetProperty("results").GetArrayLength() >= 5);
    }

    [Fact]
    public async Task Tool_runs_as_a_process_with_the_seed_environment_variables()
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(fixture.ConnectionString);
        var dll = typeof(CliApplication).Assembly.Location;

        var result = await Processes.RunAsync("dotnet", [dll, "status", "--json"], environment: new Dictionary<string, string?>
        {
            ["FINANCEHUB_CONNECTION_STRING"] = null,
            ["TIMESCALE_DB_HOST"] = builder.Host,
            ["TIMESCALE_DB_PORT"] = builder.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["TIMESCALE_DB_NAME"] = builder.Database,
            ["TIMESCALE_DB_USER"] = builder.Username,
            ["TIMESCALE_DB_PASSWORD"] = builder.Password,
        });

        Assert.True(result.ExitCode == 0, result.Error);
        using var json = JsonDocument.Parse(result.Output);
        Assert.Contains(builder.Database!, json.RootElement.GetProperty("database").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tool_without_configuration_exits_2_saying_what_to_set()
    {
        var dll = typeof(CliApplication).Assembly.Location;

        var result = await Processes.RunAsync("dotnet", [dll, "status"], environment: new Dictionary<string, string?>
        {
            ["FINANCEHUB_CONNECTION_STRING"] = null,
            ["TIMESCALE_DB_HOST"] = null,
        });

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("TIMESCALE_DB_HOST", result.Error, StringComparison.Ordinal);
    }
}
