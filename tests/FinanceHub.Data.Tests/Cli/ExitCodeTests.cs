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
        Assert.DoesNotContain("   at ", unreachable.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verbose_shows_the_exceptions_detail_on_standard_error()
    {
        var result = await RunAsync(["status", "--verbose", "--connection", "Host=127.0.0.1;Port=1;Username=x;Password=y;Timeout=2"]);

        Assert.Equal(ExitCodes.Unreachable, result.ExitCode);
        Assert.Contains("NpgsqlException", result.Error, StringComparison.Ordinal);
        Assert.Contains("   at ", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task A_wrong_password_exits_2_saying_the_login_was_refused()
    {
        await fixture.RequirePasswordChecksAsync();
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

    [Fact]
    public async Task A_statement_timeout_exits_4_not_unreachable_whether_the_server_or_the_client_timed_out()
    {
        // The server's statement_timeout, and Npgsql's command timeout: real exceptions from the real server.
        var server = await CaptureAsync(new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { Options = "-c statement_timeout=100" }.ConnectionString,
            "SELECT pg_sleep(2)");
        var client = await CaptureAsync(new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { CommandTimeout = 1 }.ConnectionString, "SELECT pg_sleep(3)");
        var cli = await RunAsync(["migrate", "--connection", new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { Options = "-c statement_timeout=1" }.ConnectionString]);

        Assert.Equal(ExitCodes.Timeout, ExitCodes.Classify(server)!.Value.Code);
        Assert.Equal(ExitCodes.Timeout, ExitCodes.Classify(client)!.Value.Code);
        Assert.Contains("timed out", ExitCodes.Classify(client)!.Value.Reason, StringComparison.Ordinal);
        Assert.True(cli.ExitCode == ExitCodes.Timeout, cli.Error);
        Assert.Contains("timed out", cli.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_argument_error_from_the_project_is_bad_usage_one_from_deeper_down_is_a_failed_operation()
    {
        var ours = Assert.Throws<ArgumentException>(() => FinanceHub.Data.Entities.Hypertables.Get("nope"));
        var deeper = Assert.Throws<ArgumentException>(() => Enum.Parse<DayOfWeek>("Caturday"));

        Assert.Equal(ExitCodes.Usage, ExitCodes.Classify(ours)!.Value.Code);
        Assert.Equal(ExitCodes.Failed, ExitCodes.Classify(deeper)!.Value.Code);
    }

    [Fact]
    public async Task A_connection_lost_mid_operation_exits_3_saying_so_and_a_rerun_completes_the_work()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("connection_lost", migrate: true);
        await using var _ = dataSource;
        var csv = Path.Combine(Path.GetTempPath(), $"financehub-lost-{Guid.NewGuid():N}.csv");
        var start = new DateTime(2026, 2, 1, 0, 0, 0, DateTimeKind.Utc);
        await File.WriteAllLinesAsync(csv, ["symbol,date,open,high,low,close,volume",
            .. Enumerable.Range(0, 600_000).Select(i => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"LOST,{start.AddSeconds(i):yyyy-MM-ddTHH:mm:ssZ},1,2,0.5,1.5,{i % 97}"))],
            TestContext.Current.CancellationToken);
        var named = new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = "financehub-connection-lost-test" }.ConnectionString;
        try
        {
            var ingest = RunAsync(["ingest", csv, "--create-symbols", "--connection", named]);
            // What a server restart does to the session of a running load: terminate it, mid-COPY.
            var killed = false;
            for (var i = 0; i < 400 && !killed && !ingest.IsCompleted; i++)
            {
                killed = await dataSource.ScalarAsync<bool>(
                    "SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query ILIKE 'COPY%'",
                    "financehub-connection-lost-test");
                await Task.Delay(25, TestContext.Current.CancellationToken);
            }

            var lost = await ingest;
            var rowsAfterLoss = await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic");
            var rerun = await RunAsync(["ingest", csv, "--create-symbols", "--connection", named]);

            Assert.True(killed, "the load finished before its session could be terminated");
            Assert.True(lost.ExitCode == ExitCodes.Unreachable, lost.Error);
            Assert.Contains("connection to the database was lost", lost.Error, StringComparison.Ordinal);
            Assert.Contains("run the command again", lost.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("Exception while reading from stream", lost.Error.Split('\n')[0], StringComparison.Ordinal);
            Assert.Equal(0L, rowsAfterLoss); // all or nothing: the lost load left nothing half-done
            Assert.True(rerun.ExitCode == 0, rerun.Error);
            Assert.Equal(600_000L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"));
        }
        finally
        {
            File.Delete(csv);
        }
    }

    [Fact]
    public async Task The_password_comes_from_standard_input_or_PGPASSWORD_never_needing_the_connection_string()
    {
        await fixture.RequirePasswordChecksAsync();
        var withoutPassword = new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { Password = null }.ConnectionString;
        var password = new NpgsqlConnectionStringBuilder(fixture.ConnectionString).Password!;

        var stdin = await Processes.RunAsync("dotnet", [Tool, "status", "--json", "--password-stdin", "--connection", withoutPassword],
            environment: Clean(), input: password + "\n");
        var pgpassword = await Processes.RunAsync("dotnet", [Tool, "status", "--json", "--connection", withoutPassword],
            environment: Clean(("PGPASSWORD", password)));
        var timescaleVariable = await Processes.RunAsync("dotnet", [Tool, "status", "--json", "--connection", withoutPassword],
            environment: Clean(("TIMESCALE_DB_PASSWORD", password)));
        var noInput = await Processes.RunAsync("dotnet", [Tool, "status", "--password-stdin", "--connection", withoutPassword], environment: Clean(), input: "");
        // And without any of them the login is refused: the runs above did not pass by some other way in (a .pgpass file).
        var none = await Processes.RunAsync("dotnet", [Tool, "status", "--connection", withoutPassword], environment: Clean());

        Assert.True(stdin.ExitCode == 0, stdin.Error);
        Assert.True(pgpassword.ExitCode == 0, pgpassword.Error);
        Assert.True(timescaleVariable.ExitCode == 0, timescaleVariable.Error);
        Assert.Equal(ExitCodes.Usage, noInput.ExitCode);
        Assert.Contains("--password-stdin", noInput.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Usage, none.ExitCode);
        Assert.Contains("--password-stdin", none.Error, StringComparison.Ordinal);
    }

    private static async Task<Exception> CaptureAsync(string connectionString, string sql)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        return await Assert.ThrowsAnyAsync<NpgsqlException>(async () =>
        {
            await using var command = dataSource.CreateCommand(sql);
            await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        });
    }

    private static Dictionary<string, string?> Clean(params (string Name, string Value)[] set)
    {
        var environment = new Dictionary<string, string?>
        {
            ["FINANCEHUB_CONNECTION_STRING"] = null, ["TIMESCALE_DB_HOST"] = null, ["PGPASSWORD"] = null, ["TIMESCALE_DB_PASSWORD"] = null,
            ["PGPASSFILE"] = EmptyPassFile.Value,
        };
        foreach (var (name, value) in set)
        {
            environment[name] = value;
        }

        return environment;
    }

    /// <summary>A password file with no entries, so that no ~/.pgpass of the machine lets a run in.</summary>
    private static readonly Lazy<string> EmptyPassFile = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), "financehub-empty-pgpass");
        File.WriteAllText(path, "");
        return path;
    });

    private static Task<Processes.Result> RunAsync(string[] args)
        => Processes.RunAsync("dotnet", [Tool, .. args], environment: Clean());
}
