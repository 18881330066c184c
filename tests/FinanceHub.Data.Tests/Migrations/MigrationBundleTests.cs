using FinanceHub.Data.Tests.Infrastructure;

namespace FinanceHub.Data.Tests.Migrations;

/// <summary>
/// The migration bundle that deployment pipelines apply (<c>dotnet ef migrations bundle</c>). eng/test.sh builds it and
/// passes its path in FINANCEHUB_EFBUNDLE; without that, the first test here builds one.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class MigrationBundleTests(DatabaseFixture fixture)
{
    private static readonly SemaphoreSlim BuildLock = new(1, 1);

    private long MigrationCount
    {
        get
        {
            using var context = fixture.CreateContext();
            return Microsoft.EntityFrameworkCore.RelationalDatabaseFacadeExtensions.GetMigrations(context.Database).LongCount();
        }
    }

    // As in a deployment pipeline: the connection comes from --connection alone.
    private static readonly Dictionary<string, string?> CleanEnvironment = new()
    {
        ["FINANCEHUB_CONNECTION_STRING"] = null, ["TIMESCALE_DB_HOST"] = null, ["TIMESCALE_DB_PORT"] = null,
        ["TIMESCALE_DB_NAME"] = null, ["TIMESCALE_DB_USER"] = null, ["TIMESCALE_DB_PASSWORD"] = null,
    };
    private static string? _bundle;

    [Fact]
    public async Task Bundle_takes_the_connection_from_the_local_stacks_environment_as_the_readme_runs_it()
    {
        var bundle = await GetBundleAsync();
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("bundle_env", migrate: false);
        await using var _ = dataSource;
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        // What `eval "$(eng/devstack.sh env)"` exports: the seed's variables, and FINANCEHUB_CONNECTION_STRING for --connection.
        var stack = new Dictionary<string, string?>(CleanEnvironment)
        {
            ["TIMESCALE_DB_HOST"] = builder.Host, ["TIMESCALE_DB_PORT"] = builder.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["TIMESCALE_DB_NAME"] = builder.Database, ["TIMESCALE_DB_USER"] = builder.Username, ["TIMESCALE_DB_PASSWORD"] = builder.Password,
        };
        var script = await Processes.RunAsync("bash", [Path.Combine(Processes.RepositoryRoot, "eng", "devstack.sh"), "env"]);
        Assert.Contains("export FINANCEHUB_CONNECTION_STRING=", script.Output, StringComparison.Ordinal);

        var fromVariables = await Processes.RunAsync(bundle, [], environment: stack);

        Assert.True(fromVariables.ExitCode == 0, fromVariables.Output + fromVariables.Error);
        Assert.Equal(MigrationCount, await dataSource.ScalarAsync<long>("SELECT count(*) FROM \"__EFMigrationsHistory\""));
    }

    [Fact]
    public async Task Bundle_applies_every_migration_to_a_fresh_database_and_a_second_run_is_a_no_op()
    {
        var bundle = await GetBundleAsync();
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("bundle", migrate: false);
        await using var _ = dataSource;

        var first = await Processes.RunAsync(bundle, ["--connection", connectionString], environment: CleanEnvironment);
        var second = await Processes.RunAsync(bundle, ["--connection", connectionString], environment: CleanEnvironment);

        Assert.True(first.ExitCode == 0, first.Output + first.Error);
        Assert.Contains("Applying migration '20261125164026_PriceAggregatesInitialRefresh'", first.Output, StringComparison.Ordinal);
        // No alarming "Failed executing DbCommand" from probing a history table that does not exist yet.
        Assert.DoesNotContain("Failed", first.Output + first.Error, StringComparison.OrdinalIgnoreCase);
        Assert.True(second.ExitCode == 0, second.Output + second.Error);
        Assert.DoesNotContain("Applying migration", second.Output, StringComparison.Ordinal);
        Assert.Equal(MigrationCount, await dataSource.ScalarAsync<long>("SELECT count(*) FROM \"__EFMigrationsHistory\""));
        Assert.Equal(3L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM timescaledb_information.hypertables"));
    }

    [Fact]
    public async Task Two_bundles_started_at_the_same_moment_both_succeed_and_apply_each_migration_once()
    {
        var bundle = await GetBundleAsync();
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("bundle_concurrent", migrate: false);
        await using var _ = dataSource;

        var runs = await Task.WhenAll(
            Processes.RunAsync(bundle, ["--connection", connectionString], environment: CleanEnvironment),
            Processes.RunAsync(bundle, ["--connection", connectionString], environment: CleanEnvironment));

        Assert.All(runs, r => Assert.True(r.ExitCode == 0, r.Output + r.Error));
        // Each migration was applied by exactly one of the two.
        foreach (var migration in new[] { "InitialSchema", "TimescaleLayer", "PriceAggregates'", "PriceAggregatesInitialRefresh", "ArchiveCatalog" })
        {
            Assert.Equal(1, runs.Count(r => r.Output.Contains(migration, StringComparison.Ordinal) && r.Output.Contains("Applying migration", StringComparison.Ordinal)
                && r.Output.Split('\n').Any(l => l.Contains("Applying migration", StringComparison.Ordinal) && l.Contains(migration, StringComparison.Ordinal))));
        }

        Assert.Equal(MigrationCount, await dataSource.ScalarAsync<long>("SELECT count(*) FROM \"__EFMigrationsHistory\""));
    }

    internal static async Task<string> GetBundleAsync()
    {
        if (Environment.GetEnvironmentVariable("FINANCEHUB_EFBUNDLE") is { Length: > 0 } given)
        {
            Assert.True(File.Exists(given), $"FINANCEHUB_EFBUNDLE points at {given}, which does not exist.");
            return given;
        }

        await BuildLock.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            if (_bundle is null)
            {
                var output = Path.Combine(Path.GetTempPath(), $"financehub-efbundle-{Guid.NewGuid():N}");
                var root = Processes.RepositoryRoot;
                var restore = await Processes.RunAsync("dotnet", ["tool", "restore"], root);
                Assert.True(restore.ExitCode == 0, restore.Output + restore.Error);
                var build = await Processes.RunAsync("dotnet",
                    ["ef", "migrations", "bundle", "--project", "src/FinanceHub.Data", "--output", output, "--force"], root, timeout: TimeSpan.FromMinutes(10));
                Assert.True(build.ExitCode == 0, build.Output + build.Error);
                _bundle = output;
            }

            return _bundle;
        }
        finally
        {
            BuildLock.Release();
        }
    }
}
