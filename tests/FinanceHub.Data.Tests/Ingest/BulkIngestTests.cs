using System.Net;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Ingest;
using FinanceHub.Data.Querying;
using FinanceHub.Data.Tests.Infrastructure;
using FinanceHub.Data.Tests.Querying;
using FinanceHub.Data.Timescale;
using FinanceHub.Data.Timescale.Maintenance;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Ingest;

/// <summary>Binary COPY loads: all or nothing, upserts, symbols, bad rows, and the other two tables.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class BulkIngestTests(DatabaseFixture fixture)
{
    private static readonly DateTimeOffset Day = new(2026, 11, 2, 0, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Streams_rows_from_an_async_source_into_the_hypertable()
    {
        var (ingestor, dataSource) = await NewDatabaseAsync();
        await dataSource.InsertAssetAsync("BTC");
        var reported = new List<long>();

        var result = await ingestor.IngestPricesAsync(Generate("BTC", 25_000), new IngestOptions { ProgressInterval = 10_000, Progress = new SyncProgress(reported) }, Ct);

        Assert.Equal(25_000, result.RowsRead);
        Assert.Equal(25_000, result.RowsWritten);
        Assert.Equal(25_000L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"));
        Assert.Equal([10_000L, 20_000L, 25_000L], reported);
        Assert.Equal(Day, result.MinDate);
    }

    [Fact]
    public async Task A_duplicate_key_fails_the_whole_load_and_names_the_fix()
    {
        var (ingestor, dataSource) = await NewDatabaseAsync();
        await dataSource.InsertAssetAsync("BTC");
        await ingestor.IngestPricesAsync([Row("BTC", Day, 10)], cancellationToken: Ct);

        var error = await Assert.ThrowsAsync<DuplicateRowException>(() =>
            ingestor.IngestPricesAsync([Row("BTC", Day.AddMinutes(1), 11), Row("BTC", Day, 12)], cancellationToken: Ct));

        Assert.Contains("ConflictMode.Skip", error.Message, StringComparison.Ordinal);
        Assert.Equal(1L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"));
    }

    [Fact]
    public async Task Skip_keeps_existing_rows_and_update_replaces_them_with_the_last_loaded()
    {
        var (ingestor, dataSource) = await NewDatabaseAsync();
        await dataSource.InsertAssetAsync("BTC");
        await ingestor.IngestPricesAsync([Row("BTC", Day, 10), Row("BTC", Day.AddMinutes(1), 10)], cancellationToken: Ct);

        var skipped = await ingestor.IngestPricesAsync(
            [Row("BTC", Day, 20), Row("BTC", Day.AddMinutes(2), 20)], new IngestOptions { OnConflict = ConflictMode.Skip }, Ct);
        var updated = await ingestor.IngestPricesAsync(
            [Row("BTC", Day.AddMinutes(1), 30), Row("BTC", Day.AddMinutes(1), 31), Row("BTC", Day.AddMinutes(3), 30)],
            new IngestOptions { OnConflict = ConflictMode.Update }, Ct);

        Assert.Equal((2L, 1L, 1L), (skipped.RowsRead, skipped.RowsWritten, skipped.RowsSkipped));
        Assert.Equal(2L, updated.RowsWritten); // the duplicate within the load collapses to its last row
        var closes = (await dataSource.QueryAsync("SELECT close FROM asset_prices_historic ORDER BY date")).Select(r => (decimal)r[0]!).ToList();
        Assert.Equal([10m, 31m, 20m, 30m], closes);
    }

    [Fact]
    public async Task Unknown_symbols_are_rejected_by_name_or_created()
    {
        var (ingestor, dataSource) = await NewDatabaseAsync();
        await dataSource.InsertAssetAsync("BTC");
        PriceRow[] rows = [Row("BTC", Day, 10), Row("DOGE", Day, 1), Row("btc", Day.AddMinutes(1), 10), Row("PEPE", Day, 1)];

        var rejected = await Assert.ThrowsAsync<UnknownSymbolException>(() => ingestor.IngestPricesAsync(rows, cancellationToken: Ct));
        Assert.Equal("DOGE", rejected.Symbol);
        Assert.Contains("Row 2", rejected.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"));

        var created = await ingestor.IngestPricesAsync(rows, new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create }, Ct);

        Assert.Equal(["DOGE", "PEPE"], created.AssetsCreated);
        Assert.Equal(4L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"));
        Assert.Equal(3L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM assets"));
    }

    public static TheoryData<string, string> BadRows => new()
    {
        { "high-below-low", "high 9 is below low 10" },
        { "negative-volume", "volume -1 is negative" },
        { "missing-symbol", "the symbol is missing" },
        { "missing-date", "the date is missing" },
        { "close-outside", "close 50 is outside" },
        { "too-large", "more than 12 integer digits" },
    };

    [Theory]
    [MemberData(nameof(BadRows))]
    public async Task A_bad_row_is_named_and_nothing_is_written(string kind, string problem)
    {
        var (ingestor, dataSource) = await NewDatabaseAsync();
        await dataSource.InsertAssetAsync("BTC");
        var bad = kind switch
        {
            "high-below-low" => Row("BTC", Day, 10) with { High = 9, Low = 10, Open = 10, Close = 10 },
            "negative-volume" => Row("BTC", Day, 10) with { Volume = -1 },
            "missing-symbol" => Row(" ", Day, 10),
            "missing-date" => Row("BTC", default, 10),
            "close-outside" => Row("BTC", Day, 10) with { Close = 50 },
            _ => Row("BTC", Day, 10) with { High = 10_000_000_000_000m },
        };

        var error = await Assert.ThrowsAsync<InvalidRowException>(() =>
            ingestor.IngestPricesAsync([.. Generate("BTC", 1000).ToBlockingEnumerable(Ct), bad], cancellationToken: Ct));

        Assert.Equal(1001, error.RowNumber);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"));
    }

    /// <summary>
    /// The load encodes rows itself (BinaryCopyStream); the oracle is Npgsql's own encoding of the same values, sent as
    /// parameters of a plain INSERT into a copy of the table. Scales 0 to 28, values that round at the column's scale, the
    /// limits of numeric(20,8) and numeric(28,8), negative prices and zeros, instants before 1970 and 2000 with ticks below a
    /// microsecond, offsets, text beyond ASCII, and NULLs; over one stream, two, and the staged (upsert) path.
    /// </summary>
    [Theory]
    [InlineData(1, ConflictMode.Error)]
    [InlineData(2, ConflictMode.Error)]
    [InlineData(1, ConflictMode.Update)]
    [InlineData(2, ConflictMode.Skip)]
    public async Task Every_value_arrives_as_npgsql_parameters_would_send_it(int parallelism, ConflictMode onConflict)
    {
        var (ingestor, dataSource) = await NewDatabaseAsync();
        await dataSource.InsertAssetAsync("BTC");
        decimal[] prices =
        [
            0m, -0.0m, 0.00000001m, -0.00000001m, 0.000000005m, 0.000000004999m, 1m, 1.5m, 10000m, 10000.0001m, 9999.9999m,
            -37.63m, 123456789012.5m, 999999999999.99999999m, -999999999999.99999999m, 0.1234567890123456789012345678m,
            1.2345678901234567890123456789m, 100.12345678m, 5e-28m, 12345678.9m, 70000.000000001m,
        ];
        decimal[] volumes = [0m, 99999999999999999999.99999999m, 12345678901234567890m, 0.5m, 1e-28m, 4294967296.00000001m];
        var instants = new[]
        {
            new DateTimeOffset(1969, 12, 31, 23, 59, 59, TimeSpan.Zero).AddTicks(9_999_999), new DateTimeOffset(1999, 12, 31, 23, 59, 59, TimeSpan.Zero).AddTicks(3),
            new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(-7), new DateTimeOffset(2026, 3, 29, 2, 30, 0, TimeSpan.FromHours(2)).AddTicks(17),
            new DateTimeOffset(2040, 2, 29, 12, 0, 0, TimeSpan.FromHours(-5)), new DateTimeOffset(1900, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(1),
        };
        string?[] sources = [null, "", "csv", "Börse Frankfurt ✓ 東京 🚀", new string('x', 64)];
        var rows = new List<PriceRow>();
        for (var i = 0; i < prices.Length * instants.Length; i++)
        {
            var p = prices[i % prices.Length];
            rows.Add(new PriceRow("BTC", instants[i % instants.Length].AddDays(i), p, p, p, p, volumes[i % volumes.Length],
                AdjustedClose: i % 3 == 0 ? null : prices[(i + 5) % prices.Length], TradeCount: (i % 4) switch { 0 => null, 1 => 0, 2 => int.MaxValue, _ => i },
                Source: sources[i % sources.Length]));
        }

        await dataSource.ExecuteAsync("CREATE TABLE expected (LIKE asset_prices_historic)");
        foreach (var r in rows)
        {
            await using var insert = dataSource.CreateCommand(
                "INSERT INTO expected VALUES ((SELECT id FROM assets WHERE symbol = 'BTC'), $1, $2, $3, $4, $5, $6, $7, $8, $9)");
            insert.Parameters.Add(new() { Value = r.Date.UtcDateTime, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            foreach (var value in new object?[] { r.Open, r.High, r.Low, r.Close, r.AdjustedClose, r.Volume })
            {
                insert.Parameters.Add(new() { Value = value ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Numeric });
            }

            insert.Parameters.Add(new() { Value = (object?)r.TradeCount ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
            insert.Parameters.Add(new() { Value = (object?)r.Source ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            await insert.ExecuteNonQueryAsync(Ct);
        }

        var result = await ingestor.IngestPricesAsync(rows, new IngestOptions { Parallelism = parallelism, OnConflict = onConflict }, Ct);

        Assert.Equal(rows.Count, result.RowsWritten);
        Assert.Equal(rows.Count, await dataSource.ScalarAsync<long>("SELECT count(*) FROM expected"));
        Assert.Equal(0L, await dataSource.ScalarAsync<long>(
            """
            SELECT count(*) FROM ((TABLE asset_prices_historic EXCEPT ALL TABLE expected) UNION ALL (TABLE expected EXCEPT ALL TABLE asset_prices_historic)) d
            """));
        // The same text as PostgreSQL prints it (numeric equality would not see a scale that differs).
        Assert.Equal(
            await dataSource.ScalarAsync<string>("SELECT md5(string_agg(e::text, '|' ORDER BY date)) FROM expected e"),
            await dataSource.ScalarAsync<string>("SELECT md5(string_agg(p::text, '|' ORDER BY date)) FROM asset_prices_historic p"));
    }

    [Fact]
    public async Task Ef_core_add_and_save_changes_still_work_for_small_writes()
    {
        var (_, dataSource) = await NewDatabaseAsync();
        await using var context = DatabaseFixture.CreateContext(dataSource);
        var asset = new Asset { Symbol = "AAPL", Name = "Apple", AssetType = AssetType.Stock, Exchange = "NASDAQ" };
        context.Assets.Add(asset);
        await context.SaveChangesAsync(Ct);
        context.AssetPrices.Add(new AssetPrice { AssetId = asset.Id, Date = Day, Open = 1.5m, High = 2.25m, Low = 1.125m, Close = 2m, Volume = 1000.12345678m });
        context.PerformanceMetrics.Add(new PerformanceMetric { MetricName = "api.latency", Value = 12.5, CreatedAt = Day, Unit = "ms" });
        context.ApiUsageLogs.Add(new ApiUsageLog { Endpoint = "/prices", Method = "GET", StatusCode = 200, DurationMs = 3, CreatedAt = Day, ClientIp = IPAddress.Loopback });
        await context.SaveChangesAsync(Ct);

        await using var read = DatabaseFixture.CreateContext(dataSource);
        var price = await read.AssetPrices.Include(p => p.Asset).SingleAsync(Ct);
        Assert.Equal(1000.12345678m, price.Volume);
        Assert.Equal("AAPL", price.Asset!.Symbol);
        Assert.Equal(Day, price.Date);
        Assert.True((await read.ApiUsageLogs.SingleAsync(Ct)).Id > 0);
    }

    [Fact]
    public async Task Metrics_and_usage_logs_load_and_a_bad_status_code_is_named()
    {
        var (ingestor, dataSource) = await NewDatabaseAsync();

        var metrics = await ingestor.IngestMetricsAsync(Async(Enumerable.Range(0, 5000).Select(i =>
            new PerformanceMetric { MetricName = i % 2 == 0 ? "cpu" : "mem", Value = i, CreatedAt = Day.AddSeconds(i), Service = "api" })), cancellationToken: Ct);
        var logs = await ingestor.IngestApiUsageAsync(Async(Enumerable.Range(0, 5000).Select(i =>
            new ApiUsageLog { Endpoint = "/e" + (i % 3), Method = "GET", StatusCode = 200, DurationMs = i / 10.0, CreatedAt = Day.AddSeconds(i), ClientIp = IPAddress.Parse("10.0.0.1") })), cancellationToken: Ct);
        var error = await Assert.ThrowsAsync<InvalidRowException>(() => ingestor.IngestApiUsageAsync(Async(
            [new ApiUsageLog { Endpoint = "/x", Method = "GET", StatusCode = 200, CreatedAt = Day }, new ApiUsageLog { Endpoint = "/x", Method = "GET", StatusCode = 42, CreatedAt = Day }]), cancellationToken: Ct));

        Assert.Equal((5000L, 5000L), (metrics.RowsWritten, logs.RowsWritten));
        Assert.Equal(2, error.RowNumber);
        Assert.Contains("status code 42", error.Message, StringComparison.Ordinal);
        Assert.Equal(5000L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM api_usage_logs"));
        Assert.Equal(2500L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM performance_metrics WHERE metric_name = 'cpu'"));
    }

    [Fact]
    public async Task A_backfill_below_the_watermark_refreshes_the_aggregates_so_candles_stay_exact()
    {
        var (ingestor, dataSource) = await NewDatabaseAsync();
        var manager = Manager(dataSource);
        var recent = Reference.GeneratePrices("BTC", Day, Day.AddDays(3), seed: 5);
        await ingestor.IngestPricesAsync(recent, new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create }, Ct);
        await manager.RefreshContinuousAggregateAsync("asset_prices_daily", cancellationToken: Ct);
        await manager.RefreshContinuousAggregateAsync("asset_prices_hourly", cancellationToken: Ct);

        var backfill = Reference.GeneratePrices("BTC", Day.AddDays(-5), Day, seed: 6);
        await ingestor.IngestPricesAsync(backfill, cancellationToken: Ct);

        var repository = new TimeSeriesRepository(dataSource, manager);
        var candles = await repository.GetOhlcvAsync("BTC", BucketWidth.OneDay, Day.AddDays(-5), Day.AddDays(3), cancellationToken: Ct);
        Assert.Equal("asset_prices_daily", candles.AggregateUsed);
        Assert.Equal(Reference.Candles([.. backfill, .. recent], BucketWidth.OneDay, TimeZoneInfo.Utc, Day.AddDays(-5), Day.AddDays(3)), candles.Candles);
    }

    [Fact]
    public async Task Time_bucketed_data_for_each_table_equals_a_reference_and_rejects_unknown_tables()
    {
        var (ingestor, dataSource) = await NewDatabaseAsync();
        var prices = Reference.GeneratePrices("BTC", Day, Day.AddHours(10), seed: 7);
        await ingestor.IngestPricesAsync(prices, new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create }, Ct);
        await ingestor.IngestMetricsAsync(Async(Enumerable.Range(0, 600).Select(i =>
            new PerformanceMetric { MetricName = i % 2 == 0 ? "cpu" : "mem", Value = i * 1.5, CreatedAt = Day.AddMinutes(i) })), cancellationToken: Ct);
        var repository = new TimeSeriesRepository(dataSource, Manager(dataSource));

        var priceBuckets = await repository.GetTimeBucketedDataAsync("asset_prices_historic", "1 hour", Day, Day.AddHours(10), Ct);
        var metricBuckets = await repository.GetTimeBucketedDataAsync(
            new TimeBucketQuery("performance_metrics", BucketWidth.Parse("2 hours"), Day, Day.AddHours(10), PerSeries: true), Ct);
        var cpuOnly = await repository.GetTimeBucketedDataAsync(
            new TimeBucketQuery("performance_metrics", BucketWidth.OneHour, Day, Day.AddHours(10), Series: "cpu"), Ct);

        var expectedPrices = prices.GroupBy(p => Reference.BucketStart(p.Date, BucketWidth.OneHour, TimeZoneInfo.Utc)).OrderBy(g => g.Key)
            .Select(g => (g.Key, (long)g.Count(), g.Min(p => p.Close), g.Max(p => p.Close), g.Sum(p => p.Volume))).ToList();
        Assert.Equal(expectedPrices, priceBuckets.Select(r => (r.Bucket, r.Count, r.Minimum!.Value, r.Maximum!.Value, r.Sum!.Value)));
        Assert.Equal(10, metricBuckets.Count); // 5 buckets x 2 metrics
        Assert.All(metricBuckets, r => Assert.Equal(60, r.Count));
        Assert.All(cpuOnly, r => Assert.Equal("cpu", r.Series));
        Assert.Equal(300, cpuOnly.Sum(r => r.Count));
        var unknown = await Assert.ThrowsAsync<ArgumentException>(() => repository.GetTimeBucketedDataAsync("pg_authid", "1 hour", Day, Day.AddHours(1), Ct));
        Assert.Contains("asset_prices_historic", unknown.Message, StringComparison.Ordinal);
    }

    private async Task<(BulkIngestor Ingestor, NpgsqlDataSource DataSource)> NewDatabaseAsync()
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync("ingest", migrate: true);
        return (Ingestor(dataSource), dataSource);
    }

    [Fact]
    public async Task History_loaded_into_a_new_database_keeps_its_candles_after_the_refresh_policies_run()
    {
        // The policies only look back 7 and 30 days: without a refresh of older rows at load time, their first run would
        // move the watermark past 60 days of history that was never materialized, and those candles would disappear.
        var (ingestor, dataSource) = await NewDatabaseAsync();
        var today = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero);
        var rows = new List<PriceRow>();
        for (var (t, n) = (today.AddDays(-60), 0); t < today; t = t.AddHours(1), n++)
        {
            rows.Add(new PriceRow("BTC", t, 100 + n % 13, 120 + n % 7, 90 - n % 5, 100 + n % 11, 1 + n % 3));
        }

        await ingestor.IngestPricesAsync(rows, new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create }, Ct);
        var maintenance = await Manager(dataSource).RunMaintenanceAsync(force: true, Ct);

        Assert.DoesNotContain(maintenance, m => m.Outcome == MaintenanceOutcome.Failed);
        var repository = new TimeSeriesRepository(dataSource, Manager(dataSource));
        var daily = await repository.GetOhlcvAsync("BTC", BucketWidth.OneDay, today.AddDays(-60), today, cancellationToken: Ct);
        var hourly = await repository.GetOhlcvAsync("BTC", BucketWidth.OneHour, today.AddDays(-60), today, cancellationToken: Ct);
        Assert.Equal(Reference.Candles(rows, BucketWidth.OneDay, TimeZoneInfo.Utc, today.AddDays(-60), today), daily.Candles);
        Assert.Equal(Reference.Candles(rows, BucketWidth.OneHour, TimeZoneInfo.Utc, today.AddDays(-60), today), hourly.Candles);
        Assert.Equal(60, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_daily"));
    }

    private static PriceRow Row(string symbol, DateTimeOffset date, decimal close) => new(symbol, date, close, close + 1, close - 1, close, 5);

    private static async IAsyncEnumerable<PriceRow> Generate(string symbol, int count)
    {
        for (var i = 0; i < count; i++)
        {
            if (i % 5000 == 0)
            {
                await Task.Yield();
            }

            yield return Row(symbol, Day.AddMinutes(i), 100 + (i % 17));
        }
    }

    private static async IAsyncEnumerable<T> Async<T>(IEnumerable<T> items)
    {
        foreach (var item in items)
        {
            yield return item;
        }

        await Task.CompletedTask;
    }

    private sealed class SyncProgress(List<long> values) : IProgress<long>
    {
        public void Report(long value) => values.Add(value);
    }
}
