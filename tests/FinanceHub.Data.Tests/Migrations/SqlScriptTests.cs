using FinanceHub.Data.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;

namespace FinanceHub.Data.Tests.Migrations;

/// <summary>
/// Scripts from 'dotnet ef migrations script' run as generated with psql -v ON_ERROR_STOP=1 and leave the database
/// exactly as 'database update' does.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class SqlScriptTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Idempotent_script_on_an_empty_database_matches_database_update_and_running_it_again_changes_nothing()
    {
        var script = await ScriptAsync(null, null, MigrationsSqlGenerationOptions.Idempotent);
        var expected = await MigratedSnapshotAsync(null);
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("script_empty", migrate: false);
        await using var _ = dataSource;

        await PsqlAsync(connectionString, dataSource, script);
        var first = await CatalogSnapshot.TakeAsync(dataSource);
        await PsqlAsync(connectionString, dataSource, script);

        Assert.Equal(expected, first);
        Assert.Equal(expected, await CatalogSnapshot.TakeAsync(dataSource));
    }

    [Fact]
    public async Task Idempotent_script_on_a_database_at_the_first_migration_brings_it_to_the_same_state()
    {
        var script = await ScriptAsync(null, null, MigrationsSqlGenerationOptions.Idempotent);
        var expected = await MigratedSnapshotAsync(null);
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("script_first", migrate: false);
        await using var _ = dataSource;
        await MigrateAsync(dataSource, "InitialSchema");

        await PsqlAsync(connectionString, dataSource, script);

        Assert.Equal(expected, await CatalogSnapshot.TakeAsync(dataSource));
    }

    [Theory]
    [InlineData("InitialSchema", "TimescaleLayer")]
    [InlineData("TimescaleLayer", "PriceAggregatesInitialRefresh")]
    [InlineData("TimescaleLayer", "InitialSchema")]
    [InlineData("PriceAggregatesInitialRefresh", "TimescaleLayer")]
    public async Task From_to_script_moves_a_database_like_database_update(string from, string to)
    {
        var script = await ScriptAsync(from, to, MigrationsSqlGenerationOptions.Default);
        var expected = await MigratedSnapshotAsync(to);
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("script_step", migrate: false);
        await using var _ = dataSource;
        await MigrateAsync(dataSource, from);

        await PsqlAsync(connectionString, dataSource, script);

        Assert.Equal(expected, await CatalogSnapshot.TakeAsync(dataSource));
    }

    [Fact]
    public async Task Script_keeps_the_non_transactional_refresh_outside_transactions_and_says_it_cannot_be_rolled_back()
    {
        var script = await ScriptAsync(null, null, MigrationsSqlGenerationOptions.Idempotent);

        var refresh = script.IndexOf("CALL financehub.refresh_continuous_aggregate_when_free('asset_prices_hourly'", StringComparison.Ordinal);
        Assert.True(refresh > 0);
        var before = script[..refresh];
        // The script's own transaction statements stand alone on a line (a COMMIT inside a DO block is indented).
        Assert.Equal(CountOf(before, "\nSTART TRANSACTION;"), CountOf(before, "\nCOMMIT;")); // no transaction is open there
        Assert.Contains("NOT TRANSACTIONAL", before[before.LastIndexOf("\nCOMMIT;", StringComparison.Ordinal)..], StringComparison.Ordinal);
        Assert.DoesNotContain("SELECT create_hypertable", script, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Committed_idempotent_script_is_the_one_the_migrations_generate()
    {
        var committed = await File.ReadAllTextAsync(Path.Combine(Processes.RepositoryRoot, "migrations-sql", "generated", "idempotent.sql"), Ct);
        var generated = await ScriptAsync(null, null, MigrationsSqlGenerationOptions.Idempotent);

        Assert.True(Normalize(committed) == Normalize(generated),
            "migrations-sql/generated/idempotent.sql is out of date; run eng/generate-sql-script.sh and commit it.");
    }

    private static string Normalize(string script) => script.ReplaceLineEndings("\n").Trim();

    private static int CountOf(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + 1, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private async Task<string> ScriptAsync(string? from, string? to, MigrationsSqlGenerationOptions options)
    {
        await using var context = fixture.CreateContext();
        return context.GetService<IMigrator>().GenerateScript(from, to, options);
    }

    private async Task<List<string>> MigratedSnapshotAsync(string? target)
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync("script_reference", migrate: false);
        await using var _ = dataSource;
        await MigrateAsync(dataSource, target);
        return await CatalogSnapshot.TakeAsync(dataSource);
    }

    private static async Task MigrateAsync(NpgsqlDataSource dataSource, string? target)
    {
        await using var context = DatabaseFixture.CreateContext(dataSource);
        await context.GetService<IMigrator>().MigrateAsync(target, Ct);
    }

    internal static async Task PsqlAsync(string connectionString, NpgsqlDataSource dataSource, string script)
    {
        var path = Path.Combine(Path.GetTempPath(), $"financehub-script-{Guid.NewGuid():N}.sql");
        await File.WriteAllTextAsync(path, script, Ct);
        try
        {
            var b = new NpgsqlConnectionStringBuilder(connectionString);
            var result = await Processes.RunAsync("psql", ["-v", "ON_ERROR_STOP=1", "-X", "-q", "-f", path], environment: new Dictionary<string, string?>
            {
                ["PGHOST"] = b.Host, ["PGPORT"] = b.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), ["PGDATABASE"] = b.Database,
                ["PGUSER"] = b.Username, ["PGPASSWORD"] = b.Password,
            });
            Assert.True(result.ExitCode == 0, $"psql failed: {result.Error}");

            // psql may have dropped or created TimescaleDB in its own session; pooled sessions that had it loaded must not be reused.
            dataSource.Clear();
        }
        finally
        {
            File.Delete(path);
        }
    }
}
