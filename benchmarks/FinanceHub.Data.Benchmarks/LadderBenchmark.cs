using System.Diagnostics;
using System.Globalization;
using System.Text;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Querying;

namespace FinanceHub.Data.Benchmarks;

/// <summary>
/// Issue 17's candle ladder target: a year of weekly candles (and monthly, and a month of 4-hour candles) served from the
/// aggregates against the same candles from raw rows, one asset with a bar every minute for a year; warm medians.
/// </summary>
internal static class LadderBenchmark
{
    public static async Task<int> RunAsync(string resultsFile)
    {
        await using var db = await BenchmarkDatabase.CreateAsync();
        var end = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero).AddDays(-2);
        var start = end.AddDays(-372);
        await db.ExecuteAsync("INSERT INTO assets (symbol, asset_type, quote_currency, is_active) VALUES ('W', 'Stock', 'USD', true)");
        var load = Stopwatch.StartNew();
        await db.ExecuteAsync(
            $"""
            INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume, trade_count, source)
            SELECT 1, t, 100 + m % 37, 101 + m % 41, 99 - m % 13, 100 + m % 29 + 0.12345678, m % 1000 + 0.5, 1, 'bench'
            FROM generate_series('{start.UtcDateTime:yyyy-MM-dd HH:mm:ss}+00'::timestamptz, '{end.UtcDateTime:yyyy-MM-dd HH:mm:ss}+00'::timestamptz - interval '1 minute', interval '1 minute') WITH ORDINALITY AS g (t, m)
            """);
        await db.Manager.RefreshContinuousAggregateAsync(Aggregates.Hourly);
        await db.Manager.RefreshContinuousAggregateAsync(Aggregates.Daily);
        // The ladder's rungs roll up what their parents hold now (on the Apache edition the parents' refreshes did it).
        foreach (var rung in Aggregates.Ladder)
        {
            await db.Manager.RefreshContinuousAggregateAsync(rung.View);
        }

        await db.ExecuteAsync("VACUUM ANALYZE");
        Console.WriteLine($"loaded and aggregated a year of minute bars in {load.Elapsed.TotalSeconds:N1} s");

        var repository = new TimeSeriesRepository(db.DataSource, db.Manager);
        var yearStart = new DateTimeOffset(System.Globalization.ISOWeek.ToDateTime(end.Year - 1, System.Globalization.ISOWeek.GetWeekOfYear(end.UtcDateTime), DayOfWeek.Monday), TimeSpan.Zero);
        var weekEnd = new DateTimeOffset(System.Globalization.ISOWeek.ToDateTime(end.Year, System.Globalization.ISOWeek.GetWeekOfYear(end.UtcDateTime), DayOfWeek.Monday), TimeSpan.Zero);
        var monthStart = new DateTimeOffset(end.Year - 1, end.Month, 1, 0, 0, 0, TimeSpan.Zero);
        var monthEnd = new DateTimeOffset(end.Year, end.Month, 1, 0, 0, 0, TimeSpan.Zero);
        var report = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"## Candle ladder: weekly, monthly, 4-hour candles ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores; TimescaleDB {(await db.Manager.GetHealthAsync()).ExtensionVersion} ({await db.Manager.GetEditionAsync()} edition); one asset, a bar every minute for a year; warm medians of 15 calls after 2; whole buckets, all materialized.")
            .AppendLine()
            .AppendLine("| candles | aggregates (ms) | raw rows (ms) | ratio | target | met | served from |")
            .AppendLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (var (name, width, from, to, target) in new[]
                 {
                     ("a year of weekly", BucketWidth.Parse("1week"), yearStart, weekEnd, 50.0), ("a year of monthly", BucketWidth.Parse("1month"), monthStart, monthEnd, 0),
                     ("a month of 4-hour", BucketWidth.Parse("4hour"), end.AddDays(-30), end, 0),
                 })
        {
            var (aggregate, used, count) = await MedianAsync(repository, width, from, to, CandleSource.Auto);
            var (raw, _, rawCount) = await MedianAsync(repository, width, from, to, CandleSource.Raw);
            if (count != rawCount || count == 0)
            {
                throw new InvalidOperationException($"{name}: {count} candles from the aggregates, {rawCount} from raw rows");
            }

            var ratio = raw / aggregate;
            Console.WriteLine($"{name}: aggregates {aggregate.TotalMilliseconds:N2} ms ({used}), raw {raw.TotalMilliseconds:N2} ms, {ratio:N1}x");
            report.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} ({count}) | {aggregate.TotalMilliseconds:N2} | {raw.TotalMilliseconds:N2} | {ratio:N1} | {(target > 0 ? $">= {target} faster" : "")} | {(target > 0 ? ratio >= target ? "yes" : "**no**" : "")} | {used} |"));
        }

        report.AppendLine();
        Console.Write(report);
        await File.AppendAllTextAsync(resultsFile, report.ToString());
        return 0;
    }

    private static async Task<(TimeSpan Time, string? Used, int Count)> MedianAsync(
        TimeSeriesRepository repository, BucketWidth width, DateTimeOffset from, DateTimeOffset to, CandleSource source)
    {
        var times = new List<TimeSpan>();
        OhlcvResult? result = null;
        for (var i = 0; i < 17; i++)
        {
            var watch = Stopwatch.StartNew();
            result = await repository.GetOhlcvAsync("W", width, from, to, new OhlcvOptions { Source = source });
            if (i >= 2)
            {
                times.Add(watch.Elapsed);
            }
        }

        return (times.Order().ElementAt(times.Count / 2), result!.AggregateUsed, result.Candles.Count);
    }
}
