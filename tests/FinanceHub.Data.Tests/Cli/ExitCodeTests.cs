using FinanceHub.Data.Cli;
using FinanceHub.Data.Tests.Infrastructure;
using Npgsql;

namespace FinanceHub.Data.Tests.Cli;

/// <summary>The documented exit codes and messages, through the real process as pipelines run it.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class ExitCodeTests(DatabaseFixture fixture)
{
    private static readonly string Tool = typeof(CliApplication).Assembly.Location;

    public static TheoryData<string[], string> BadUsage => new()
    {
        { ["status", "--bogus"], "--bogus" },
        { ["ohlcv", "BTC", "--from", "2026-01-01"], "--to" },
        { ["frobnicate"], "frobnicate" },
        { ["retention"], "retention" },
    };

    [Theory]
    [MemberData(nameof(BadUsage))]
    public async Task Parse_errors_exit_2_naming_the_problem_and_pointing_at_help(string[] args, string named)
    {
        var result = await RunAsync([.. args, "--connection", fixture.ConnectionString]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(named, result.Error, StringComparison.Ordinal);
        Assert.Contains("--help", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task A_refused_operation_exits_1_and_an_unreachable_server_exits_3()
    {
        // Archiving after 45 days is refused: performance_metrics' retention (30 days) would drop the rows first.
        var refused = await RunAsync(["archive", "performance_metrics", "--older-than-days", "45", "--connection", fixture.ConnectionString]);
        var unreachable = await RunAsync(["status", "--connection", "Host=127.0.0.1;Port=1;Username=x;Password=y;Timeout=2"]);

        Assert.Equal(ExitCodes.Failed, refused.ExitCode);
        Assert.Contains("retention", refused.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Unreachable, unreachable.ExitCode);
        Assert.Contains("cannot reach the database", unreachable.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_password_exits_2_saying_the_login_was_refused()
    {
        var wrong = new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { Password = "not-the-password" }.ConnectionString;

        var result = await RunAsync(["status", "--connection", wrong]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("refused the login", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Messages_name_cli_flags_not_library_apis_or_parameter_names()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("cli_wording", migrate: true);
        await using var _ = dataSource;
        var csv = Path.Combine(Path.GetTempPath(), $"financehub-unknown-{Guid.NewGuid():N}.csv");
        await File.WriteAllTextAsync(csv, "symbol,date,open,high,low,close,volume\nNOPE,2026-01-02T00:00:00Z,1,2,0.5,1.5,10\n", TestContext.Current.CancellationToken);
        try
        {
            var ingest = await RunAsync(["ingest", csv, "--connection", connectionString]);
            var chunks = await RunAsync(["chunks", "assets", "--connection", connectionString]);

            Assert.Equal(ExitCodes.Usage, ingest.ExitCode);
            Assert.Contains("--create-symbols", ingest.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("UnknownSymbolMode", ingest.Error, StringComparison.Ordinal);
            Assert.Equal(ExitCodes.Usage, chunks.ExitCode);
            Assert.Contains("financehub-data convert", chunks.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("ITimescaleManager", chunks.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("(Parameter", chunks.Error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(csv);
        }
    }

    private static Task<Processes.Result> RunAsync(string[] args)
        => Processes.RunAsync("dotnet", [Tool, .. args], environment: new Dictionary<string, string?>
        {
            ["FINANCEHUB_CONNECTION_STRING"] = null,
            ["TIMESCALE_DB_HOST"] = null,
        });
}
