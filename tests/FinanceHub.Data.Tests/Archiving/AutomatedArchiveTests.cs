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
        var total = await ctx.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {Table}");

        var first = await ctx.Archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct);
        var second = await ctx.Archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct);

        Assert.True(first.Count >= 4);
        Assert.All(first, s => Assert.True(s.Dropped, s.Outcome));
        Assert.All(second, s => Assert.Equal("already archived and dropped", s.Outcome));
        Assert.Equal(0L, await ctx.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {Table} WHERE created_at < now() - interval '3 days'"));
        Assert.Equal(total, await ctx.RowsAccountedForAsync(Table));
        Assert.Equal((long)first.Count, await ctx.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM financehub.archives WHERE status = 'Dropped' AND remote_verified_at IS NOT NULL AND s3key IS NOT NULL"));
        var objects = await ctx.Archiver.ListS3ArchivesAsync(cancellationToken: Ct);
        Assert.Equal(first.Count, objects.Count);

        // Restoring one dropped range from S3 alone brings its rows back.
        foreach (var file in Directory.EnumerateFiles(ctx.Options.BasePath, "*.csv.gz", SearchOption.AllDirectories))
        {
            File.Delete(file);
        }

        var restored = await ctx.Archiver.RestoreFromArchiveAsync(objects[0].Key, cancellationToken: Ct);
        Assert.Equal(restored.RowsInArchive, restored.RowsRestored);
    }

    public static TheoryData<string> FailurePoints =>
        ["AfterExport", "AfterVerify", "DuringUpload", "AfterUpload", "AfterRemoteVerify", "DuringDrop"];

    [Theory]
    [MemberData(nameof(FailurePoints))]
    public async Task A_failure_at_any_step_loses_no_row_and_the_next_run_completes_the_job(string failAt)
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "auto_fail", withS3: true);
        await ctx.SeedMetricsAsync(5);
        var total = await ctx.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {Table}");
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

        await Assert.ThrowsAnyAsync<Exception>(() => failing.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct));
        Assert.Equal(total, await ctx.RowsAccountedForAsync(Table));

        var resumed = await ctx.Archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct);

        Assert.All(resumed, s => Assert.True(s.Dropped, s.Outcome));
        Assert.Equal(total, await ctx.RowsAccountedForAsync(Table));
        Assert.Equal(0L, await ctx.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {Table} WHERE created_at < now() - interval '3 days'"));
        Assert.Equal(0L, await ctx.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM (SELECT range_start FROM financehub.archives GROUP BY table_name, range_start, range_end HAVING count(*) > 1) d"));
    }

    [Fact]
    public async Task A_row_written_into_an_old_chunk_while_it_is_archived_is_not_lost()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "auto_race", withS3: false);
        await ctx.SeedMetricsAsync(4);
        var total = await ctx.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {Table}");
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
            }
        };

        var steps = await archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct);

        Assert.True(inserted);
        Assert.All(steps, s => Assert.True(s.Dropped, s.Outcome));
        Assert.Equal(total + 1, await ctx.RowsAccountedForAsync(Table));
        var archive = (await ctx.Archiver.ListLocalArchivesAsync(cancellationToken: Ct)).Single(a => a.Manifest.Id == steps[0].ArchiveId);
        await ctx.DataSource.ExecuteAsync("DELETE FROM performance_metrics");
        await ctx.Archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: Ct);
        Assert.Equal(1L, await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM performance_metrics WHERE metric_name = 'late'"));
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
        var total = await ctx.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {Table}");
        var dll = typeof(FinanceHub.Data.Cli.CliApplication).Assembly.Location;
        var start = new System.Diagnostics.ProcessStartInfo("dotnet", [dll, "archive", Table, "--older-than-days", "2", "--connection", ctx.ConnectionString])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.Environment["ARCHIVE_BASE_PATH"] = ctx.Options.BasePath;
        start.Environment["ARCHIVE_S3_BUCKET"] = "";

        using (var process = System.Diagnostics.Process.Start(start)!)
        {
            // Kill it once it has got somewhere: the first range exported.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!process.HasExited && DateTime.UtcNow < deadline
                   && await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM financehub.archives") == 0)
            {
                await Task.Delay(20, Ct);
            }

            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync(Ct);
        }

        Assert.Equal(total, await ctx.RowsAccountedForAsync(Table));
        var finished = await ctx.Archiver.RunAutomatedArchiveAsync(Table, 2, cancellationToken: Ct);
        Assert.All(finished, s => Assert.True(s.Dropped, s.Outcome));
        Assert.Equal(total, await ctx.RowsAccountedForAsync(Table));
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
