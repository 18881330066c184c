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
        var folder = Path.Combine(Path.GetTempPath(), db.Name);
        Directory.CreateDirectory(folder);
        var archiveOptions = new ArchiveOptions { BasePath = folder };
        var restoreStreams = archiveOptions.RestoreStreams;
        var archiver = new DataArchiver(db.DataSource, db.Manager, Microsoft.Extensions.Options.Options.Create(archiveOptions),
            TimeProvider.System, NullLogger<DataArchiver>.Instance);
        using var sampler = new HeapSampler();

        // Three rounds (these shared machines vary by a third from minute to minute), the median of each measure. A round:
        // load (as the product runs it by default: one stream, one transaction, and, like a restore, a refresh of the
        // aggregates over what it wrote); the same over as many streams as a restore uses (ArchiveOptions.RestoreStreams);
        // psql \copy | gzip -1; the archive export; the restore into the emptied table.
        var (ingestTimes, psqlTimes, exportTimes, restoreTimes) = (new List<TimeSpan>(), new List<TimeSpan>(), new List<TimeSpan>(), new List<TimeSpan>());
        var parallelIngestTimes = new List<TimeSpan>();
        var (parquetExportTimes, parquetRestoreTimes) = (new List<TimeSpan>(), new List<TimeSpan>());
        long psqlSize = 0, exportPeak = 0, restorePeak = 0, parquetExportPeak = 0, parquetPeak = 0;
        ArchiveInfo? archive = null, parquet = null;
        for (var round = 1; round <= 3; round++)
        {
            await db.ExecuteAsync("TRUNCATE asset_prices_historic; DELETE FROM financehub.archives");
            var watch = Stopwatch.StartNew();
            await db.Ingestor.IngestPricesAsync(Generate(rows, start), new IngestOptions { Parallelism = restoreStreams });
            parallelIngestTimes.Add(watch.Elapsed);

            await db.ExecuteAsync("TRUNCATE asset_prices_historic");
            watch.Restart();
            await db.Ingestor.IngestPricesAsync(Generate(rows, start));
            ingestTimes.Add(watch.Elapsed);

            psqlTimes.Add(await db.PsqlAsync($"psql -v ON_ERROR_STOP=1 -qc \"\\copy (SELECT * FROM asset_prices_historic) TO STDOUT WITH (FORMAT csv)\" | gzip -1 > '{folder}/psql.csv.gz'"));
            psqlSize = new FileInfo($"{folder}/psql.csv.gz").Length;

            if (archive?.LocalPath is { } previous)
            {
                File.Delete(previous);
            }

            GC.Collect();
            sampler.TakePeak();
            watch.Restart();
            archive = await archiver.ArchiveTableAsync(new ArchiveRequest("asset_prices_historic", start, start.AddYears(2)));
            exportTimes.Add(watch.Elapsed);
            exportPeak = Math.Max(exportPeak, sampler.TakePeak());

            await db.ExecuteAsync("TRUNCATE asset_prices_historic");
            GC.Collect();
            sampler.TakePeak();
            watch.Restart();
            var restored = await archiver.RestoreFromArchiveAsync(archive.LocalPath!);
            restoreTimes.Add(watch.Elapsed);
            restorePeak = Math.Max(restorePeak, sampler.TakePeak());
            if (restored.RowsRestored != rows)
            {
                throw new InvalidOperationException($"restored {restored.RowsRestored} of {rows} rows");
            }

            Console.WriteLine($"round {round}: ingest {ingestTimes[^1].TotalSeconds:N1} s ({restoreStreams} streams: {parallelIngestTimes[^1].TotalSeconds:N1} s), psql | gzip -1 {psqlTimes[^1].TotalSeconds:N1} s, " +
                              $"export {exportTimes[^1].TotalSeconds:N1} s, restore {restoreTimes[^1].TotalSeconds:N1} s");
        }

        // The cold tier, in rounds of its own after the gzip CSV ones (so neither's heap figures include the other's):
        // the same rows to Parquet and back (the last restore above left them in the table).
        for (var round = 1; round <= 3; round++)
        {
            if (parquet?.LocalPath is { } previousParquet)
            {
                File.Delete(previousParquet);
            }

            GC.Collect();
            sampler.TakePeak();
            var watch = Stopwatch.StartNew();
            parquet = await archiver.ArchiveTableAsync(new ArchiveRequest("asset_prices_historic", start, start.AddYears(2), ArchiveFormat.Parquet));
            parquetExportTimes.Add(watch.Elapsed);
            parquetExportPeak = Math.Max(parquetExportPeak, sampler.TakePeak());
            await db.ExecuteAsync("TRUNCATE asset_prices_historic");
            GC.Collect();
            sampler.TakePeak();
            watch.Restart();
            var fromParquet = await archiver.RestoreFromArchiveAsync(parquet.LocalPath!);
            parquetRestoreTimes.Add(watch.Elapsed);
            parquetPeak = Math.Max(parquetPeak, sampler.TakePeak());
            if (fromParquet.RowsRestored != rows)
            {
                throw new InvalidOperationException($"restored {fromParquet.RowsRestored} of {rows} rows from Parquet");
            }

            Console.WriteLine($"Parquet round {round}: export {parquetExportTimes[^1].TotalSeconds:N1} s, restore {parquetRestoreTimes[^1].TotalSeconds:N1} s");
        }

        Directory.Delete(folder, recursive: true);
        var (ingestTime, psql, export, restore) = (Median(ingestTimes), Median(psqlTimes), Median(exportTimes), Median(restoreTimes));
        var exportRatio = psql / export;
        var restoreRatio = ingestTime / restore;
        var parallelIngest = Median(parallelIngestTimes);
        var sizeRatio = (double)archive!.Manifest.FileSize / psqlSize;
        var (parquetExport, parquetRestore) = (Median(parquetExportTimes), Median(parquetRestoreTimes));
        var report = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"## Archive export and restore ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores; TimescaleDB {(await db.Manager.GetHealthAsync()).ExtensionVersion} ({await db.Manager.GetEditionAsync()} edition); {rows:N0} price rows; medians of 3 rounds.")
            .AppendLine()
            .AppendLine("| measure | value (rows/s) | baseline (same run, rows/s) | ratio | target | met |")
            .AppendLine("| --- | --- | --- | --- | --- | --- |")
            .AppendLine(string.Create(CultureInfo.InvariantCulture, $"| export to gzip CSV (with checksums and manifest) | {rows / export.TotalSeconds:N0} | psql \\copy \\| gzip -1: {rows / psql.TotalSeconds:N0} | {exportRatio:N2} | >= 0.9 | {(exportRatio >= 0.9 ? "yes" : "**no**")} |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture, $"| archive file size (MiB) | {archive.Manifest.FileSize / 1048576.0:N1} | psql \\copy \\| gzip -1: {psqlSize / 1048576.0:N1} | {sizeRatio:N2} | <= 1.1 | {(sizeRatio <= 1.1 ? "yes" : "**no**")} |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture, $"| restore ({restoreStreams} COPY streams, verified in the same pass; both with the aggregate refresh) | {rows / restore.TotalSeconds:N0} | binary COPY ingest (default: 1 stream, one transaction): {rows / ingestTime.TotalSeconds:N0} | {restoreRatio:N2} | >= 0.9 | {(restoreRatio >= 0.9 ? "yes" : "**no**")} |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture, $"| restore, against an ingest with as many streams | {rows / restore.TotalSeconds:N0} | binary COPY ingest, {restoreStreams} streams: {rows / parallelIngest.TotalSeconds:N0} | {parallelIngest / restore:N2} | | |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture, $"| managed heap peak, export / restore (MiB) | {exportPeak / 1048576} / {restorePeak / 1048576} | | | < 200 | {(Math.Max(exportPeak, restorePeak) < 200L * 1048576 ? "yes" : "**no**")} |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture, $"| export to Parquet (cold tier; issue 15, no target) | {rows / parquetExport.TotalSeconds:N0} | gzip CSV export: {rows / export.TotalSeconds:N0} | {export / parquetExport:N2} | | |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture, $"| Parquet file size (MiB) | {parquet!.Manifest.FileSize / 1048576.0:N1} | gzip CSV archive: {archive.Manifest.FileSize / 1048576.0:N1} | {(double)parquet.Manifest.FileSize / archive.Manifest.FileSize:N2} | | |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture, $"| restore from Parquet | {rows / parquetRestore.TotalSeconds:N0} | restore from gzip CSV: {rows / restore.TotalSeconds:N0} | {restore / parquetRestore:N2} | | |"))
            .AppendLine(string.Create(CultureInfo.InvariantCulture, $"| managed heap peak, Parquet export / restore (MiB) | {parquetExportPeak / 1048576} / {parquetPeak / 1048576} | | | < 200 | {(Math.Max(parquetExportPeak, parquetPeak) < 200L * 1048576 ? "yes" : "**no**")} |"))
            .AppendLine();
        Console.Write(report);
        await File.AppendAllTextAsync(resultsFile, report.ToString());
        return 0;
    }

    private static TimeSpan Median(List<TimeSpan> values) => values.Order().ElementAt(values.Count / 2);

    internal static IEnumerable<PriceRow> Generate(int rows, DateTimeOffset start)
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
}
