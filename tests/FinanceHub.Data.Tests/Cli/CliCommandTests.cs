using System.Text.Json;
using FinanceHub.Data.Cli;
using FinanceHub.Data.Tests.Infrastructure;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Cli;

/// <summary>ingest, ohlcv, bucket, chunks, retention and compress, in-process against the real server.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class CliCommandTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Ingest_loads_a_csv_reporting_progress_as_plain_lines_then_ohlcv_and_bucket_read_it_back()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("cli_ingest", migrate: true);
        await using var _ = dataSource;
        var csv = await WriteCsvAsync(Enumerable.Range(0, 250_000).Select(i =>
            $"{(i % 2 == 0 ? "BTC" : "ETH")},{new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(i / 2):yyyy-MM-ddTHH:mm:ssZ},10,12,9,11,1.5,,3,feed"));

        var ingest = await RunCliAsync("ingest", csv, "--create-symbols", "--connection", connectionString);
        var ohlcv = await RunCliAsync("ohlcv", "BTC", "--interval", "1day", "--from", "2026-10-01", "--to", "2026-10-03", "--json", "--connection", connectionString);
        var bucket = await RunCliAsync("bucket", "asset_prices_historic", "--bucket", "1 day", "--from", "2026-10-01", "--to", "2026-10-03", "--per-series", "--json",
            "--connection", connectionString);

        Assert.True(ingest.Code == 0, ingest.Error);
        Assert.Contains("loaded 100,000 rows", ingest.Error, StringComparison.Ordinal);
        Assert.Contains("Loaded 250,000 rows", ingest.Output, StringComparison.Ordinal);
        Assert.Contains("created BTC, ETH", ingest.Output, StringComparison.Ordinal);
        using var candles = JsonDocument.Parse(ohlcv.Output);
        var list = candles.RootElement.GetProperty("candles").EnumerateArray().ToList();
        Assert.Equal(2, list.Count);
        Assert.Equal(1440 * 3, list[0].GetProperty("tradeCount").GetInt64());
        using var buckets = JsonDocument.Parse(bucket.Output);
        Assert.Equal(4, buckets.RootElement.GetArrayLength());
        File.Delete(csv);
    }

    [Fact]
    public async Task Ohlcv_serves_weekly_candles_from_the_candle_ladder()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("cli_ladder", migrate: true);
        await using var _ = dataSource;
        // BTC every 5 minutes from Thursday 2026-09-03 to Tuesday 2026-10-06: the range below starts and ends inside weeks.
        var start = new DateTimeOffset(2026, 9, 3, 0, 0, 0, TimeSpan.Zero);
        var csv = await WriteCsvAsync(Enumerable.Range(0, 33 * 288).Select(i =>
            $"BTC,{start.AddMinutes(5 * i):yyyy-MM-ddTHH:mm:ssZ},{100 + i % 97},{103 + i % 97 + i % 5},{98 + i % 97},{101 + i % 97},{i % 7}.25,,1,feed"));
        var ingest = await RunCliAsync("ingest", csv, "--create-symbols", "--connection", connectionString);
        Assert.True(ingest.Code == 0, ingest.Error);
        // What a maintenance run does; on the Apache edition the first materialization, rungs included.
        foreach (var view in FinanceHub.Data.Entities.Aggregates.All)
        {
            await Manager(dataSource).RefreshContinuousAggregateAsync(view, cancellationToken: Ct);
        }

        var json = await RunCliAsync("ohlcv", "BTC", "--interval", "1week", "--from", "2026-09-05T13:00", "--to", "2026-10-05T09:00", "--json", "--connection", connectionString);
        var table = await RunCliAsync("ohlcv", "BTC", "--interval", "1week", "--from", "2026-09-05T13:00", "--to", "2026-10-05T09:00", "--connection", connectionString);

        Assert.True(json.Code == 0, json.Error);
        using var result = JsonDocument.Parse(json.Output);
        Assert.Equal("asset_prices_weekly", result.RootElement.GetProperty("aggregateUsed").GetString());
        var candles = result.RootElement.GetProperty("candles").EnumerateArray()
            .Select(c => (c.GetProperty("bucket").GetDateTimeOffset(), c.GetProperty("high").GetDecimal(), c.GetProperty("volume").GetDecimal(), c.GetProperty("tradeCount").GetInt64()))
            .ToList();
        var expected = (await dataSource.QueryAsync(
            """
            SELECT date_trunc('week', date, 'UTC'), max(high), sum(volume), count(*) FROM asset_prices_historic
            WHERE date >= '2026-09-05T13:00Z' AND date < '2026-10-05T09:00Z' GROUP BY 1 ORDER BY 1
            """)).Select(r => (new DateTimeOffset((DateTime)r[0]!), (decimal)r[1]!, (decimal)r[2]!, (long)r[3]!)).ToList();
        Assert.Equal(6, expected.Count);
        Assert.Equal(expected, candles);
        Assert.True(table.Code == 0, table.Error);
        Assert.Contains("6 candle(s) of BTC, 1week in UTC; whole buckets from asset_prices_weekly.", table.Output, StringComparison.Ordinal);
        File.Delete(csv);
    }

    [Fact]
    public async Task Asof_prices_a_portfolio_as_json_and_as_a_table_and_names_unknown_symbols()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("cli_asof", migrate: true);
        await using var _ = dataSource;
        // BTC every minute for a day, ETH every 7 minutes; each close is the row's own number.
        var csv = await WriteCsvAsync(Enumerable.Range(0, 1440).SelectMany(i => (i % 7 == 0 ? new[] { "BTC", "ETH" } : ["BTC"]).Select(s =>
            $"{s},{new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(i):yyyy-MM-ddTHH:mm:ssZ},{i},{i + 1},{i - 1},{i}.{(s == "BTC" ? 1 : 2)},2,,1,feed")));
        Assert.Equal(0, (await RunCliAsync("ingest", csv, "--create-symbols", "--connection", connectionString)).Code);

        var json = await RunCliAsync("asof", "btc, ETH", "--at", "2026-10-01T10:12:30Z", "--json", "--connection", connectionString);
        var table = await RunCliAsync("asof", "BTC,ETH", "--at", "2026-10-01T10:12:30Z", "--max-age", "3 minutes", "--connection", connectionString);
        var unknown = await RunCliAsync("asof", "BTC,NOPE", "--connection", connectionString);

        Assert.True(json.Code == 0, json.Error);
        using var prices = JsonDocument.Parse(json.Output);
        var list = prices.RootElement.EnumerateArray().ToList();
        Assert.Equal(["BTC", "ETH"], list.Select(p => p.GetProperty("symbol").GetString()));
        foreach (var p in list)
        {
            var expected = await dataSource.ScalarAsync<decimal>(
                "SELECT p.close FROM asset_prices_historic p JOIN assets a ON a.id = p.asset_id WHERE a.symbol = $1 AND p.date = " +
                "(SELECT max(date) FROM asset_prices_historic WHERE asset_id = a.id AND date <= '2026-10-01T10:12:30Z')", p.GetProperty("symbol").GetString());
            Assert.Equal(expected, p.GetProperty("price").GetProperty("close").GetDecimal());
        }

        Assert.Equal(612.1m, list[0].GetProperty("price").GetProperty("close").GetDecimal());
        Assert.Equal(609.2m, list[1].GetProperty("price").GetProperty("close").GetDecimal());
        Assert.True(table.Code == 0, table.Error);
        Assert.Matches(@"BTC\s*│\s*found", table.Output);
        Assert.Matches(@"ETH\s*│\s*stale", table.Output);
        Assert.Contains("1 of 2 asset(s) priced as of 2026-10-01 10:12:30Z; prices older than 3 min count as missing.", table.Output, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Usage, unknown.Code);
        Assert.Contains("NOPE", unknown.Error, StringComparison.Ordinal);
        File.Delete(csv);
    }

    [Fact]
    public async Task Ingest_names_a_timestamp_without_offset_and_writes_nothing()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("cli_ingest_bad", migrate: true);
        await using var _ = dataSource;
        var csv = await WriteCsvAsync(["BTC,2026-10-01T00:00:00Z,10,12,9,11,1", "BTC,2026-10-01 00:01:00,10,12,9,11,1"]);

        var (code, _, error) = await RunCliAsync("ingest", csv, "--create-symbols", "--connection", connectionString);

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("Row 2", error, StringComparison.Ordinal);
        Assert.Contains("no offset", error, StringComparison.Ordinal);
        Assert.Equal(0L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"));
        File.Delete(csv);
    }

    [Fact]
    public async Task Chunks_and_retention_commands_work_and_refuse_contradictory_options()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("cli_chunks", migrate: true);
        await using var _ = dataSource;
        await dataSource.InsertPricesAsync(await dataSource.InsertAssetAsync("BTC"), DateTimeOffset.UtcNow.AddDays(-60), DateTimeOffset.UtcNow, TimeSpan.FromHours(1));

        var chunks = await RunCliAsync("chunks", "asset_prices_historic", "--json", "--connection", connectionString);
        var set = await RunCliAsync("retention", "performance_metrics", "--set", "45 days", "--connection", connectionString);
        var drop = await RunCliAsync("retention", "asset_prices_historic", "--drop-older-than", "31 days", "--json", "--connection", connectionString);
        // On the community edition the daily aggregate's refresh reaches back 30 days: dropping raw rows inside that window
        // would delete its candles at the next refresh, so it is refused, and nothing is dropped.
        var rowsBeforeRefusal = await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic");
        var inWindow = await RunCliAsync("retention", "asset_prices_historic", "--drop-older-than", "21 days", "--connection", connectionString);
        var rowsAfterRefusal = await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic");
        var both = await RunCliAsync("retention", "asset_prices_historic", "--set", "45 days", "--remove", "--connection", connectionString);
        var months = await RunCliAsync("retention", "asset_prices_historic", "--set", "2 months", "--connection", connectionString);

        Assert.Equal(0, chunks.Code);
        Assert.True(JsonDocument.Parse(chunks.Output).RootElement.GetArrayLength() >= 6);
        Assert.True(set.Code == 0, set.Error);
        Assert.Contains("45 days", set.Output, StringComparison.Ordinal);
        Assert.True(drop.Code == 0, drop.Error);
        Assert.True(JsonDocument.Parse(drop.Output).RootElement.GetProperty("droppedChunks").GetInt32() >= 2);
        if (fixture.IsCommunity)
        {
            Assert.Equal(ExitCodes.Failed, inWindow.Code);
            Assert.Contains("asset_prices_daily", inWindow.Error, StringComparison.Ordinal);
            Assert.Equal(rowsBeforeRefusal, rowsAfterRefusal);
        }
        else
        {
            Assert.True(inWindow.Code == 0, inWindow.Error);
        }
        Assert.Equal(ExitCodes.Usage, both.Code);
        Assert.Equal(ExitCodes.Usage, months.Code);
        Assert.Contains("months have no fixed length", months.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compress_on_the_apache_edition_exits_1_naming_the_edition()
    {
        fixture.RequireApache();

        var (code, _, error) = await RunCliAsync("compress", "asset_prices_historic", "--older-than", "30 days", "--connection", fixture.ConnectionString);

        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("community edition", error, StringComparison.Ordinal);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public async Task Compress_shows_statistics_and_compresses_on_community_edition()
    {
        fixture.RequireCommunity();
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("cli_compress", migrate: true);
        await using var _ = dataSource;
        // The migration's compression policy would otherwise compress the old chunks first, whenever its job runs.
        await dataSource.ExecuteAsync("SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression'");
        await dataSource.InsertPricesAsync(await dataSource.InsertAssetAsync("BTC"), DateTimeOffset.UtcNow.AddDays(-60), DateTimeOffset.UtcNow, TimeSpan.FromHours(1));

        var (code, output, error) = await RunCliAsync("compress", "asset_prices_historic", "--older-than", "30 days", "--json", "--connection", connectionString);

        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        Assert.True(json.RootElement.GetProperty("changedChunks").GetInt32() > 0);
        Assert.True(json.RootElement.GetProperty("stats").GetProperty("compressedChunks").GetInt64() > 0);
    }

    private static async Task<string> WriteCsvAsync(IEnumerable<string> lines)
    {
        var path = Path.Combine(Path.GetTempPath(), $"financehub-prices-{Guid.NewGuid():N}.csv");
        await File.WriteAllLinesAsync(path, ["symbol,date,open,high,low,close,volume,adjusted_close,trade_count,source", .. lines], Ct);
        return path;
    }
}
