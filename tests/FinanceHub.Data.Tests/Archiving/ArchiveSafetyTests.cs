using FinanceHub.Data.Archiving;
using FinanceHub.Data.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;

namespace FinanceHub.Data.Tests.Archiving;

/// <summary>
/// The archiver where it could lose rows or hang: a disk that fails mid-export, rows written late into ranges already
/// archived and dropped, two automated runs at once. The oracle is the table's ordered content (an md5 computed by plain
/// SQL) together with what PostgreSQL's own CSV reader loads back from the archives.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class ArchiveSafetyTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_disk_that_fails_mid_export_surfaces_within_seconds_and_leaves_no_transaction_open()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "disk_full", withS3: false);
        var asset = await ctx.DataSource.InsertAssetAsync("BTC");
        var end = DateTimeOffset.UtcNow.AddDays(-1);
        // Far more CSV than the export's 4 MiB pipe holds, so a writer that nobody reads would block.
        await ctx.DataSource.InsertPricesAsync(asset, end.AddDays(-150), end, TimeSpan.FromMinutes(1));
        ctx.Archiver.ArchiveFileWrapper = disk => new FailingStream(disk, failAfterBytes: 64 * 1024);

        var reported = 0L;
        var export = ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("asset_prices_historic", end.AddDays(-150), end),
            new SyncProgress(n => reported = Math.Max(reported, n)), Ct);
        var error = await Assert.ThrowsAnyAsync<IOException>(() => export.WaitAsync(TimeSpan.FromSeconds(30), Ct));

        // The writer stopped with the disk, long before the 216,000 rows (a report comes every 100,000).
        Assert.Equal(0L, reported);
        Assert.Contains("No space left on device", error.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await ctx.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'"));
        Assert.Equal(0L, await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM financehub.archives"));
        Assert.Empty(Directory.EnumerateFiles(ctx.Options.BasePath, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Rows_written_late_into_a_dropped_range_are_archived_as_a_further_archive_and_a_range_restore_brings_all_back()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "late_rows", withS3: false);
        await ctx.SeedMetricsAsync(6);
        await ctx.DataSource.ExecuteAsync("CREATE TABLE expected AS SELECT * FROM performance_metrics");

        var first = await ctx.Archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct);
        Assert.All(first, s => Assert.True(s.Dropped, s.Outcome));
        var (start, end) = (first[0].RangeStart, first[0].RangeEnd);
        await ctx.DataSource.ExecuteAsync(
            """
            INSERT INTO performance_metrics (created_at, metric_name, value, unit, service)
            SELECT $1::timestamptz + make_interval(mins => g), 'late', g, 'ms', 'api' FROM generate_series(1, 50) g
            """, start);
        await ctx.DataSource.ExecuteAsync("INSERT INTO expected SELECT * FROM performance_metrics WHERE metric_name = 'late'");

        var second = await ctx.Archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct);

        var step = Assert.Single(second);
        Assert.True(step.Dropped, step.Outcome);
        Assert.Equal((start, end, 50L), (step.RangeStart, step.RangeEnd, step.Rows));
        Assert.Contains("late rows", step.Outcome, StringComparison.Ordinal);
        Assert.Equal(0L, await ctx.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {Table} WHERE created_at < $1", end));
        Assert.Equal(2L, await ctx.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM financehub.archives WHERE table_name = $1 AND range_start = $2 AND status = 'Dropped'", Table, start));

        var restored = await ctx.Archiver.RestoreRangeAsync(Table, DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow, Ct);

        Assert.Equal(first.Count + 1, restored.Count);
        Assert.Equal(await ctx.ContentMd5Async("expected"), await ctx.ContentMd5Async(Table));
        Assert.All(await ctx.Archiver.VerifyArchivesAsync(cancellationToken: Ct), c => Assert.True(c.Ok, $"{c.Local} / {c.Remote}"));
    }

    [Fact]
    public async Task A_second_automated_run_on_the_same_table_is_refused_while_the_first_holds_it()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "two_runs", withS3: true);
        await ctx.SeedMetricsAsync(5);
        var original = await ctx.ContentMd5Async(Table);
        var slow = ctx.CreateArchiver();
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var proceed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        slow.Checkpoint = async (checkpoint, _) =>
        {
            if (checkpoint == ArchiveCheckpoint.AfterExport && reached.TrySetResult())
            {
                await proceed.Task;
            }
        };

        var running = slow.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct);
        await reached.Task.WaitAsync(TimeSpan.FromSeconds(60), Ct);
        var error = await Assert.ThrowsAsync<ArchiveBusyException>(() => ctx.Archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct));
        proceed.SetResult();
        var steps = await running;

        Assert.Contains("Another automated archive of performance_metrics", error.Message, StringComparison.Ordinal);
        Assert.All(steps, s => Assert.True(s.Dropped, s.Outcome));
        Assert.Equal(0L, await ctx.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM (SELECT 1 FROM financehub.archives GROUP BY table_name, range_start, range_end HAVING count(*) > 1) d"));
        // The lock went with the run: a third run starts (and finds nothing left to do).
        Assert.Empty(await ctx.Archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct));
        // Every copy is there, and the table plus its archives is the original, row for row.
        Assert.All(await ctx.Archiver.VerifyArchivesAsync(cancellationToken: Ct), c => Assert.True(c.Ok && c.Local == "ok" && c.Remote == "ok", $"{c.Local} / {c.Remote}"));
        await ctx.Archiver.RestoreRangeAsync(Table, DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow, Ct);
        Assert.Equal(original, await ctx.ContentMd5Async(Table));
    }

    [Fact]
    public async Task Archiving_prices_inside_an_aggregates_refresh_window_is_refused_on_the_community_edition()
    {
        fixture.RequireCommunity();
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "archive_window", withS3: false);
        await ctx.DataSource.InsertPricesAsync(await ctx.DataSource.InsertAssetAsync("BTC"), DateTimeOffset.UtcNow.AddDays(-60), DateTimeOffset.UtcNow, TimeSpan.FromHours(6));
        var rows = await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic");

        // The daily aggregate's policy refreshes the last 30 days: dropping 20-day-old rows would delete their candles.
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ctx.Archiver.RunAutomatedArchiveAsync("asset_prices_historic", 20, cancellationToken: Ct));

        Assert.Contains("asset_prices_daily", error.Message, StringComparison.Ordinal);
        Assert.Equal(rows, await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"));
        Assert.Equal(0L, await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM financehub.archives"));
    }

    [Fact]
    public async Task Migrating_below_the_archive_catalog_is_refused_while_it_records_dropped_rows_unless_forced()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "down_catalog", withS3: false);
        await ctx.SeedMetricsAsync(4);
        Assert.All(await ctx.Archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct), s => Assert.True(s.Dropped, s.Outcome));

        await using (var context = DatabaseFixture.CreateContext(ctx.DataSource))
        {
            var error = await Assert.ThrowsAnyAsync<PostgresException>(() => context.GetService<IMigrator>().MigrateAsync("PriceAggregatesInitialRefresh", Ct));
            Assert.Contains("financehub.archives", error.MessageText, StringComparison.Ordinal);
            Assert.Contains("allow_data_loss", error.Hint, StringComparison.Ordinal);
        }

        Assert.True(await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM financehub.archives WHERE status = 'Dropped'") > 0);
        Assert.Equal(1L, await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM \"__EFMigrationsHistory\" WHERE migration_id LIKE '%_ArchiveCatalog'"));

        await using var forced = NpgsqlDataSource.Create(ctx.ConnectionString + ";Options=-c financehub.allow_data_loss=on");
        await using (var context = DatabaseFixture.CreateContext(forced))
        {
            await context.GetService<IMigrator>().MigrateAsync("PriceAggregatesInitialRefresh", Ct);
        }

        Assert.True(await forced.ScalarAsync<bool>("SELECT to_regclass('financehub.archives') IS NULL"));
    }

    [Fact]
    public async Task Migrating_below_the_price_aggregates_is_refused_while_they_hold_candles_of_dropped_rows()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("down_candles", migrate: true);
        await using var _ = dataSource;
        var asset = await dataSource.InsertAssetAsync("BTC");
        var today = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero);
        await dataSource.InsertPricesAsync(asset, today.AddDays(-60), today, TimeSpan.FromHours(2));
        var manager = TestServices.Manager(dataSource);
        await manager.RefreshContinuousAggregateAsync("asset_prices_daily", cancellationToken: Ct);
        Assert.True(await manager.DropChunksOlderThanAsync("asset_prices_historic", TimeSpan.FromDays(40), Ct) > 0);

        await using (var context = DatabaseFixture.CreateContext(dataSource))
        {
            var error = await Assert.ThrowsAnyAsync<PostgresException>(() => context.GetService<IMigrator>().MigrateAsync("TimescaleLayer", Ct));
            Assert.Contains("daily candle(s) whose price rows are no longer in asset_prices_historic", error.MessageText, StringComparison.Ordinal);
        }

        Assert.Equal(1L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM \"__EFMigrationsHistory\" WHERE migration_id LIKE '%_PriceAggregates'"));

        Assert.True(await dataSource.ScalarAsync<bool>("SELECT to_regclass('asset_prices_daily') IS NOT NULL"));
    }

    [Fact]
    public async Task Hostile_manifests_are_neither_listed_nor_cleaned_up_nor_restored_and_files_outside_the_folder_stay()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "hostile", withS3: false);
        await ctx.SeedMetricsAsync(3);
        var real = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest(Table, DateTimeOffset.UtcNow.AddDays(-3), DateTimeOffset.UtcNow.AddDays(-2)), cancellationToken: Ct);
        var folder = Path.GetDirectoryName(real.LocalPath!)!;
        var victim = Path.Combine(Path.GetTempPath(), $"financehub-victim-{Guid.NewGuid():N}.csv.gz");
        await File.WriteAllTextAsync(victim, "not yours", Ct);
        var realJson = await File.ReadAllTextAsync(Path.ChangeExtension(Path.ChangeExtension(real.LocalPath!, null), null) + ".manifest.json", Ct);
        var hostile = new (string Name, Action<System.Text.Json.Nodes.JsonObject> Edit)[]
        {
            ("absolute", m => m["dataFile"] = victim),
            ("parent", m => m["dataFile"] = "../../" + Path.GetFileName(victim)),
            ("table", m => { m["table"] = "pg_authid"; m["dataFile"] = "evil_table.csv.gz"; }),
            ("type", m => { m["columns"]![0]!["type"] = "text); DROP TABLE assets; --"; m["dataFile"] = "evil_type.csv.gz"; }),
            ("size", m => { m["fileSize"] = -1; m["dataFile"] = "evil_size.csv.gz"; }),
            ("latest", m => { m.Remove("earliestTime"); m["dataFile"] = "evil_latest.csv.gz"; }),
            ("span", m => { m["latestTime"] = m["rangeEnd"]!.DeepClone(); m["dataFile"] = "evil_span.csv.gz"; }),
            ("checksum", m => { m["contentChecksum"] = "12e3"; m["dataFile"] = "evil_checksum.csv.gz"; }),
            ("algorithm", m => { m["contentChecksumAlgorithm"] = "crc32"; m["dataFile"] = "evil_algorithm.csv.gz"; }),
        };
        foreach (var (name, edit) in hostile)
        {
            var manifest = System.Text.Json.Nodes.JsonNode.Parse(realJson)!.AsObject();
            manifest["id"] = Guid.NewGuid().ToString();
            edit(manifest);
            await File.WriteAllTextAsync(Path.Combine(folder, $"evil_{name}.manifest.json"), manifest.ToJsonString(), Ct);
            File.Copy(real.LocalPath!, Path.Combine(folder, $"evil_{name}.csv.gz"));
        }

        // The archived range is emptied first, so that a hostile manifest that got through would bring rows back.
        await ctx.DataSource.ExecuteAsync($"DELETE FROM {Table} WHERE created_at >= $1 AND created_at < $2", real.Manifest.RangeStart, real.Manifest.RangeEnd);
        var before = await ctx.ContentMd5Async(Table);
        var listed = await ctx.Archiver.ListLocalArchivesAsync(cancellationToken: Ct);
        var cleanup = await ctx.Archiver.CleanupLocalArchivesAsync(null, keep: 0, force: true, Ct);
        var catalog = await ctx.DataSource.ScalarAsync<string>("SELECT md5(string_agg(a::text, ',' ORDER BY id)) FROM financehub.archives a");
        // Every one of them given to restore: each refused, and nothing written anywhere.
        var refusals = new Dictionary<string, Exception?>();
        foreach (var (name, _) in hostile)
        {
            refusals[name] = await Record.ExceptionAsync(() =>
                ctx.Archiver.RestoreFromArchiveAsync(Path.Combine(folder, $"evil_{name}.csv.gz"), cancellationToken: Ct));
        }

        Assert.All(refusals, r => Assert.True(r.Value is ArchiveIntegrityException, $"evil_{r.Key}: {r.Value?.ToString() ?? "restored"}"));
        Assert.Equal(before, await ctx.ContentMd5Async(Table));
        Assert.Equal(catalog, await ctx.DataSource.ScalarAsync<string>("SELECT md5(string_agg(a::text, ',' ORDER BY id)) FROM financehub.archives a"));
        Assert.Equal(1L, await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'assets'"));
        var restore = refusals["table"]!;
        Assert.Equal([real.Manifest.Id], listed.Select(a => a.Manifest.Id));
        Assert.Equal([real.LocalPath!], cleanup.Deleted);
        Assert.True(File.Exists(victim), "a file outside the archive folder was deleted");
        Assert.All(hostile, h => Assert.True(File.Exists(Path.Combine(folder, $"evil_{h.Name}.csv.gz"))));
        Assert.Contains("cannot be trusted", restore.Message, StringComparison.Ordinal);
        Assert.Contains("pg_authid", restore.Message, StringComparison.Ordinal);
        File.Delete(victim);
    }

    [Fact]
    public async Task Text_that_looks_like_the_NULL_marker_empty_text_and_NULL_come_back_as_they_were()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "null_marker", withS3: false);
        var at = DateTimeOffset.UtcNow.AddDays(-2);
        await ctx.DataSource.ExecuteAsync(
            """
            INSERT INTO performance_metrics (created_at, metric_name, value, unit, service, host) VALUES
              ($1, '\N', 1, NULL, '', 'a,"b"'),
              ($1 + interval '1 second', 'plain', 2, '\N', NULL, '"\N"'),
              ($1 + interval '2 seconds', '', 3, 'ms', '\\N', NULL)
            """, at);
        var (start, end) = (at.AddMinutes(-1), at.AddMinutes(1));
        var before = await ctx.ContentMd5Async(Table);

        var archive = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest(Table, start, end), cancellationToken: Ct);

        // PostgreSQL's own CSV reader, told the manifest's NULL marker, reads the same rows.
        Assert.Equal("\\N", archive.Manifest.NullMarker);
        await ctx.DataSource.ExecuteAsync("CREATE TABLE copied (LIKE performance_metrics)");
        await using (var connection = await ctx.DataSource.OpenConnectionAsync(Ct))
        await using (var gzip = new System.IO.Compression.GZipStream(File.OpenRead(archive.LocalPath!), System.IO.Compression.CompressionMode.Decompress))
        using (var reader = new StreamReader(gzip))
        {
            await using var import = await connection.BeginTextImportAsync(
                $"COPY copied FROM STDIN (FORMAT csv, HEADER true, NULL '{archive.Manifest.NullMarker}')", Ct);
            await import.WriteAsync(await reader.ReadToEndAsync(Ct));
        }

        Assert.Equal(before, await ctx.ContentMd5Async("copied"));
        await ctx.DataSource.ExecuteAsync("DELETE FROM performance_metrics");
        await ctx.Archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: Ct);
        Assert.Equal(before, await ctx.ContentMd5Async(Table));
    }

    [Fact]
    public async Task Cleanup_keeps_a_local_archive_whose_remote_copy_is_gone_even_though_the_catalog_says_verified()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "cleanup_remote", withS3: true);
        await ctx.SeedMetricsAsync(4);
        var steps = await ctx.Archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct);
        Assert.True(steps.Count >= 2);
        var gone = await ctx.DataSource.ScalarAsync<string>("SELECT s3key FROM financehub.archives WHERE id = $1", steps[0].ArchiveId);
        await ctx.S3!.DeleteObjectAsync(ctx.Options.S3Bucket, gone, Ct);

        var cleanup = await ctx.Archiver.CleanupLocalArchivesAsync(null, keep: 0, cancellationToken: Ct);

        var kept = Assert.Single(cleanup.Kept);
        Assert.Contains(steps[0].ArchiveId.ToString("N"), kept.Path, StringComparison.Ordinal);
        Assert.Contains("remote copy is not there", kept.Reason, StringComparison.Ordinal);
        Assert.True(File.Exists(kept.Path));
        Assert.Equal(steps.Count - 1, cleanup.Deleted.Count);
    }

    [Fact]
    public async Task Verify_confirms_every_copy_and_names_each_missing_or_different_one()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "verify", withS3: true);
        await ctx.SeedMetricsAsync(6);
        var steps = await ctx.Archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct);
        Assert.True(steps.Count >= 4);
        var all = await ctx.Archiver.VerifyArchivesAsync(cancellationToken: Ct);
        Assert.Equal(steps.Select(s => s.ArchiveId).Order(), all.Select(c => c.ArchiveId).Order());
        Assert.All(all, c => Assert.True(c.Ok && c.Local == "ok" && c.Remote == "ok", $"{c.Local} / {c.Remote}"));

        var paths = await ctx.DataSource.QueryAsync("SELECT id, local_path, s3key FROM financehub.archives ORDER BY range_start");
        var (flipped, deleted, remoteGone, bothGone) = ((Guid)paths[0][0]!, (Guid)paths[1][0]!, (Guid)paths[2][0]!, (Guid)paths[3][0]!);
        var bytes = await File.ReadAllBytesAsync((string)paths[0][1]!, Ct);
        bytes[^10] ^= 0xFF;
        await File.WriteAllBytesAsync((string)paths[0][1]!, bytes, Ct);
        File.Delete((string)paths[1][1]!);
        await ctx.S3!.DeleteObjectAsync(ctx.Options.S3Bucket, (string)paths[2][2]!, Ct);
        File.Delete((string)paths[3][1]!);
        await ctx.S3!.DeleteObjectAsync(ctx.Options.S3Bucket, (string)paths[3][2]!, Ct);

        var checks = (await ctx.Archiver.VerifyArchivesAsync(cancellationToken: Ct)).ToDictionary(c => c.ArchiveId);

        Assert.StartsWith("SHA-256", checks[flipped].Local, StringComparison.Ordinal);
        Assert.Equal("ok", checks[flipped].Remote);
        Assert.StartsWith("missing", checks[deleted].Local, StringComparison.Ordinal);
        Assert.Matches("(?i)not ?found|NoSuchKey", checks[remoteGone].Remote);
        Assert.Equal("ok", checks[remoteGone].Local);
        Assert.False(checks[bothGone].Ok);
        Assert.Equal(4, checks.Values.Count(c => !c.Ok));
    }

    [Fact]
    public async Task A_range_archive_goes_to_S3_as_automated_ones_do_and_a_missing_bucket_is_an_error()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "range_s3", withS3: true);
        await ctx.SeedMetricsAsync(3);

        var archive = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest(Table, DateTimeOffset.UtcNow.AddDays(-3), DateTimeOffset.UtcNow.AddDays(-1)), cancellationToken: Ct);

        Assert.NotNull(archive.S3Key);
        using (var remote = await ctx.S3!.GetObjectAsync(ctx.Options.S3Bucket, archive.S3Key, Ct))
        using (var buffer = new MemoryStream())
        {
            await remote.ResponseStream.CopyToAsync(buffer, Ct);
            Assert.Equal(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(archive.LocalPath!, Ct)),
                System.Security.Cryptography.SHA256.HashData(buffer.ToArray()));
        }

        Assert.Equal("RemoteVerified", await ctx.DataSource.ScalarAsync<string>("SELECT status FROM financehub.archives WHERE id = $1", archive.Manifest.Id));

        ctx.Options.S3Bucket = "fh-no-such-bucket-" + Guid.NewGuid().ToString("N")[..8];
        using var missing = ctx.CreateArchiver();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            missing.ArchiveTableAsync(new ArchiveRequest(Table, DateTimeOffset.UtcNow.AddDays(-3), DateTimeOffset.UtcNow.AddDays(-2)), cancellationToken: Ct));
        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Restore_takes_an_archive_name_relative_to_the_archive_folder_as_list_shows_it()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "restore_relative", withS3: false);
        await ctx.SeedMetricsAsync(2);
        var (start, end) = (DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddDays(-1));
        var archive = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest(Table, start, end), cancellationToken: Ct);
        var rows = await ctx.DataSource.ExecuteAsync($"DELETE FROM {Table} WHERE created_at >= $1 AND created_at < $2", start, end);

        var restored = await ctx.Archiver.RestoreFromArchiveAsync(Path.GetRelativePath(ctx.Options.BasePath, archive.LocalPath!), cancellationToken: Ct);

        Assert.True(rows > 0);
        Assert.Equal(rows, restored.RowsRestored);
    }

    [Fact]
    public void The_default_archive_folder_is_a_data_folder_not_a_temporary_one()
    {
        var path = new ArchiveOptions().BasePath;

        Assert.False(path.StartsWith(Path.GetTempPath(), StringComparison.Ordinal), path);
        Assert.EndsWith(Path.Combine("financehub", "archives"), path, StringComparison.Ordinal);
    }

    private const string Table = "performance_metrics";

    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }

    /// <summary>Passes writes through until <paramref name="failAfterBytes"/>, then fails as a full disk does.</summary>
    private sealed class FailingStream(Stream inner, long failAfterBytes) : Stream
    {
        private long _written;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Check(buffer.Length);
            inner.Write(buffer);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Check(buffer.Length);
            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        private void Check(int count)
        {
            _written += count;
            if (_written > failAfterBytes)
            {
                throw new IOException("No space left on device (injected by the test)");
            }
        }
    }
}
