using System.Text.Json;
using FinanceHub.Data.Cli;
using FinanceHub.Data.Conversion;
using FinanceHub.Data.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Conversion;

/// <summary>Baselining an old application's database, and the convert commands.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class BaselineAndCliTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_old_application_database_is_baselined_and_database_update_continues_from_there()
    {
        var (connectionString, dataSource) = await OldApplicationAsync("baseline");
        await using var _ = dataSource;

        await using (var context = DatabaseFixture.CreateContext(dataSource))
        {
            var result = await DatabaseBaseliner.BaselineAsync(context, cancellationToken: Ct);
            Assert.True(result.Baselined);
            Assert.Contains("add column asset_prices_historic.source character varying(64)", result.Applied);
            Assert.Contains("create table maintenance_policies", result.Applied);
        }

        var migrate = await RunCliAsync("migrate", "--connection", connectionString);

        Assert.True(migrate.Code == 0, migrate.Error);
        await using var check = DatabaseFixture.CreateContext(dataSource);
        Assert.Empty(await check.Database.GetPendingMigrationsAsync(Ct));
        Assert.Equal(500L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"));
        Assert.Equal(3L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM timescaledb_information.hypertables"));
    }

    [Fact]
    public async Task Baseline_refuses_a_missing_required_column_naming_the_fix_and_changes_nothing()
    {
        var (_, dataSource) = await OldApplicationAsync("baseline_blocked");
        await using var _ = dataSource;
        await dataSource.ExecuteAsync("ALTER TABLE api_usage_logs DROP COLUMN method");

        await using var context = DatabaseFixture.CreateContext(dataSource);
        var result = await DatabaseBaseliner.BaselineAsync(context, cancellationToken: Ct);

        Assert.False(result.Baselined);
        Assert.Contains(result.Blocking, b => b.Contains("no column method", StringComparison.Ordinal) && b.Contains("ALTER TABLE api_usage_logs ADD COLUMN method", StringComparison.Ordinal));
        Assert.False(await dataSource.ScalarAsync<bool>("SELECT to_regclass('financehub.maintenance_policies') IS NOT NULL"));
    }

    [Fact]
    public async Task Convert_commands_check_run_and_report_status_with_exit_codes()
    {
        var (connectionString, dataSource) = await OldApplicationAsync("convert_cli");
        await using var _ = dataSource;
        await using (var context = DatabaseFixture.CreateContext(dataSource))
        {
            await DatabaseBaseliner.BaselineAsync(context, cancellationToken: Ct);
        }

        var check = await RunCliAsync("convert", "check", "asset_prices_historic", "--json", "--connection", connectionString);
        var zero = await RunCliAsync("convert", "run", "asset_prices_historic", "--batch-size", "0", "--connection", connectionString);
        var run = await RunCliAsync("convert", "run", "asset_prices_historic", "--connection", connectionString);
        var status = await RunCliAsync("convert", "status", "--json", "--connection", connectionString);
        var unknown = await RunCliAsync("convert", "check", "nope", "--connection", connectionString);

        Assert.True(check.Code == 0, check.Error);
        Assert.False(JsonDocument.Parse(check.Output).RootElement.GetProperty("blocked").GetBoolean());
        // Times as ISO 8601, whatever the machine's culture.
        Assert.Matches(@"rows from \d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}Z)? to \d{4}-\d{2}-\d{2}", check.Output);
        Assert.Equal(ExitCodes.Usage, zero.Code);
        Assert.True(run.Code == 0, run.Error);
        Assert.Contains("ConvertedInPlace", run.Output, StringComparison.Ordinal);
        Assert.Contains(JsonDocument.Parse(status.Output).RootElement.EnumerateArray(), s => s.GetProperty("phase").GetString() == "convertedInPlace");
        Assert.Equal(ExitCodes.Usage, unknown.Code);
    }

    /// <summary>The old application's schema: the model's plain tables, minus two nullable columns, the project's schema, an index and the history.</summary>
    private async Task<(string ConnectionString, Npgsql.NpgsqlDataSource DataSource)> OldApplicationAsync(string purpose)
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync(purpose, migrate: false);
        await using (var context = DatabaseFixture.CreateContext(dataSource))
        {
            await context.GetService<IMigrator>().MigrateAsync("InitialSchema", Ct);
        }

        await dataSource.ExecuteAsync(
            """
            ALTER TABLE asset_prices_historic DROP COLUMN adjusted_close, DROP COLUMN source;
            DROP INDEX ix_asset_prices_historic_date;
            DROP TABLE financehub.maintenance_policies;
            DROP SCHEMA financehub;
            DROP TABLE "__EFMigrationsHistory";
            """);
        var asset = await dataSource.InsertAssetAsync("OLD");
        await dataSource.ExecuteAsync(
            "INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume) SELECT $1, now() - make_interval(hours => i), 1, 2, 1, 1.5, 3 FROM generate_series(1, 500) i",
            asset);
        dataSource.Clear();
        return (connectionString, dataSource);
    }
}
