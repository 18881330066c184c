using System.Diagnostics;
using System.Globalization;
using System.Text;
using FinanceHub.Data.Querying;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Benchmarks;

/// <summary>
/// Issue 17's as-of target: 500 assets as of one instant through <see cref="AsOfPriceRepository"/>, against the naive
/// query people write, the price row whose date is a max(date) subquery per asset (and, for reference, the IN (... GROUP BY
/// asset_id) form). Hourly bars; instants near the end and a month back; warm medians, every figure from the same run.
/// </summary>
internal static class AsOfBenchmark
{
    private const int Assets = 500;

    public static async Task<int> RunAsync(int rows, string resultsFile)
    {
        await using var db = await BenchmarkDatabase.CreateAsync();
        var hours = Math.Max(48, rows / Assets);
        Console.WriteLine($"database {db.Name}, edition {await db.Manager.GetEditionAsync()}, {Assets} assets x {hours:N0} hourly bars");
        var end = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero);
        var start = end.AddHours(-hours);
        await db.ExecuteAsync($"INSERT INTO assets (symbol, asset_type, quote_currency, is_active) SELECT 'P' || lpad(i::text, 3, '0'), 'Stock', 'USD', true FROM generate_series(1, {Assets}) i");
        var load = Stopwatch.StartNew();
        await db.ExecuteAsync(
            $"""
            INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume, trade_count, source)
            SELECT a.id, t, 100 + a.id, 101 + a.id, 99 + a.id, 100.5 + a.id + (extract(epoch FROM t)::bigint % 97) / 100.0, 10, 1, 'bench'
            FROM assets a CROSS JOIN generate_series('{start.UtcDateTime:yyyy-MM-dd HH:mm:ss}+00'::timestamptz, '{end.UtcDateTime:yyyy-MM-dd HH:mm:ss}+00'::timestamptz - interval '1 hour', interval '1 hour') t
            """);
        await db.ExecuteAsync("VACUUM ANALYZE asset_prices_historic");
        Console.WriteLine($"loaded {(long)Assets * hours:N0} rows in {load.Elapsed.TotalSeconds:N1} s");

        var symbols = Enumerable.Range(1, Assets).Select(i => $"P{i:000}").ToArray();
        var repository = new AsOfPriceRepository(db.DataSource);
        var report = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"## As-of prices, {Assets} assets ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores; TimescaleDB {(await db.Manager.GetHealthAsync()).ExtensionVersion} ({await db.Manager.GetEditionAsync()} edition); {Assets} assets, {(long)Assets * hours:N0} hourly rows over {hours / 24} days; warm medians of 15 calls after 2.")
            .AppendLine()
            .AppendLine("| instant | as-of (ms) | naive: max(date) subquery per asset (ms) | ratio | target | met | IN (... GROUP BY asset_id) (ms) |")
            .AppendLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (var (name, at) in new[] { ("2 h before the last row", end.AddHours(-2).AddMinutes(-17)), ("30 days back", end.AddDays(-30).AddMinutes(-17)) })
        {
            var ours = await MedianAsync(async () =>
            {
                var prices = await repository.GetPricesAsOfAsync(symbols, at);
                return prices.Count(p => p.Status == AsOfStatus.Found);
            });
            var naive = await MedianAsync(() => CountAsync(db, symbols, at,
                """
                SELECT a.symbol, p.date, p.open, p.high, p.low, p.close, p.adjusted_close, p.volume, p.trade_count
                FROM assets a JOIN asset_prices_historic p ON p.asset_id = a.id
                WHERE a.symbol = ANY($1) AND p.date = (SELECT max(q.date) FROM asset_prices_historic q WHERE q.asset_id = a.id AND q.date <= $2)
                """));
            var grouped = await MedianAsync(() => CountAsync(db, symbols, at,
                """
                SELECT a.symbol, p.date, p.open, p.high, p.low, p.close, p.adjusted_close, p.volume, p.trade_count
                FROM asset_prices_historic p JOIN assets a ON a.id = p.asset_id
                WHERE a.symbol = ANY($1) AND (p.asset_id, p.date) IN (SELECT asset_id, max(date) FROM asset_prices_historic WHERE date <= $2 GROUP BY asset_id)
                """));
            if (ours.Count != Assets || naive.Count != Assets || grouped.Count != Assets)
            {
                throw new InvalidOperationException($"found {ours.Count}, {naive.Count}, {grouped.Count} of {Assets} prices");
            }

            var ratio = naive.Time / ours.Time;
            Console.WriteLine($"{name}: as-of {ours.Time.TotalMilliseconds:N2} ms, max(date) per asset {naive.Time.TotalMilliseconds:N2} ms, GROUP BY {grouped.Time.TotalMilliseconds:N2} ms");
            report.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {ours.Time.TotalMilliseconds:N2} | {naive.Time.TotalMilliseconds:N2} | {ratio:N1} | >= 10 | {(ratio >= 10 ? "yes" : "**no**")} | {grouped.Time.TotalMilliseconds:N2} |"));
        }

        report.AppendLine();
        Console.Write(report);
        await File.AppendAllTextAsync(resultsFile, report.ToString());
        return 0;
    }

    private static async Task<int> CountAsync(BenchmarkDatabase db, string[] symbols, DateTimeOffset at, string sql)
    {
        await using var command = db.DataSource.CreateCommand(sql);
        command.CommandTimeout = 0;
        command.Parameters.Add(new() { Value = symbols, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = at.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        await using var reader = await command.ExecuteReaderAsync();
        var count = 0;
        while (await reader.ReadAsync())
        {
            _ = (reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetDecimal(5));
            count++;
        }

        return count;
    }

    private static async Task<(TimeSpan Time, int Count)> MedianAsync(Func<Task<int>> call)
    {
        var times = new List<TimeSpan>();
        var count = 0;
        for (var i = 0; i < 17; i++)
        {
            var watch = Stopwatch.StartNew();
            count = await call();
            if (i >= 2)
            {
                times.Add(watch.Elapsed);
            }
        }

        return (times.Order().ElementAt(times.Count / 2), count);
    }
}
