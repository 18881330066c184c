using System.IO.Compression;
using System.Text.Json;
using FinanceHub.Data.Archiving;
using FinanceHub.Data.Ingest;
using FinanceHub.Data.Querying;
using FinanceHub.Data.Tests.Infrastructure;
using FinanceHub.Data.Tests.Querying;
using FinanceHub.Data.Timescale;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Timescale;

/// <summary>
/// A database made on TimescaleDB 2.19, then carried to the server's newest release with <c>ALTER EXTENSION timescaledb
/// UPDATE</c>, as users upgrade: it still migrates, reports status, ingests, serves candles, compresses and archives.
/// Runs on a community server that can install 2.19 beside a newer default release.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class ExtensionUpgradeTests(DatabaseFixture fixture)
{
    private static readonly DateTimeOffset Today = new(DateTime.UtcNow.Date, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_database_made_on_2_19_keeps_working_after_ALTER_EXTENSION_UPDATE_to_the_newest_release()
    {
        fixture.RequireCommunity();
        var versions = (await fixture.DataSource.QueryAsync(
            """
            SELECT (SELECT version FROM pg_available_extension_versions WHERE name = 'timescaledb' AND version ~ '^2\.19\.\d+$' ORDER BY version DESC LIMIT 1),
                   (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb')
            """))[0];
        var (old, newest) = ((string?)versions[0], (string)versions[1]!);
        Assert.SkipWhen(old is null || old == newest,
            $"Needs a server that can install TimescaleDB 2.19 beside a newer default release (this one offers {old ?? "no 2.19"} and defaults to {newest}).");

        var (connectionString, created) = await fixture.CreateDatabaseAsync("upgrade", migrate: false);
        try
        {
            await created.ExecuteAsync($"CREATE EXTENSION timescaledb VERSION '{old}'");
            // The database is left a few migrations behind, so that migrating after the update does real work.
            await using var context = DatabaseFixture.CreateContext(created);
            await context.GetService<IMigrator>().MigrateAsync("PriceAggregatesInitialRefresh", Ct);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedFile)
        {
            // A release installed without its community (TSL) library, as Debian's Apache-only package installs 2.19.
            Assert.Skip($"TimescaleDB {old} is installed on this community server without its TSL library ({ex.MessageText}); " +
                        $"install the community build of {old} beside {newest} (eng/devstack.sh --timescaledb-source timescaledb-{old}.tar.xz) to run it.");
        }

        var rows = Prices("BTC", Today.AddDays(-60), Today.AddDays(-1), TimeSpan.FromHours(1));
        await Ingestor(created).IngestPricesAsync(rows, new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create }, Ct);
        var before = await StatusAsync(connectionString);
        Assert.Equal(old, before.GetProperty("extensionVersion").GetString());
        Assert.True(before.GetProperty("updateDue").GetBoolean());
        await created.DisposeAsync();

        // As TimescaleDB asks: the first command of a new session that has not loaded the old library (no type loading).
        var builder = new NpgsqlDataSourceBuilder(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        builder.ConfigureTypeLoading(t => t.EnableTypeLoading(false));
        await using (var fresh = builder.Build())
        {
            await fresh.ExecuteAsync("ALTER EXTENSION timescaledb UPDATE");
        }

        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var historyBefore = await dataSource.ScalarAsync<long>("SELECT count(*) FROM \"__EFMigrationsHistory\"");
        await using (var context = DatabaseFixture.CreateContext(dataSource))
        {
            Assert.NotEmpty(await context.Database.GetPendingMigrationsAsync(Ct));
            await context.Database.MigrateAsync(Ct);
            Assert.Empty(await context.Database.GetPendingMigrationsAsync(Ct));
        }

        Assert.True(await dataSource.ScalarAsync<long>("SELECT count(*) FROM \"__EFMigrationsHistory\"") > historyBefore);

        var after = await StatusAsync(connectionString);
        Assert.Equal(newest, after.GetProperty("extensionVersion").GetString());
        Assert.False(after.GetProperty("updateDue").GetBoolean());

        // Ingest: new rows, and a backfill below the aggregates' watermark.
        var later = Prices("BTC", Today.AddDays(-1), Today, TimeSpan.FromHours(1));
        var backfill = Prices("BTC", Today.AddDays(-20).AddMinutes(30), Today.AddDays(-19), TimeSpan.FromHours(1));
        await Ingestor(dataSource).IngestPricesAsync([.. later, .. backfill], cancellationToken: Ct);
        var all = rows.Concat(later).Concat(backfill).ToList();

        var candles = await new TimeSeriesRepository(dataSource, Manager(dataSource))
            .GetOhlcvAsync("BTC", BucketWidth.OneDay, Today.AddDays(-60), Today, cancellationToken: Ct);
        Assert.Equal(Reference.Candles(all, BucketWidth.OneDay, TimeZoneInfo.Utc, Today.AddDays(-60), Today), candles.Candles);

        var content = await ContentMd5Async(dataSource);
        // The columnstore policy would compress in the background; paused, what the manager compresses is countable.
        await dataSource.ExecuteAsync("SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression'");
        const string eligible = """
            SELECT count(*) FROM show_chunks('asset_prices_historic', older_than => interval '31 days') c
            WHERE NOT EXISTS (SELECT 1 FROM timescaledb_information.chunks i WHERE format('%I.%I', i.chunk_schema, i.chunk_name)::regclass = c AND i.is_compressed)
            """;
        var toCompress = await dataSource.ScalarAsync<long>(eligible);
        Assert.Equal(toCompress, await Manager(dataSource).CompressChunksAsync("asset_prices_historic", TimeSpan.FromDays(31), Ct));
        Assert.Equal(0L, await dataSource.ScalarAsync<long>(eligible));
        Assert.True(await dataSource.ScalarAsync<long>(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'asset_prices_historic' AND is_compressed") > 0);
        Assert.Equal(content, await ContentMd5Async(dataSource));

        var folder = Path.Combine(Path.GetTempPath(), $"financehub-upgrade-{Guid.NewGuid():N}");
        try
        {
            using var archiver = new DataArchiver(dataSource, Manager(dataSource),
                Microsoft.Extensions.Options.Options.Create(new ArchiveOptions { BasePath = folder }), TimeProvider.System, NullLogger<DataArchiver>.Instance);
            var (start, end) = (Today.AddDays(-60), Today.AddDays(-40));
            var archive = await archiver.ArchiveTableAsync(new ArchiveRequest("asset_prices_historic", start, end), cancellationToken: Ct);
            Assert.True(await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic WHERE date >= $1 AND date < $2", start, end) > 0);
            var expected = await dataSource.ScalarAsync<string>(
                "SELECT md5(string_agg(p::text, ',' ORDER BY asset_id, date)) FROM asset_prices_historic p WHERE date >= $1 AND date < $2", start, end);
            Assert.Equal(expected, await ArchiveContentMd5Async(dataSource, archive.LocalPath!));
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    private static List<PriceRow> Prices(string symbol, DateTimeOffset from, DateTimeOffset to, TimeSpan step)
    {
        var rows = new List<PriceRow>();
        var n = 0;
        for (var t = from; t < to; t += step, n++)
        {
            var close = 100 + (n % 17) - (n % 5) * 0.25m;
            rows.Add(new PriceRow(symbol, t, close - 1, close + 2, close - 3, close, 10 + n % 7));
        }

        return rows;
    }

    private static async Task<JsonElement> StatusAsync(string connectionString)
    {
        var (code, output, error) = await RunCliAsync("status", "--json", "--connection", connectionString);
        Assert.True(code == 0, error);
        return JsonDocument.Parse(output).RootElement.GetProperty("health");
    }

    private static Task<string> ContentMd5Async(NpgsqlDataSource dataSource)
        => dataSource.ScalarAsync<string>(
            "SELECT md5(string_agg(p::text, ',' ORDER BY asset_id, date)) FROM asset_prices_historic p");

    /// <summary>An archive's rows as PostgreSQL's own CSV reader loads them (not the archiver's), as an md5 over the ordered rows.</summary>
    private static async Task<string> ArchiveContentMd5Async(NpgsqlDataSource dataSource, string path)
    {
        await using var connection = await dataSource.OpenConnectionAsync(Ct);
        await using (var create = new NpgsqlCommand("CREATE TEMP TABLE archived (LIKE asset_prices_historic)", connection))
        {
            await create.ExecuteNonQueryAsync(Ct);
        }

        await using (var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress))
        using (var reader = new StreamReader(gzip))
        await using (var import = await connection.BeginTextImportAsync("COPY archived FROM STDIN (FORMAT csv, HEADER true, NULL '\\N')", Ct))
        {
            await import.WriteAsync(await reader.ReadToEndAsync(Ct));
        }

        await using var md5 = new NpgsqlCommand("SELECT md5(string_agg(p::text, ',' ORDER BY asset_id, date)) FROM archived p", connection);
        return (string)(await md5.ExecuteScalarAsync(Ct))!;
    }
}
