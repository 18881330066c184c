using System.Diagnostics;
using System.Globalization;
using System.Text;
using FinanceHub.Data.Archiving;
using FinanceHub.Data.Ingest;
using Microsoft.Extensions.Logging.Abstractions;

namespace FinanceHub.Data.Benchmarks;

/// <summary>
/// Memory stays flat: the managed heap's peak while ingesting (one stream per core, rows streamed from a generator),
/// exporting and restoring <c>--rows</c> rows, meant to be run at ten times the other benchmarks' rows. Target: under
/// 200 MiB each, whatever the row count.
/// </summary>
internal static class MemoryBenchmark
{
    private const long TargetBytes = 200L * 1024 * 1024;

    public static async Task<int> RunAsync(int rows, string resultsFile)
    {
        await using var db = await BenchmarkDatabase.CreateAsync();
        Console.WriteLine($"database {db.Name}, edition {await db.Manager.GetEditionAsync()}, {rows:N0} rows");
        await db.ExecuteAsync("INSERT INTO assets (symbol, asset_type, quote_currency, is_active) SELECT 'A' || lpad(i::text, 3, '0'), 'Crypto', 'USD', true FROM generate_series(1, 10) i");
        var start = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero).AddMinutes(-rows / 10 - 1440);
        var folder = Path.Combine(Path.GetTempPath(), db.Name);
        Directory.CreateDirectory(folder);
        using var sampler = new HeapSampler();
        var progress = new Progress<long>(n => Console.Write($"\r{n:N0} rows"));

        GC.Collect();
        sampler.TakePeak();
        var watch = Stopwatch.StartNew();
        await db.Ingestor.IngestPricesAsync(ArchiveBenchmark.Generate(rows, start),
            new IngestOptions { Parallelism = Environment.ProcessorCount, RefreshAggregates = false, Progress = progress, ProgressInterval = 1_000_000 });
        var ingest = (Peak: sampler.TakePeak(), Time: watch.Elapsed);
        Console.WriteLine($"\ringest:  {ingest.Time.TotalSeconds,6:N1} s, heap peak {Mb(ingest.Peak)} MiB");

        var archiver = new DataArchiver(db.DataSource, db.Manager, Microsoft.Extensions.Options.Options.Create(new ArchiveOptions { BasePath = folder }),
            TimeProvider.System, NullLogger<DataArchiver>.Instance);
        GC.Collect();
        sampler.TakePeak();
        watch.Restart();
        var archive = await archiver.ArchiveTableAsync(new ArchiveRequest("asset_prices_historic", start.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1)));
        var export = (Peak: sampler.TakePeak(), Time: watch.Elapsed);
        Console.WriteLine($"export:  {export.Time.TotalSeconds,6:N1} s, heap peak {Mb(export.Peak)} MiB ({archive.Manifest.FileSize / 1048576} MiB file)");

        await db.ExecuteAsync("TRUNCATE asset_prices_historic");
        GC.Collect();
        sampler.TakePeak();
        watch.Restart();
        var restored = await archiver.RestoreFromArchiveAsync(archive.LocalPath!);
        var restore = (Peak: sampler.TakePeak(), Time: watch.Elapsed);
        Console.WriteLine($"restore: {restore.Time.TotalSeconds,6:N1} s, heap peak {Mb(restore.Peak)} MiB ({restored.RowsRestored:N0} rows)");
        Directory.Delete(folder, recursive: true);

        var report = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"## Memory at {rows:N0} rows ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores; TimescaleDB {await db.Manager.GetEditionAsync()} edition; " +
                $"{rows:N0} price rows streamed from a generator (never all in memory), the managed heap sampled every 50 ms.")
            .AppendLine()
            .AppendLine("| path | time (s) | managed heap peak (MiB) | target | met |")
            .AppendLine("| --- | --- | --- | --- | --- |")
            .AppendLine(Line($"ingest, {Environment.ProcessorCount} streams", ingest))
            .AppendLine(Line("archive export", export))
            .AppendLine(Line("restore", restore))
            .AppendLine();
        Console.Write(report);
        await File.AppendAllTextAsync(resultsFile, report.ToString());
        return 0;
    }

    private static string Line(string path, (long Peak, TimeSpan Time) measured)
        => string.Create(CultureInfo.InvariantCulture,
            $"| {path} | {measured.Time.TotalSeconds:N1} | {Mb(measured.Peak)} | < 200 | {(measured.Peak < TargetBytes ? "yes" : "**no**")} |");

    private static long Mb(long bytes) => bytes / (1024 * 1024);
}
