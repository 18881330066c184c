using System.Diagnostics;
using System.Globalization;
using System.Text;
using FinanceHub.Data.Conversion;
using Microsoft.Extensions.Logging.Abstractions;
using NpgsqlTypes;

namespace FinanceHub.Data.Benchmarks;

/// <summary>
/// The batched online conversion of the old application's price table (surrogate id, foreign key, Django's indexes)
/// against one INSERT ... SELECT of the same rows into a hypertable of the same shape (same keys, indexes and foreign
/// key), and the longest time a concurrent writer waited during the conversion and the swap. The baseline runs before
/// and after the conversion and the faster of the two counts, so a warmer cache cannot favour the conversion.
/// </summary>
internal static class ConvertBenchmark
{
    private const string Target = """
        CREATE TABLE baseline_copy (LIKE asset_prices_historic INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
        ALTER TABLE baseline_copy ADD PRIMARY KEY (asset_id, date), ADD UNIQUE (id, date),
          ADD FOREIGN KEY (asset_id) REFERENCES assets (id) DEFERRABLE INITIALLY DEFERRED;
        CREATE INDEX ON baseline_copy (asset_id);
        CREATE INDEX ON baseline_copy (asset_id, date);
        SELECT create_hypertable('baseline_copy', by_range('date', INTERVAL '7 days'), create_default_indexes => false);
        """;

    public static async Task<int> RunAsync(int rows, string resultsFile)
    {
        await using var db = await BenchmarkDatabase.CreateAsync(migrate: false);
        Console.WriteLine($"database {db.Name} (the old application's plain tables), {rows:N0} price rows");
        await db.ExecuteAsync(
            $"""
            CREATE EXTENSION IF NOT EXISTS timescaledb;
            CREATE TABLE assets (id bigserial PRIMARY KEY, symbol varchar(32) NOT NULL UNIQUE, asset_type varchar(16) NOT NULL);
            INSERT INTO assets (symbol, asset_type) SELECT 'A' || i, 'Crypto' FROM generate_series(1, 10) i;
            CREATE TABLE asset_prices_historic (
              id bigserial PRIMARY KEY, asset_id bigint NOT NULL REFERENCES assets (id) DEFERRABLE INITIALLY DEFERRED, date timestamptz NOT NULL,
              open numeric(20,8) NOT NULL, high numeric(20,8) NOT NULL, low numeric(20,8) NOT NULL, close numeric(20,8) NOT NULL, volume numeric(28,8) NOT NULL);
            CREATE INDEX asset_prices_historic_asset_id ON asset_prices_historic (asset_id);
            CREATE INDEX asset_prices_historic_asset_id_date ON asset_prices_historic (asset_id, date);
            INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume)
            SELECT a, date_trunc('day', now()) - interval '1 day' - make_interval(mins => {rows / 10} - n), 10, 11, 9, 10.5, (n::bigint * 7919 % 100000) / 1000.0
            FROM generate_series(1, {rows / 10}) n CROSS JOIN generate_series(1, 10) a ORDER BY n, a;
            """);
        await db.ExecuteAsync("VACUUM ANALYZE");

        var before = await BaselineAsync(db, rows);
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
        var options = new ConversionOptions();
        var batches = new List<(long Rows, TimeSpan Duration)>();
        var stopwatch = Stopwatch.StartNew();
        var status = await converter.ConvertAsync("asset_prices_historic", options with { Progress = new Inline<ConversionProgress>(p => batches.Add((p.BatchRows, p.BatchDuration))) });
        var converted = stopwatch.Elapsed;
        stopwatch.Restart();
        await converter.SwapAsync("asset_prices_historic"); // validates every range first
        var swap = stopwatch.Elapsed;
        await Task.Delay(500);
        await stop.CancelAsync();
        var (longestWait, inserts) = await writer;
        Console.WriteLine($"batched conversion:     {status.RowsCopied / converted.TotalSeconds,10:N0} rows/s ({converted.TotalSeconds:N1} s, {batches.Count} batches of " +
                          $"{batches.Average(b => b.Rows):N0} rows on average, longest {batches.Max(b => b.Duration).TotalMilliseconds:N0} ms); validate + swap {swap.TotalSeconds:N1} s; " +
                          $"writer: {inserts} inserts, longest wait {longestWait.TotalMilliseconds:N0} ms");

        // The same rows again, from the old table the swap kept.
        var after = await BaselineAsync(db, rows, source: "asset_prices_historic_pre_hypertable");
        var single = before < after ? before : after;
        // The copy is the batches back to back; the run also counts rows, checks the data and builds the hypertable.
        var copy = TimeSpan.FromTicks(batches.Sum(b => b.Duration.Ticks));
        var ratio = single / copy;
        var edition = await db.DataSource.CreateCommand("SELECT CASE current_setting('timescaledb.license', true) WHEN 'timescale' THEN 'community' ELSE 'Apache' END || ' ' || extversion FROM pg_extension WHERE extname = 'timescaledb'").ExecuteScalarAsync();
        var report = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"## Online conversion, {rows:N0} rows ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores; TimescaleDB {edition}; the old application's price table (id bigserial primary key, foreign key, " +
                $"two indexes), {rows:N0} rows; adaptive batches ({options.BatchSize}); a writer inserting every 10 ms.")
            .AppendLine()
            .AppendLine("| measure | value | baseline (same run) | ratio | target | met |")
            .AppendLine("| --- | --- | --- | --- | --- | --- |")
            .AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| batched copy (rows/s; same keys, indexes, foreign key) | {status.RowsCopied / copy.TotalSeconds:N0} | one INSERT ... SELECT (faster of before/after): {rows / single.TotalSeconds:N0} | {ratio:N2} | >= 0.8 | {(ratio >= 0.8 ? "yes" : "**no**")} |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| whole run: checks (row count, key values), hypertable, copy (rows/s) | {status.RowsCopied / converted.TotalSeconds:N0} | | {single / converted:N2} | | |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| batches: count, mean rows, longest (ms) | {batches.Count} / {batches.Average(b => b.Rows):N0} / {batches.Max(b => b.Duration).TotalMilliseconds:N0} | | | | |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| validation of every range + swap (s) | {swap.TotalSeconds:N1} | | | | |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| longest writer wait during conversion and swap (ms) | {longestWait.TotalMilliseconds:N0} | | | < 1000 | {(longestWait < TimeSpan.FromSeconds(1) ? "yes" : "**no**")} |"))
            .AppendLine();
        Console.Write(report);
        await File.AppendAllTextAsync(resultsFile, report.ToString());
        return 0;
    }

    private static async Task<TimeSpan> BaselineAsync(BenchmarkDatabase db, int rows, string source = "asset_prices_historic")
    {
        await db.ExecuteAsync(Target);
        var stopwatch = Stopwatch.StartNew();
        await db.ExecuteAsync($"INSERT INTO baseline_copy SELECT id, asset_id, date, open, high, low, close, volume FROM {source}");
        var elapsed = stopwatch.Elapsed;
        await db.ExecuteAsync("DROP TABLE baseline_copy");
        Console.WriteLine($"one INSERT ... SELECT:  {rows / elapsed.TotalSeconds,10:N0} rows/s ({elapsed.TotalSeconds:N1} s)");
        return elapsed;
    }

    private sealed class Inline<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
