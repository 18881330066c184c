using FinanceHub.Data.Archiving;
using FinanceHub.Data.Tests.Infrastructure;

namespace FinanceHub.Data.Tests.Archiving;

/// <summary>RunAutomatedArchiveAsync never loses a row: failures at every step, a killed process, concurrent writers.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class AutomatedArchiveTests(DatabaseFixture fixture)
{
    private const string Table = "performance_metrics";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Archives_verifies_uploads_and_drops_every_old_chunk_once()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "auto", withS3: true);
        await ctx.SeedMetricsAsync(6);
        var original = await ctx.ContentMd5Async(Table);

        var first = await ctx.Archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct);
        var second = await ctx.Archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct);

        Assert.True(first.Count >= 4);
        Assert.All(first, s => Assert.True(s.Dropped, s.Outcome));
        Assert.All(second, s => Assert.Equal("already archived and dropped", s.Outcome));
        Assert.Equal(0L, await ctx.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {Table} WHERE created_at < now() - interval '3 days'"));
        Assert.Equal((long)first.Count, await ctx.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM financehub.archives WHERE status = 'Dropped' AND remote_verified_at IS NOT NULL AND s3key IS NOT NULL"));
        var objects = await ctx.Archiver.ListS3ArchivesAsync(cancellationToken: Ct);
        Assert.Equal(first.Count, objects.Count);

        // Each object, read back from S3 by a client of the test's own, is byte for byte the local archive file.
        var local = Directory.EnumerateFiles(ctx.Options.BasePath, "*.csv.gz", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));
        Assert.Equal(first.Count, local.Count);
        var compared = 0;
        foreach (var o in objects.Where(o => o.Key.EndsWith(".csv.gz", StringComparison.Ordinal)))
        {
            compared++;
            using var response = await ctx.S3!.GetObjectAsync(ctx.Options.S3Bucket, o.Key, Ct);
            using var sha = System.Security.Cryptography.SHA256.Create();
            var fetched = Convert.ToHexString(await sha.ComputeHashAsync(response.ResponseStream, Ct));
            Assert.Equal(local[Path.GetFileName(o.Key)], fetched);
        }

        Assert.Equal(first.Count, compared);

        // Restoring every dropped range from S3 alone (no local file left) brings the table back, row for row.
        foreach (var file in Directory.EnumerateFiles(ctx.Options.BasePath, "*.csv.gz", SearchOption.AllDirectories))
        {
            File.Delete(file);
        }

        foreach (var o in objects)
        {
            await ctx.Archiver.RestoreFromArchiveAsync(o.Key, cancellationToken: Ct);
        }

        Assert.Equal(original, await ctx.ContentMd5Async(Table));
    }

    public static TheoryData<string> FailurePoints =>
        ["AfterExport", "AfterVerify", "DuringUpload", "AfterUpload", "AfterRemoteVerify", "DuringDrop"];

    [Theory]
    [MemberData(nameof(FailurePoints))]
    public async Task A_failure_at_any_step_loses_no_row_and_the_next_run_completes_the_job(string failAt)
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "auto_fail", withS3: true);
        await ctx.SeedMetricsAsync(5);
        var original = await ctx.ContentMd5Async(Table);
        var failing = ctx.CreateArchiver();
        var failed = false;
        if (failAt == "DuringUpload")
        {
            failing.UploadStreamWrapper = inner => new FailingStream(inner, failAfterBytes: 100);
        }
        else
        {
            var point = Enum.Parse<ArchiveCheckpoint>(failAt);
            failing.Checkpoint = (checkpoint, _) =>
            {
                if (checkpoint == point && !failed)
                {
                    failed = true;
                    throw new IOException($"injected failure {failAt}");
                }

                return Task.CompletedTask;
            };
        }

        var error = await Assert.ThrowsAnyAsync<Exception>(() => failing.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct));
        // The injected failure itself (or the archiver's wrapping of it), not some other crash.
        Assert.True(Injected(error), $"the run failed, but not with the injected failure: {error}");

        var resumed = await ctx.Archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct);

        Assert.NotEmpty(resumed);
        Assert.All(resumed, s => Assert.True(s.Dropped, s.Outcome));
        Assert.Equal(0L, await ctx.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {Table} WHERE created_at < now() - interval '3 days'"));
        Assert.Equal(0L, await ctx.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM (SELECT range_start FROM financehub.archives GROUP BY table_name, range_start, range_end HAVING count(*) > 1) d"));
        // What the archives hold, restored, is the table as it was, row for row.
        await ctx.RestoreEverythingAsync(Table);
        Assert.Equal(original, await ctx.ContentMd5Async(Table));
    }

    private static bool Injected(Exception? error)
    {
        for (; error is not null; error = error.InnerException)
        {
            if (error is IOException && error.Message.StartsWith("injected failure", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    [Fact]
    public async Task A_row_written_into_an_old_chunk_while_it_is_archived_is_not_lost()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "auto_race", withS3: false);
        await ctx.SeedMetricsAsync(4);
        await ctx.DataSource.ExecuteAsync("CREATE TABLE expected AS SELECT * FROM performance_metrics");
        var archiver = ctx.CreateArchiver();
        var inserted = false;
        archiver.Checkpoint = async (checkpoint, id) =>
        {
            if (checkpoint == ArchiveCheckpoint.AfterVerify && !inserted)
            {
                inserted = true;
                // A late writer: a row in the range that was just exported and verified.
                await ctx.DataSource.ExecuteAsync(
                    "INSERT INTO performance_metrics (created_at, metric_name, value) SELECT range_start + interval '1 minute', 'late', 42 FROM financehub.archives WHERE id = $1", id);
                await ctx.DataSource.ExecuteAsync("INSERT INTO expected SELECT * FROM performance_metrics WHERE metric_name = 'late'");
            }
        };

        var steps = await archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct);

        Assert.True(inserted);
        Assert.All(steps, s => Assert.True(s.Dropped, s.Outcome));
        // Everything the archives hold, restored, is the table as it was plus the late row, row for row.
        await ctx.RestoreEverythingAsync(Table);
        Assert.Equal(1L, await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM performance_metrics WHERE metric_name = 'late'"));
        Assert.Equal(await ctx.ContentMd5Async("expected"), await ctx.ContentMd5Async(Table));
    }

    [Fact]
    public async Task A_value_changed_in_an_old_chunk_while_it_is_archived_is_archived_again_not_dropped_with_the_old_value()
    {
        // The row count stays the same: only the content checksum (of the CSV lines) tells the archive from the table.
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "auto_change", withS3: false);
        await ctx.SeedMetricsAsync(4);
        var archiver = ctx.CreateArchiver();
        long? changed = null;
        archiver.Checkpoint = async (checkpoint, id) =>
        {
            if (checkpoint == ArchiveCheckpoint.AfterVerify && changed is null)
            {
                changed = await ctx.DataSource.ScalarAsync<long>(
                    """
                    UPDATE performance_metrics SET value = 4242.5
                    WHERE id = (SELECT min(m.id) FROM performance_metrics m, financehub.archives a
                                WHERE a.id = $1 AND m.created_at >= a.range_start AND m.created_at < a.range_end)
                    RETURNING id
                    """, id);
            }
        };

        var steps = await archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct);
        var archives = await ctx.Archiver.ListLocalArchivesAsync(cancellationToken: Ct);
        var dropped = (await ctx.DataSource.QueryAsync("SELECT id FROM financehub.archives WHERE status = 'Dropped'")).Select(r => (Guid)r[0]!).ToHashSet();
        await ctx.DataSource.ExecuteAsync("DELETE FROM performance_metrics");
        foreach (var archive in archives.Where(a => dropped.Contains(a.Manifest.Id)))
        {
            await ctx.Archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: Ct);
        }

        Assert.NotNull(changed);
        Assert.All(steps, s => Assert.True(s.Dropped, s.Outcome));
        Assert.Equal(steps.Count, dropped.Count);
        Assert.Equal(dropped.Count + 1, archives.Count); // the stale archive stays beside the new one
        Assert.All(archives, a => Assert.Equal("csv-line-hash", a.Manifest.ContentChecksumAlgorithm));
        Assert.Equal(4242.5, await ctx.DataSource.ScalarAsync<double>("SELECT value FROM performance_metrics WHERE id = $1", changed!.Value));
    }

    [Fact]
    public async Task A_killed_process_loses_no_row_and_a_new_run_finishes()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "auto_kill", withS3: false);
        await ctx.SeedMetricsAsync(12);
        var original = await ctx.ContentMd5Async(Table);
        var dll = typeof(FinanceHub.Data.Cli.CliApplication).Assembly.Location;
        var start = new System.Diagnostics.ProcessStartInfo("dotnet", [dll, "archive", Table, "--older-than-days", "2", "--connection", ctx.ConnectionString])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.Environment["ARCHIVE_BASE_PATH"] = ctx.Options.BasePath;
        start.Environment["ARCHIVE_S3_BUCKET"] = "";

        bool killed;
        int exitCode;
        long archivedAtKill;
        using (var process = System.Diagnostics.Process.Start(start)!)
        {
            // Kill it once it has got somewhere: the first range exported.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!process.HasExited && DateTime.UtcNow < deadline
                   && await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM financehub.archives") == 0)
            {
                await Task.Delay(20, Ct);
            }

            killed = !process.HasExited;
            archivedAtKill = await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM financehub.archives");
            if (killed)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync(Ct);
            exitCode = process.ExitCode;
        }

        // It was killed mid-run, by SIGKILL (.NET reports 128 + the signal), not finished or failed by itself.
        Assert.True(killed, $"the archive process ended by itself (exit code {exitCode}) before it could be killed");
        Assert.Equal(128 + 9, exitCode);
        Assert.True(archivedAtKill > 0, "the archive process was killed before it had archived anything");
        var finished = await ctx.Archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct);
        // The new run had work left (the kill interrupted the job, it did not land after it).
        Assert.Contains(finished, s => s.Outcome != "already archived and dropped");
        Assert.All(finished, s => Assert.True(s.Dropped, s.Outcome));
        await ctx.RestoreEverythingAsync(Table);
        Assert.Equal(original, await ctx.ContentMd5Async(Table));
    }

    [Fact]
    public async Task Archiving_after_the_retention_age_is_refused_because_retention_would_drop_the_rows_first()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "auto_retention", withS3: false);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ctx.Archiver.RunAutomatedArchiveAsync(Table, 45, cancellationToken: Ct));
        var unknown = await Assert.ThrowsAsync<ArgumentException>(() => ctx.Archiver.RunAutomatedArchiveAsync("nope", 3, cancellationToken: Ct));

        Assert.Contains("30 days", error.Message, StringComparison.Ordinal);
        Assert.Contains("lost without an archive", error.Message, StringComparison.Ordinal);
        Assert.Contains("nope", unknown.Message, StringComparison.Ordinal);
    }

    private sealed class FailingStream(Stream inner, long failAfterBytes) : Stream
    {
        private long _read;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_read >= failAfterBytes)
            {
                throw new IOException("injected failure during upload");
            }

            var n = inner.Read(buffer[..(int)Math.Min(buffer.Length, failAfterBytes - _read + 1)]);
            _read += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => Task.FromResult(Read(buffer, offset, count));

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
