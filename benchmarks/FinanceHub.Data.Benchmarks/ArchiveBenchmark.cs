using System.Diagnostics;
using System.Globalization;
using System.Text;
using FinanceHub.Data.Archiving;
using FinanceHub.Data.Ingest;
using Microsoft.Extensions.Logging.Abstractions;

namespace FinanceHub.Data.Benchmarks;

/// <summary>
/// Issue 5's benchmark: archive export against psql \copy ... | gzip -1 of the same rows, and restore against binary
/// COPY ingest of the same rows, with the managed heap sampled throughout.
/// </summary>
internal static class ArchiveBenchmark
{
    public static async Task<int> RunAsync(int rows, string resultsFile)
    {
        await using var db = await BenchmarkDatabase.CreateAsync();
        Console.WriteLine($"database {db.Name}, edition {await db.Manager.GetEditionAsync()}, {rows:N0} rows");
        await db.ExecuteAsync("INSERT INTO assets (symbol, asset_type, quote_currency, is_active) SELECT 'A' || lpad(i::text, 3, '0'), 'Crypto', 'USD', true FROM generate_series(1, 10) i");
        var start = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero).AddDays(-400);
        // Both sides as the product runs them by default: a load, like a restore, refreshes the aggregates over what it wrote.
        var ingestWatch = Stopwatch.StartNew();
        await db.Ingestor.IngestPricesAsync(Generate(rows, start));
        var ingestTime = ingestWatch.Elapsed;
        Console.WriteLine($"binary COPY ingest:   {rows / ingestTime.TotalSeconds,12:N0} rows/s ({ingestTime.TotalSeconds:N1} s, with the aggregate refresh)");

        var folder = Path.Combine(Path.GetTempPath(), db.Name);
        Directory.CreateDirectory(folder);
        var psql = await db.PsqlAsync($"psql -v ON_ERROR_STOP=1 -qc \"\\copy (SELECT * FROM asset_prices_historic) TO STDOUT WITH (FORMAT csv)\" | gzip -1 > '{folder}/psql.csv.gz'");
        var psqlSize = new FileInfo($"{folder}/psql.csv.gz").Length;
        Console.WriteLine($"psql \\copy | gzip -1: {rows / psql.TotalSeconds,12:N0} rows/s ({psql.TotalSeconds:N1} s, {new FileInfo($"{folder}/psql.csv.gz").Length / 1048576} MiB)");

        var archiver = new DataArchiver(db.DataSource, db.Manager, Microsoft.Extensions.Options.Options.Create(new ArchiveOptions { BasePath = folder }),
            TimeProvider.System, NullLogger<DataArchiver>.Instance);
        using var sampler = new HeapSampler();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var stopwatch = Stopwatch.StartNew();
        var archive = await archiver.ArchiveTableAsync(new ArchiveRequest("asset_prices_historic", start, start.AddYears(2)));
        var export = stopwatch.Elapsed;
        var exportPeak = sampler.TakePeak();
        Console.WriteLine($"export client CPU {(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds:N2} s");
        Console.WriteLine($"archive export:       {rows / export.TotalSeconds,12:N0} rows/s ({export.TotalSeconds:N1} s, {archive.Manifest.FileSize / 1048576} MiB); heap peak {exportPeak / 1048576} MiB");

        await db.ExecuteAsync("TRUNCATE asset_prices_historic");
        stopwatch.Restart();
        var restored = await archiver.RestoreFromArchiveAsync(archive.LocalPath!);
        var restore = stopwatch.Elapsed;
        var restorePeak = sampler.TakePeak();
        Console.WriteLine($"archive restore:      {restored.RowsRestored / restore.TotalSeconds,12:N0} rows/s ({restore.TotalSeconds:N1} s); heap peak {restorePeak / 1048576} MiB");
        Directory.Delete(folder, recursive: true);

        var exportRatio = psql / export;
        var restoreRatio = ingestTime / restore;
        var sizeRatio = (double)archive.Manifest.FileSize / psqlSize;
        var report = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"## Archive export and restore ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores; TimescaleDB ({await db.Manager.GetEditionAsync()} edition); {rows:N0} price rows.")
            .AppendLine()
            .AppendLine("| measure | value (rows/s) | baseline (same run, rows/s) | ratio | target | met |")
            .AppendLine("| --- | --- | --- | --- | --- | --- |")
            .AppendLine(string.Create(CultureInfo.InvariantCulture, $"| export to gzip CSV (with checksums and manifest) | {rows / export.TotalSeconds:N0} | psql \\copy \\| gzip -1: {rows / psql.TotalSeconds:N0} | {exportRatio:N2} | >= 0.9 | {(exportRatio >= 0.9 ? "yes" : "**no**")} |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture, $"| archive file size (MiB) | {archive.Manifest.FileSize / 1048576.0:N1} | psql \\copy \\| gzip -1: {psqlSize / 1048576.0:N1} | {sizeRatio:N2} | <= 1.1 | {(sizeRatio <= 1.1 ? "yes" : "**no**")} |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture, $"| restore (verify, staging, insert; both with the aggregate refresh) | {restored.RowsRestored / restore.TotalSeconds:N0} | binary COPY ingest (1 stream, one transaction, as a restore): {rows / ingestTime.TotalSeconds:N0} | {restoreRatio:N2} | >= 0.9 | {(restoreRatio >= 0.9 ? "yes" : "**no**")} |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture, $"| managed heap peak, export / restore (MiB) | {exportPeak / 1048576} / {restorePeak / 1048576} | | | < 200 | {(Math.Max(exportPeak, restorePeak) < 200L * 1048576 ? "yes" : "**no**")} |"))
            .AppendLine();
        Console.Write(report);
        await File.AppendAllTextAsync(resultsFile, report.ToString());
        return 0;
    }

    private static IEnumerable<PriceRow> Generate(int rows, DateTimeOffset start)
    {
        var random = new Random(7);
        for (var n = 0; n < rows; n++)
        {
            var open = 100m + (n % 997);
            var close = open + Math.Round((decimal)random.NextDouble(), 8);
            yield return new PriceRow($"A{(n % 10) + 1:000}", start.AddMinutes(n / 10), open, close + 1, open - 1, close, Math.Round((decimal)random.NextDouble() * 1000, 8),
                TradeCount: random.Next(1, 500));
        }
    }

    /// <summary>Samples the managed heap every 50 ms.</summary>
    private sealed class HeapSampler : IDisposable
    {
        private readonly Timer _timer;
        private long _peak;

        public HeapSampler() => _timer = new Timer(_ => Interlocked.Exchange(ref _peak, Math.Max(Interlocked.Read(ref _peak), GC.GetTotalMemory(false))), null, 0, 50);

        public long TakePeak()
        {
            var peak = Interlocked.Exchange(ref _peak, 0);
            return Math.Max(peak, GC.GetTotalMemory(false));
        }

        public void Dispose() => _timer.Dispose();
    }
}
