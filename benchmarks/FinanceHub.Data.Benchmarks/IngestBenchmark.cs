using System.Diagnostics;
using System.Globalization;
using System.Text;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Infrastructure;
using FinanceHub.Data.Ingest;
using FinanceHub.Data.Querying;
using Npgsql;

namespace FinanceHub.Data.Benchmarks;

/// <summary>
/// Binary COPY ingest (one stream, and one per core) against psql \copy of the same rows as CSV and against EF AddRange +
/// SaveChanges; OHLCV latency from the aggregates against raw rows, cold (a new connection) and warm; managed memory of
/// the load at 1M and N rows. Every figure is measured in the same run; only ratios are compared with the targets
/// (issue 14's).
/// </summary>
internal static class IngestBenchmark
{
    // Minute bars of 10 assets: 5,000,000 rows cover about 347 days.
    private const int Assets = 10;
    private static readonly TimeSpan Step = TimeSpan.FromMinutes(1);
    private const int Rounds = 3;

    public static async Task<int> RunAsync(int rows, string resultsFile)
    {
        await using var db = await BenchmarkDatabase.CreateAsync();
        Console.WriteLine($"database {db.Name}, edition {await db.Manager.GetEditionAsync()}, {rows:N0} rows, {Assets} assets, one row per asset every {Step.TotalMinutes} min");
        await db.ExecuteAsync($"INSERT INTO assets (symbol, asset_type, quote_currency, is_active) SELECT 'A' || lpad(i::text, 3, '0'), 'Crypto', 'USD', true FROM generate_series(1, {Assets}) i");
        var start = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero) - Step * (rows / Assets);

        // psql \copy of the same rows as CSV (the file is written first and not timed); likewise the rows our loads read
        // are made first, in memory: both sides load rows that are ready (the memory benchmark streams them). Three rounds
        // of psql, one stream (one transaction) and one stream per core (committed together), each into an empty table;
        // the median of each. These shared machines vary by a third from minute to minute.
        var prepared = Generate(rows, start).ToArray();
        var csv = Path.Combine(Path.GetTempPath(), $"{db.Name}.csv");
        await WriteCsvAsync(csv, prepared);
        var streams = Environment.GetEnvironmentVariable("FINANCEHUB_BENCH_STREAMS") is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        var (psqlRates, singleRates, parallelRates) = (new List<double>(), new List<double>(), new List<double>());
        for (var round = 1; round <= Rounds; round++)
        {
            var psqlTime = await db.PsqlAsync(
                $"psql -v ON_ERROR_STOP=1 -qc \"\\copy asset_prices_historic (asset_id, date, open, high, low, close, adjusted_close, volume, trade_count, source) FROM '{csv}' WITH (FORMAT csv)\"");
            psqlRates.Add(rows / psqlTime.TotalSeconds);
            await db.ExecuteAsync("TRUNCATE asset_prices_historic");
            singleRates.Add((await LoadAsync(db, prepared, 1)).RowsPerSecond);
            await db.ExecuteAsync("TRUNCATE asset_prices_historic");
            parallelRates.Add((await LoadAsync(db, prepared, streams)).RowsPerSecond);
            Console.WriteLine($"round {round}: psql \\copy CSV {psqlRates[^1]:N0} rows/s, binary COPY 1 stream {singleRates[^1]:N0}, {streams} streams {parallelRates[^1]:N0}");
            if (round < Rounds)
            {
                await db.ExecuteAsync("TRUNCATE asset_prices_historic");
            }
        }

        File.Delete(csv);
        prepared = null;
        var (psqlRate, singleRate, copyRate) = (Median(psqlRates), Median(singleRates), Median(parallelRates));

        // EF Core AddRange + SaveChanges, batches of 1,000 in fresh contexts (its best case), after the loaded range; three
        // rounds on successive days, removed afterwards.
        const int efRows = 20_000;
        var efStart = start + (Step * (rows / Assets)) + TimeSpan.FromDays(1);
        var efRates = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            var efStopwatch = Stopwatch.StartNew();
            foreach (var batch in Generate(efRows, efStart.AddDays(2 * round)).Chunk(1000))
            {
                await using var context = db.CreateContext();
                context.AssetPrices.AddRange(batch.Select(r => new AssetPrice
                {
                    AssetId = int.Parse(r.Symbol[1..], CultureInfo.InvariantCulture), Date = r.Date, Open = r.Open, High = r.High, Low = r.Low,
                    Close = r.Close, Volume = r.Volume, TradeCount = r.TradeCount,
                }));
                await context.SaveChangesAsync();
            }

            efRates.Add(efRows / efStopwatch.Elapsed.TotalSeconds);
        }

        await db.ExecuteAsync($"DELETE FROM asset_prices_historic WHERE date >= '{efStart.UtcDateTime:yyyy-MM-dd HH:mm:ss}+00'");
        var efRate = Median(efRates);
        Console.WriteLine($"EF AddRange+SaveChanges: {efRate,10:N0} rows/s ({efRows:N0} rows, median of {Rounds})");

        // 4. OHLCV latency, aggregate path against raw rows, after materializing the aggregates.
        var refresh = Stopwatch.StartNew();
        await db.Manager.RefreshContinuousAggregateAsync(Aggregates.Hourly);
        await db.Manager.RefreshContinuousAggregateAsync(Aggregates.Daily);
        Console.WriteLine($"aggregate refresh:     {refresh.Elapsed.TotalSeconds:N1} s");
        var repository = new TimeSeriesRepository(db.DataSource, db.Manager);
        // History: ranges that end where the aggregates are materialized (the day before the newest row's), served from
        // them alone. Up to now: the same ranges ending after the newest row, whose last buckets come from raw rows.
        var end = efStart;
        var materialized = end.AddDays(-2);
        await db.ExecuteAsync("VACUUM ANALYZE");
        var yearDaily = await LatencyAsync(db, BucketWidth.OneDay, materialized.AddDays(-365), materialized);
        var monthHourly = await LatencyAsync(db, BucketWidth.OneHour, materialized.AddDays(-30), materialized);
        var yearDailyNow = await LatencyAsync(db, BucketWidth.OneDay, end.AddDays(-365), end);
        var monthHourlyNow = await LatencyAsync(db, BucketWidth.OneHour, end.AddDays(-30), end);
        var hourlyFloor = await ShippingFloorAsync(db, materialized.AddDays(-30), materialized);
        foreach (var (name, l) in new[]
                 {
                     ("1 year of daily candles", yearDaily), ("1 month of hourly candles", monthHourly),
                     ("1 year of daily candles up to now", yearDailyNow), ("1 month of hourly candles up to now", monthHourlyNow),
                 })
        {
            Console.WriteLine($"{name}: warm: aggregate {l.Aggregate.TotalMilliseconds:N2} ms, raw {l.Raw.TotalMilliseconds:N2} ms; " +
                              $"cold: aggregate {l.ColdAggregate.TotalMilliseconds:N2} ms, raw {l.ColdRaw.TotalMilliseconds:N2} ms");
        }

        var report = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"## Ingest and OHLCV ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, {Mb(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes)} MiB, {Cpu()}; " +
                $"TimescaleDB {await ExtensionVersionAsync(db)} ({await db.Manager.GetEditionAsync()} edition); {rows:N0} rows, {Assets} assets; ingest figures are medians of {Rounds} rounds, rows made in memory before timing (psql reads a CSV file written before timing).")
            .AppendLine()
            .AppendLine("| measure | value | baseline (same run) | ratio | target | met |")
            .AppendLine("| --- | --- | --- | --- | --- | --- |")
            .AppendLine(Row($"binary COPY ingest, {streams} streams (rows/s)", copyRate, "psql \\copy CSV", psqlRate, copyRate / psqlRate, ">= 1.5", copyRate >= 1.5 * psqlRate))
            .AppendLine(Row($"binary COPY ingest, {streams} streams (rows/s)", copyRate, "EF AddRange+SaveChanges", efRate, copyRate / efRate, ">= 30", copyRate >= 30 * efRate))
            .AppendLine(Row("binary COPY ingest, 1 stream (rows/s)", singleRate, "psql \\copy CSV", psqlRate, singleRate / psqlRate, "", null))
            .AppendLine(Row("1 month of hourly candles, warm (ms)", monthHourly.Aggregate.TotalMilliseconds, "raw rows", monthHourly.Raw.TotalMilliseconds,
                monthHourly.Raw / monthHourly.Aggregate, ">= 50 faster", monthHourly.Raw >= 50 * monthHourly.Aggregate))
            .AppendLine(Row("1 month of hourly candles: raw rows (ms)", monthHourly.Raw.TotalMilliseconds, "the same number of candle rows from generate_series, no table (round trip and row shipping)",
                hourlyFloor.TotalMilliseconds, monthHourly.Raw / hourlyFloor, "(raw against shipping alone: a reference)", null))
            .AppendLine(Row("1 year of daily candles, warm (ms)", yearDaily.Aggregate.TotalMilliseconds, "raw rows", yearDaily.Raw.TotalMilliseconds,
                yearDaily.Raw / yearDaily.Aggregate, ">= 100 faster", yearDaily.Raw >= 100 * yearDaily.Aggregate))
            .AppendLine(Row("1 month of hourly candles up to now, warm (ms)", monthHourlyNow.Aggregate.TotalMilliseconds, "raw rows", monthHourlyNow.Raw.TotalMilliseconds,
                monthHourlyNow.Raw / monthHourlyNow.Aggregate, "", null))
            .AppendLine(Row("1 year of daily candles up to now, warm (ms)", yearDailyNow.Aggregate.TotalMilliseconds, "raw rows", yearDailyNow.Raw.TotalMilliseconds,
                yearDailyNow.Raw / yearDailyNow.Aggregate, "", null))
            .AppendLine(Row("1 month of hourly candles, cold: new connection (ms)", monthHourly.ColdAggregate.TotalMilliseconds, "raw rows, cold",
                monthHourly.ColdRaw.TotalMilliseconds, monthHourly.ColdRaw / monthHourly.ColdAggregate, "", null))
            .AppendLine(Row("1 year of daily candles, cold: new connection (ms)", yearDaily.ColdAggregate.TotalMilliseconds, "raw rows, cold",
                yearDaily.ColdRaw.TotalMilliseconds, yearDaily.ColdRaw / yearDaily.ColdAggregate, "", null))
            .AppendLine();
        Console.Write(report);
        await File.AppendAllTextAsync(resultsFile, report.ToString());
        Console.WriteLine($"appended to {resultsFile}");
        return 0;
    }

    private static Task<IngestResult> LoadAsync(BenchmarkDatabase db, IEnumerable<PriceRow> rows, int streams)
        => db.Ingestor.IngestPricesAsync(rows, new IngestOptions { RefreshAggregates = false, Parallelism = streams });

    /// <summary>
    /// What shipping a month of hourly candles costs without any table: as many rows of a candle's 7 columns (720), made by
    /// generate_series (no table, no index), prepared, and read the way the repository reads them; the median of
    /// <see cref="FastCalls"/> calls after <see cref="FastWarmUp"/>, as the aggregate reads are timed.
    /// </summary>
    private static async Task<TimeSpan> ShippingFloorAsync(BenchmarkDatabase db, DateTimeOffset from, DateTimeOffset to)
    {
        var times = new List<TimeSpan>();
        for (var i = 0; i < FastWarmUp + FastCalls; i++)
        {
            var stopwatch = Stopwatch.StartNew();
            await using var connection = await db.DataSource.OpenConnectionAsync();
            await using var command = new NpgsqlCommand(
                """
                SELECT t, 100.12345678::numeric(20,8), 101.12345678::numeric(20,8), 99.12345678::numeric(20,8), 100.5::numeric(20,8),
                       123456.12345678::numeric(28,8), 1234::bigint
                FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 hour', interval '1 hour') t
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = from.UtcDateTime, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            command.Parameters.Add(new NpgsqlParameter { Value = to.UtcDateTime, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            await command.PrepareAsync(); // as the repository's aggregate statement is
            var candles = new List<Candle>();
            await using (var reader = await command.ExecuteReaderAsync())
            {
                var numerics = new NumericReader();
                while (await reader.ReadAsync())
                {
                    candles.Add(new Candle(reader.GetFieldValue<DateTimeOffset>(0), numerics.Read(reader, 1), numerics.Read(reader, 2), numerics.Read(reader, 3),
                        numerics.Read(reader, 4), numerics.Read(reader, 5), reader.GetInt64(6)));
                }
            }

            stopwatch.Stop();
            if (i >= FastWarmUp)
            {
                times.Add(stopwatch.Elapsed);
            }
        }

        return times.Order().ElementAt(times.Count / 2);
    }

    // A read of 1-2 ms moves by a third from call to call on these machines: its median is taken over many calls. Raw
    // reads (50-250 ms) vary far less against their length, and 15 of them already take seconds.
    private const int FastWarmUp = 10;
    private const int FastCalls = 101;
    private const int RawWarmUp = 2;
    private const int RawCalls = 15;

    /// <summary>
    /// Warm: the median of <see cref="FastCalls"/> aggregate reads after <see cref="FastWarmUp"/>, and of
    /// <see cref="RawCalls"/> raw reads after <see cref="RawWarmUp"/>, interleaved. Cold: the first call on a new
    /// connection (fresh pool) and repository.
    /// </summary>
    private static async Task<(TimeSpan Aggregate, TimeSpan Raw, TimeSpan ColdAggregate, TimeSpan ColdRaw)> LatencyAsync(
        BenchmarkDatabase db, BucketWidth width, DateTimeOffset from, DateTimeOffset to)
    {
        async Task<TimeSpan> TimeAsync(TimeSeriesRepository repository, CandleSource source)
        {
            var stopwatch = Stopwatch.StartNew();
            var result = await repository.GetOhlcvAsync("A007", width, from, to, new OhlcvOptions { Source = source });
            stopwatch.Stop();
            return result.Candles.Count > 0 ? stopwatch.Elapsed : throw new InvalidOperationException("no candles: the benchmark data is not where it should be");
        }

        async Task<TimeSpan> ColdAsync(CandleSource source)
        {
            await using var fresh = NpgsqlDataSource.Create(db.ConnectionString);
            return await TimeAsync(new TimeSeriesRepository(fresh, db.Manager), source);
        }

        async Task<(TimeSpan Aggregate, TimeSpan Raw)> WarmAsync()
        {
            var repository = new TimeSeriesRepository(db.DataSource, db.Manager);
            for (var i = 0; i < FastWarmUp; i++)
            {
                await TimeAsync(repository, CandleSource.Auto);
            }

            for (var i = 0; i < RawWarmUp; i++)
            {
                await TimeAsync(repository, CandleSource.Raw);
            }

            // Interleaved, a raw read after every few aggregate reads: both are timed through the same moments of a
            // machine whose speed drifts (timed one after the other, a slow spell could fall on one of them alone).
            var (aggregate, raw) = (new List<TimeSpan>(), new List<TimeSpan>());
            for (var i = 0; i < FastCalls; i++)
            {
                aggregate.Add(await TimeAsync(repository, CandleSource.Auto));
                if (raw.Count < RawCalls && i % (FastCalls / RawCalls) == 0)
                {
                    raw.Add(await TimeAsync(repository, CandleSource.Raw));
                }
            }

            return (aggregate.Order().ElementAt(aggregate.Count / 2), raw.Order().ElementAt(raw.Count / 2));
        }

        var (warmAggregate, warmRaw) = await WarmAsync();
        return (warmAggregate, warmRaw, await ColdAsync(CandleSource.Auto), await ColdAsync(CandleSource.Raw));
    }

    private static readonly string[] Symbols = [.. Enumerable.Range(1, Assets).Select(i => $"A{i:000}")];

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
            yield return new PriceRow(Symbols[asset], start + (Step * (n / Assets)), open, high, low, close,
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

    private static string Row(string measure, double value, string baseline, double baseValue, double ratio, string target, bool? met)
        => baseline.Length == 0
            ? string.Create(CultureInfo.InvariantCulture, $"| {measure} | {value:N2} | | | {target} | {Met(met)} |")
            : string.Create(CultureInfo.InvariantCulture, $"| {measure} | {value:N2} | {baseline}: {baseValue:N2} | {ratio:N2} | {target} | {Met(met)} |");

    private static string Met(bool? met) => met switch { true => "yes", false => "**no**", null => "" };

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static long Mb(long bytes) => bytes / (1024 * 1024);

    private static string Cpu()
        => File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU"
            : "unknown CPU";

}
