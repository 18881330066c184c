using System.Diagnostics;
using System.Globalization;
using System.Text;
using FinanceHub.Data.Conversion;
using FinanceHub.Data.Ingest;
using Microsoft.Extensions.Logging.Abstractions;
using NpgsqlTypes;

namespace FinanceHub.Data.Benchmarks;

/// <summary>
/// Issue 6's benchmark: the batched online conversion against one INSERT ... SELECT of the same rows into a hypertable,
/// and the longest time a concurrent writer waited during the conversion and swap.
/// </summary>
internal static class ConvertBenchmark
{
    public static async Task<int> RunAsync(int rows, string resultsFile)
    {
        await using var db = await BenchmarkDatabase.CreateAsync(migrateTo: "InitialSchema");
        Console.WriteLine($"database {db.Name} (plain tables, as the old application had them), {rows:N0} rows");
        await db.ExecuteAsync("INSERT INTO assets (symbol, asset_type, quote_currency, is_active) SELECT 'A' || lpad(i::text, 3, '0'), 'Crypto', 'USD', true FROM generate_series(1, 10) i");
        var start = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero).AddDays(-300);
        var random = new Random(5);
        await db.Ingestor.IngestPricesAsync(Enumerable.Range(0, rows).Select(n => new PriceRow($"A{(n % 10) + 1:000}", start.AddMinutes(n / 10), 10, 11, 9, 10.5m,
            Math.Round((decimal)random.NextDouble() * 100, 8))), new IngestOptions { RefreshAggregates = false });
        await db.ExecuteAsync("CREATE EXTENSION IF NOT EXISTS timescaledb");
        await db.ExecuteAsync("VACUUM ANALYZE asset_prices_historic");

        // Baseline: one statement copying everything into an identical hypertable.
        await db.ExecuteAsync(
            """
            CREATE TABLE baseline_copy (LIKE asset_prices_historic INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
            SELECT create_hypertable('baseline_copy', by_range('date', INTERVAL '7 days'), create_default_indexes => false);
            """);
        var stopwatch = Stopwatch.StartNew();
        await db.ExecuteAsync("INSERT INTO baseline_copy SELECT * FROM asset_prices_historic");
        var single = stopwatch.Elapsed;
        await db.ExecuteAsync("DROP TABLE baseline_copy");
        Console.WriteLine($"single INSERT ... SELECT: {rows / single.TotalSeconds,10:N0} rows/s ({single.TotalSeconds:N1} s)");

        // The conversion, with a writer inserting every few milliseconds throughout.
        var converter = new HypertableConverter(db.DataSource, NullLogger<HypertableConverter>.Instance);
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            var maxWait = TimeSpan.Zero;
            var t = DateTime.UtcNow;
            var written = 0;
            while (!stop.IsCancellationRequested)
            {
                var w = Stopwatch.StartNew();
                await using (var command = db.DataSource.CreateCommand("INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume) VALUES (1, $1, 1, 2, 1, 1.5, 3)"))
                {
                    command.Parameters.Add(new() { Value = t = t.AddMilliseconds(1), NpgsqlDbType = NpgsqlDbType.TimestampTz });
                    await command.ExecuteNonQueryAsync();
                }

                written++;
                maxWait = w.Elapsed > maxWait ? w.Elapsed : maxWait;
                await Task.Delay(10);
            }

            return (maxWait, written);
        });
        stopwatch.Restart();
        var status = await converter.ConvertAsync("asset_prices_historic", new ConversionOptions { BatchSize = BatchSize.OfRows(50_000) });
        var converted = stopwatch.Elapsed;
        stopwatch.Restart();
        await converter.SwapAsync("asset_prices_historic"); // validates every range first
        var swap = stopwatch.Elapsed;
        await Task.Delay(500);
        await stop.CancelAsync();
        var (longestWait, inserts) = await writer;
        Console.WriteLine($"batched conversion:     {status.RowsCopied / converted.TotalSeconds,10:N0} rows/s ({converted.TotalSeconds:N1} s, {status.Phase}); validate + swap {swap.TotalSeconds:N1} s; " +
                          $"writer: {inserts} inserts, longest wait {longestWait.TotalMilliseconds:N0} ms");

        var ratio = single / converted;
        var report = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"## Online conversion ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores; {rows:N0} price rows in a plain table; batches of 50,000 rows; a writer inserting every 10 ms.")
            .AppendLine()
            .AppendLine("| measure | value | baseline (same run) | ratio | target | met |")
            .AppendLine("| --- | --- | --- | --- | --- | --- |")
            .AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| batched conversion copy (rows/s; same indexes) | {status.RowsCopied / converted.TotalSeconds:N0} | single INSERT ... SELECT: {rows / single.TotalSeconds:N0} | {ratio:N2} | >= 0.5 | {(ratio >= 0.5 ? "yes" : "**no**")} |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| validation of every range + swap (s) | {swap.TotalSeconds:N1} | | | | |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| longest writer wait during conversion and swap (ms) | {longestWait.TotalMilliseconds:N0} | | | < 1000 | {(longestWait < TimeSpan.FromSeconds(1) ? "yes" : "**no**")} |"))
            .AppendLine();
        Console.Write(report);
        await File.AppendAllTextAsync(resultsFile, report.ToString());
        return 0;
    }
}
