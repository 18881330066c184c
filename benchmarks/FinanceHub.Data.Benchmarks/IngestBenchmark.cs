using System.Diagnostics;
using System.Globalization;
using System.Text;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Ingest;
using FinanceHub.Data.Querying;

namespace FinanceHub.Data.Benchmarks;

/// <summary>
/// Issue 3's benchmark: binary COPY ingest against psql \copy of the same rows as CSV and against EF AddRange +
/// SaveChanges; OHLCV latency from the aggregates against raw rows; managed memory of the load at 1M and N rows.
/// Every figure is measured in the same run; only ratios are compared with the targets.
/// </summary>
internal static class IngestBenchmark
{
    // Minute bars of 10 assets: 5,000,000 rows cover about 347 days.
    private const int Assets = 10;
    private static readonly TimeSpan Step = TimeSpan.FromMinutes(1);

    public static async Task<int> RunAsync(int rows, string resultsFile)
    {
        await using var db = await BenchmarkDatabase.CreateAsync();
        Console.WriteLine($"database {db.Name}, edition {await db.Manager.GetEditionAsync()}, {rows:N0} rows, {Assets} assets, one row per asset every {Step.TotalMinutes} min");
        await db.ExecuteAsync($"INSERT INTO assets (symbol, asset_type, quote_currency, is_active) SELECT 'A' || lpad(i::text, 3, '0'), 'Crypto', 'USD', true FROM generate_series(1, {Assets}) i");
        var start = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero) - Step * (rows / Assets);

        // 1. psql \copy of the same rows as CSV (the file is written first and not timed).
        var csv = Path.Combine(Path.GetTempPath(), $"{db.Name}.csv");
        await WriteCsvAsync(csv, Generate(rows, start));
        var psqlTime = await db.PsqlAsync(
            $"psql -v ON_ERROR_STOP=1 -qc \"\\copy asset_prices_historic (asset_id, date, open, high, low, close, adjusted_close, volume, trade_count, source) FROM '{csv}' WITH (FORMAT csv)\"");
        File.Delete(csv);
        Console.WriteLine($"psql \\copy CSV:        {rows / psqlTime.TotalSeconds,12:N0} rows/s ({psqlTime.TotalSeconds:N1} s)");
        await db.ExecuteAsync("TRUNCATE asset_prices_historic");

        // 2. Binary COPY, 1M rows then all rows, sampling the managed heap while loading.
        var small = Math.Min(1_000_000, rows);
        var (_, smallPeak) = await LoadAsync(db, Generate(small, start));
        await db.ExecuteAsync("TRUNCATE asset_prices_historic");
        var (result, peak) = await LoadAsync(db, Generate(rows, start));
        var copyRate = result.RowsPerSecond;
        Console.WriteLine($"binary COPY:           {copyRate,12:N0} rows/s ({result.Elapsed.TotalSeconds:N1} s); managed heap peak {Mb(smallPeak)} MiB at {small:N0} rows, {Mb(peak)} MiB at {rows:N0}");

        // 3. EF Core AddRange + SaveChanges, batches of 1,000 in fresh contexts (its best case), after the loaded range.
        const int efRows = 20_000;
        var efStart = start + (Step * (rows / Assets)) + TimeSpan.FromDays(1);
        var efStopwatch = Stopwatch.StartNew();
        foreach (var batch in Generate(efRows, efStart).Chunk(1000))
        {
            await using var context = db.CreateContext();
            context.AssetPrices.AddRange(batch.Select(r => new AssetPrice
            {
                AssetId = int.Parse(r.Symbol[1..], CultureInfo.InvariantCulture), Date = r.Date, Open = r.Open, High = r.High, Low = r.Low,
                Close = r.Close, Volume = r.Volume, TradeCount = r.TradeCount,
            }));
            await context.SaveChangesAsync();
        }

        var efRate = efRows / efStopwatch.Elapsed.TotalSeconds;
        Console.WriteLine($"EF AddRange+SaveChanges: {efRate,10:N0} rows/s ({efRows:N0} rows)");

        // 4. OHLCV latency, aggregate path against raw rows, after materializing the aggregates.
        var refresh = Stopwatch.StartNew();
        await db.Manager.RefreshContinuousAggregateAsync(Aggregates.Hourly);
        await db.Manager.RefreshContinuousAggregateAsync(Aggregates.Daily);
        Console.WriteLine($"aggregate refresh:     {refresh.Elapsed.TotalSeconds:N1} s");
        var repository = new TimeSeriesRepository(db.DataSource, db.Manager);
        var end = efStart;
        var yearDaily = await LatencyAsync(repository, BucketWidth.OneDay, end.AddDays(-365), end);
        var monthHourly = await LatencyAsync(repository, BucketWidth.OneHour, end.AddDays(-30), end);
        Console.WriteLine($"1 year of daily candles:  aggregate {yearDaily.Aggregate.TotalMilliseconds:N2} ms, raw {yearDaily.Raw.TotalMilliseconds:N2} ms");
        Console.WriteLine($"1 month of hourly candles: aggregate {monthHourly.Aggregate.TotalMilliseconds:N2} ms, raw {monthHourly.Raw.TotalMilliseconds:N2} ms");

        var report = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"## Ingest and OHLCV ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, {Mb(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes)} MiB, {Cpu()}; " +
                $"TimescaleDB {await ExtensionVersionAsync(db)} ({await db.Manager.GetEditionAsync()} edition); {rows:N0} rows, {Assets} assets.")
            .AppendLine()
            .AppendLine("| measure | value | baseline (same run) | ratio | target | met |")
            .AppendLine("| --- | --- | --- | --- | --- | --- |")
            .AppendLine(Row("binary COPY ingest (rows/s)", copyRate, "psql \\copy CSV", rows / psqlTime.TotalSeconds, copyRate / (rows / psqlTime.TotalSeconds), ">= 0.8", copyRate >= 0.8 * rows / psqlTime.TotalSeconds))
            .AppendLine(Row("binary COPY ingest (rows/s)", copyRate, "EF AddRange+SaveChanges", efRate, copyRate / efRate, ">= 10", copyRate >= 10 * efRate))
            .AppendLine(Row("1 year of daily candles (ms)", yearDaily.Aggregate.TotalMilliseconds, "raw rows", yearDaily.Raw.TotalMilliseconds,
                yearDaily.Raw / yearDaily.Aggregate, ">= 10 faster", yearDaily.Raw >= 10 * yearDaily.Aggregate))
            .AppendLine(Row("1 month of hourly candles (ms)", monthHourly.Aggregate.TotalMilliseconds, "raw rows", monthHourly.Raw.TotalMilliseconds,
                monthHourly.Raw / monthHourly.Aggregate, ">= 10 faster", monthHourly.Raw >= 10 * monthHourly.Aggregate))
            .AppendLine(Row($"managed heap peak, {rows:N0} rows (MiB)", Mb(peak), $"{small:N0} rows", Mb(smallPeak), (double)peak / smallPeak, "flat (about 1)", peak < 2 * smallPeak))
            .AppendLine();
        Console.Write(report);
        await File.AppendAllTextAsync(resultsFile, report.ToString());
        Console.WriteLine($"appended to {resultsFile}");
        return 0;
    }

    private static async Task<(IngestResult Result, long PeakHeap)> LoadAsync(BenchmarkDatabase db, IEnumerable<PriceRow> rows)
    {
        GC.Collect();
        long peak = 0;
        var progress = new SyncProgress(_ => peak = Math.Max(peak, GC.GetTotalMemory(false)));
        var result = await db.Ingestor.IngestPricesAsync(rows, new IngestOptions { RefreshAggregates = false, Progress = progress, ProgressInterval = 50_000 });
        return (result, peak);
    }

    private static async Task<(TimeSpan Aggregate, TimeSpan Raw)> LatencyAsync(TimeSeriesRepository repository, BucketWidth width, DateTimeOffset from, DateTimeOffset to)
    {
        async Task<TimeSpan> MedianAsync(CandleSource source)
        {
            var times = new List<TimeSpan>();
            for (var i = 0; i < 17; i++)
            {
                var stopwatch = Stopwatch.StartNew();
                var result = await repository.GetOhlcvAsync("A007", width, from, to, new OhlcvOptions { Source = source });
                stopwatch.Stop();
                if (i >= 2)
                {
                    times.Add(stopwatch.Elapsed);
                }

                if (result.Candles.Count == 0)
                {
                    throw new InvalidOperationException("no candles: the benchmark data is not where it should be");
                }
            }

            return times.Order().ElementAt(times.Count / 2);
        }

        return (await MedianAsync(CandleSource.Auto), await MedianAsync(CandleSource.Raw));
    }

    /// <summary>Deterministic rows ordered by time, then asset.</summary>
    private static IEnumerable<PriceRow> Generate(int rows, DateTimeOffset start)
    {
        var random = new Random(42);
        var prices = Enumerable.Range(0, Assets).Select(i => 100m + i).ToArray();
        for (var n = 0; n < rows; n++)
        {
            var asset = n % Assets;
            var open = prices[asset];
            var close = Math.Round(open * (1 + ((decimal)random.NextDouble() - 0.5m) / 100m), 8);
            var high = Math.Max(open, close) + Math.Round((decimal)random.NextDouble(), 8);
            var low = Math.Min(open, close) - Math.Round((decimal)random.NextDouble(), 8);
            prices[asset] = close;
            yield return new PriceRow($"A{asset + 1:000}", start + (Step * (n / Assets)), open, high, low, close,
                Math.Round((decimal)random.NextDouble() * 1000, 8), TradeCount: random.Next(1, 500));
        }
    }

    private static async Task WriteCsvAsync(string path, IEnumerable<PriceRow> rows)
    {
        await using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        foreach (var r in rows)
        {
            await writer.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{int.Parse(r.Symbol[1..], CultureInfo.InvariantCulture)},{r.Date.UtcDateTime:yyyy-MM-dd HH:mm:ss}+00,{r.Open},{r.High},{r.Low},{r.Close},,{r.Volume},{r.TradeCount},"));
        }
    }

    private static async Task<string> ExtensionVersionAsync(BenchmarkDatabase db)
        => (await db.Manager.GetHealthAsync()).ExtensionVersion ?? "?";

    private static string Row(string measure, double value, string baseline, double baseValue, double ratio, string target, bool met)
        => string.Create(CultureInfo.InvariantCulture, $"| {measure} | {value:N2} | {baseline}: {baseValue:N2} | {ratio:N2} | {target} | {(met ? "yes" : "**no**")} |");

    private static long Mb(long bytes) => bytes / (1024 * 1024);

    private static string Cpu()
        => File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU"
            : "unknown CPU";

    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
