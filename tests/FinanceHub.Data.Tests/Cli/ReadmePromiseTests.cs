using System.Text.Json;
using FinanceHub.Data.Tests.Infrastructure;

namespace FinanceHub.Data.Tests.Cli;

/// <summary>What the README and --help promise a new user, each through the real process or the real sample.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class ReadmePromiseTests(DatabaseFixture fixture)
{
    private static readonly string Tool = typeof(FinanceHub.Data.Cli.CliApplication).Assembly.Location;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_readmes_code_is_the_sample_and_the_sample_runs_in_a_plain_console_app()
    {
        var root = Processes.RepositoryRoot;
        var program = (await File.ReadAllTextAsync(Path.Combine(root, "samples", "FinanceHub.Data.Sample", "Program.cs"), Ct)).ReplaceLineEndings("\n").Trim();
        var readme = (await File.ReadAllTextAsync(Path.Combine(root, "README.md"), Ct)).ReplaceLineEndings("\n");
        Assert.Contains("```csharp\n" + program + "\n```", readme, StringComparison.Ordinal);

        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("sample", migrate: true);
        await using var _ = dataSource;
        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // bin/<configuration>/net10.0
        var sample = Path.Combine(root, "samples", "FinanceHub.Data.Sample", "bin", configuration, "net10.0", "FinanceHub.Data.Sample.dll");

        // No AddLogging in the sample: AddFinanceHubData must be enough.
        var run = await Processes.RunAsync("dotnet", [sample], environment: Environment(connectionString));

        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        Assert.Equal(
            [
                "loaded 48 rows; created: DEMO",
                "2026-01-05 open 100 high 124 low 99 close 123.5 volume 240",
                "2026-01-06 open 124 high 148 low 123 close 147.5 volume 240",
            ],
            run.Output.ReplaceLineEndings("\n").Trim().Split('\n'));
    }

    [Theory]
    [InlineData("performance_metrics", "created_at,metric_name,value,unit,service,host\n2026-11-01T00:00:00Z,latency,12.5,ms,api,web-1\n2026-11-01T00:01:00+01:00,latency,13,ms,api,\n",
        "SELECT string_agg(format('%s|%s|%s|%s|%s', created_at AT TIME ZONE 'UTC', metric_name, value, unit, coalesce(host, '-')), ';' ORDER BY created_at) FROM performance_metrics",
        "2026-10-31 23:01:00|latency|13|ms|-;2026-11-01 00:00:00|latency|12.5|ms|web-1")]
    [InlineData("api_usage_logs", "created_at,endpoint,method,status_code,duration_ms,client_ip,request_bytes\n2026-11-01T00:00:00Z,/api/v1/prices,GET,200,3.5,10.0.0.7,120\n",
        "SELECT string_agg(format('%s|%s|%s|%s|%s|%s', created_at AT TIME ZONE 'UTC', endpoint, method, status_code, duration_ms, host(client_ip)), ';') FROM api_usage_logs",
        "2026-11-01 00:00:00|/api/v1/prices|GET|200|3.5|10.0.0.7")]
    public async Task Ingest_loads_the_other_two_hypertables_from_csv(string table, string csv, string query, string expected)
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("cli_ingest_" + table[..4], migrate: true);
        await using var _ = dataSource;
        var file = Path.Combine(Path.GetTempPath(), $"financehub-{table}-{Guid.NewGuid():N}.csv");
        await File.WriteAllTextAsync(file, csv, Ct);
        try
        {
            var run = await Processes.RunAsync("dotnet", [Tool, "ingest", file, "--table", table, "--connection", connectionString], environment: Environment(null));

            Assert.True(run.ExitCode == 0, run.Error);
            Assert.Equal(expected, await dataSource.ScalarAsync<string>(query));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Retention_shows_the_current_policy_and_a_dry_run_drops_nothing()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("cli_retention_show", migrate: true);
        await using var _ = dataSource;
        await dataSource.InsertPricesAsync(await dataSource.InsertAssetAsync("BTC"), DateTimeOffset.UtcNow.AddDays(-60), DateTimeOffset.UtcNow, TimeSpan.FromHours(6));
        var chunks = await dataSource.ScalarAsync<long>("SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'api_usage_logs' OR hypertable_name = 'asset_prices_historic'");

        var show = await Processes.RunAsync("dotnet", [Tool, "retention", "api_usage_logs", "--json", "--connection", connectionString], environment: Environment(null));
        var dryRun = await Processes.RunAsync("dotnet", [Tool, "retention", "asset_prices_historic", "--drop-older-than", "40 days", "--dry-run", "--json", "--connection", connectionString],
            environment: Environment(null));

        Assert.True(show.ExitCode == 0, show.Error);
        Assert.Equal("7 days", JsonDocument.Parse(show.Output).RootElement.GetProperty("retention").GetString());
        Assert.True(dryRun.ExitCode == 0, dryRun.Error);
        var listed = JsonDocument.Parse(dryRun.Output).RootElement.GetProperty("chunks").GetArrayLength();
        Assert.Equal(await dataSource.ScalarAsync<long>(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'asset_prices_historic' AND range_end <= now() - interval '40 days'"), listed);
        Assert.True(listed > 0);
        Assert.Equal(chunks, await dataSource.ScalarAsync<long>(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'api_usage_logs' OR hypertable_name = 'asset_prices_historic'"));
    }

    [Fact]
    public async Task Migrate_reports_each_migration_as_it_is_applied_and_up_to_date_after()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("cli_migrate_json", migrate: false);
        await using var _ = dataSource;

        var run = await Processes.RunAsync("dotnet", [Tool, "migrate", "--json", "--connection", connectionString], environment: Environment(null));

        Assert.True(run.ExitCode == 0, run.Error);
        var json = JsonDocument.Parse(run.Output).RootElement;
        Assert.True(json.GetProperty("upToDate").GetBoolean());
        Assert.Equal(0, json.GetProperty("pending").GetInt32());
        var applied = run.Error.Split('\n').Count(l => l.StartsWith("applied ", StringComparison.Ordinal));
        Assert.Equal(await dataSource.ScalarAsync<long>("SELECT count(*) FROM \"__EFMigrationsHistory\""), applied);
    }

    [Fact]
    public async Task Cleanup_says_when_nothing_matched_and_bucket_names_the_columns_it_aggregates()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("cli_cleanup_none", migrate: true);
        await using var _ = dataSource;
        await dataSource.InsertPricesAsync(await dataSource.InsertAssetAsync("BTC"), new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2026, 10, 2, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromHours(1));
        var env = Environment(null);
        env["ARCHIVE_BASE_PATH"] = Path.Combine(Path.GetTempPath(), $"financehub-empty-{Guid.NewGuid():N}");
        env["ARCHIVE_S3_BUCKET"] = "";

        var cleanup = await Processes.RunAsync("dotnet", [Tool, "archives", "cleanup", "--keep", "5", "--connection", connectionString], environment: env);
        var bucket = await Processes.RunAsync("dotnet", [Tool, "bucket", "asset_prices_historic", "--bucket", "1 day", "--from", "2026-10-01T00:00:00Z", "--to", "2026-10-02T00:00:00Z",
            "--connection", connectionString], environment: env);

        Assert.True(cleanup.ExitCode == 0, cleanup.Error);
        Assert.Contains("nothing was deleted", cleanup.Output, StringComparison.Ordinal);
        Assert.True(bucket.ExitCode == 0, bucket.Error);
        Assert.Contains("avg(close)", bucket.Output, StringComparison.Ordinal);
        Assert.Contains("sum(volume)", bucket.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Automated_archiving_without_S3_warns_that_the_local_files_are_the_only_copy()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("cli_only_copy", migrate: true);
        await using var _ = dataSource;
        await dataSource.ExecuteAsync(
            "INSERT INTO performance_metrics (created_at, metric_name, value) SELECT t, 'm', 1 FROM generate_series(now() - interval '4 days', now(), interval '1 hour') t");
        var env = Environment(null);
        var folder = Path.Combine(Path.GetTempPath(), $"financehub-only-copy-{Guid.NewGuid():N}");
        env["ARCHIVE_BASE_PATH"] = folder;
        env["ARCHIVE_S3_BUCKET"] = "";
        try
        {
            var run = await Processes.RunAsync("dotnet", [Tool, "archive", "performance_metrics", "--older-than-days", "2", "--connection", connectionString], environment: env);

            Assert.True(run.ExitCode == 0, run.Error);
            Assert.Contains("only copy", run.Error, StringComparison.Ordinal);
            Assert.Contains(folder, run.Error, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    private static Dictionary<string, string?> Environment(string? connectionString) => new()
    {
        ["FINANCEHUB_CONNECTION_STRING"] = connectionString,
        ["TIMESCALE_DB_HOST"] = null,
        ["COLUMNS"] = "200",
        ["DOTNET_CLI_UI_LANGUAGE"] = "en",
        ["LANG"] = "C.UTF-8",
    };

    [Fact]
    public async Task Ohlcv_dates_are_midnight_in_the_stated_zone_so_the_readmes_example_gives_whole_first_and_last_days()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("ohlcv_zone", migrate: true);
        await using var _ = dataSource;
        var asset = await dataSource.InsertAssetAsync("NYZ");
        await dataSource.InsertPricesAsync(asset, new DateTimeOffset(2025, 12, 31, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 1, 4, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromMinutes(30));

        var result = await Processes.RunAsync("dotnet", [Tool, "ohlcv", "NYZ", "--interval", "1day", "--from", "2026-01-01", "--to", "2026-01-03",
            "--time-zone", "America/New_York", "--json", "--connection", connectionString], environment: new Dictionary<string, string?> { ["FINANCEHUB_CONNECTION_STRING"] = null });
        var skipped = await Processes.RunAsync("dotnet", [Tool, "ohlcv", "NYZ", "--interval", "1hour", "--from", "2026-03-08T02:30", "--to", "2026-03-09",
            "--time-zone", "America/New_York", "--connection", connectionString], environment: new Dictionary<string, string?> { ["FINANCEHUB_CONNECTION_STRING"] = null });
        // The reference: New York days computed by PostgreSQL from the rows.
        var expected = await dataSource.QueryAsync(
            """
            SELECT (array_agg(open ORDER BY date))[1], (array_agg(close ORDER BY date DESC))[1], count(*)
            FROM asset_prices_historic WHERE asset_id = $1 AND date >= '2026-01-01 00:00 America/New_York' AND date < '2026-01-03 00:00 America/New_York'
            GROUP BY date_trunc('day', date, 'America/New_York') ORDER BY date_trunc('day', date, 'America/New_York')
            """, asset);

        Assert.True(result.ExitCode == 0, result.Error);
        var json = JsonDocument.Parse(result.Output).RootElement;
        Assert.Equal(new DateTimeOffset(2026, 1, 1, 5, 0, 0, TimeSpan.Zero), json.GetProperty("start").GetDateTimeOffset());
        var candles = json.GetProperty("candles").EnumerateArray().ToList();
        Assert.Equal(2, candles.Count);
        // Whole New York days: the rows of each (48 half hours), their first open and last close.
        Assert.Equal(expected.Select(r => ((decimal)r[0]!, (decimal)r[1]!, (long)r[2]!)),
            candles.Select(c => (c.GetProperty("open").GetDecimal(), c.GetProperty("close").GetDecimal(), c.GetProperty("tradeCount").GetInt64())));
        Assert.All(expected, r => Assert.Equal(48L, (long)r[2]!));
        Assert.Equal(2, skipped.ExitCode);
        Assert.Contains("does not exist in America/New_York", skipped.Error, StringComparison.Ordinal);
    }
}
