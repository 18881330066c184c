using System.IO.Compression;
using Amazon.S3.Model;
using FinanceHub.Data.Archiving;
using FinanceHub.Data.Tests.Infrastructure;

namespace FinanceHub.Data.Tests.Archiving;

/// <summary>Archive, verify, upload, restore, list, clean up: against the real database and S3 server.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class DataArchiverTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Archive_writes_gzip_csv_and_manifest_and_restore_brings_the_rows_back_once()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "archive_roundtrip", withS3: false);
        await ctx.DataSource.ExecuteAsync(
            """
            INSERT INTO api_usage_logs (created_at, endpoint, method, status_code, duration_ms, caller_id, client_ip, user_agent, request_bytes)
            SELECT t, '/api/v1/prices', 'GET', 200, 1.25, CASE WHEN extract(minute FROM t)::int % 2 = 0 THEN NULL ELSE 'key, "quoted"' END,
                   '10.1.2.3', '', 512
            FROM generate_series(now() - interval '2 days', now() - interval '1 day', interval '1 minute') t
            """);
        var (start, end) = (DateTimeOffset.UtcNow.AddDays(-3), DateTimeOffset.UtcNow.AddHours(-12));
        var before = await Checksum(ctx, start, end);

        var archive = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("api_usage_logs", start, end), cancellationToken: Ct);
        await ctx.DataSource.ExecuteAsync("DELETE FROM api_usage_logs WHERE created_at >= $1 AND created_at < $2", start, end);
        var restored = await ctx.Archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: Ct);
        var again = await ctx.Archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: Ct);

        Assert.True(File.Exists(archive.LocalPath));
        Assert.Equal(before.Rows, archive.Manifest.RowCount);
        Assert.Equal("api_usage_logs", archive.Manifest.Table);
        Assert.Contains(archive.Manifest.Columns, c => c.Name == "client_ip" && c.Type == "inet");
        Assert.StartsWith("2026", archive.Manifest.SchemaVersion, StringComparison.Ordinal);
        Assert.Equal((before.Rows, before.Rows), (restored.RowsInArchive, restored.RowsRestored));
        Assert.Equal(0, again.RowsRestored);
        Assert.Equal(before, await Checksum(ctx, start, end)); // ids, NULLs, empty strings, quotes, commas all came back
        Assert.Equal("Exported", await ctx.DataSource.ScalarAsync<string>("SELECT status FROM financehub.archives WHERE id = $1", archive.Manifest.Id));
        await using (var gzip = new GZipStream(File.OpenRead(archive.LocalPath!), CompressionMode.Decompress))
        using (var reader = new StreamReader(gzip))
        {
            Assert.StartsWith("id,created_at,endpoint", await reader.ReadLineAsync(Ct), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Corrupt_truncated_and_foreign_archives_are_refused_with_the_reason_and_nothing_is_written()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "archive_bad", withS3: false);
        await ctx.SeedMetricsAsync(2);
        var archive = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("performance_metrics", DateTimeOffset.UtcNow.AddDays(-3), DateTimeOffset.UtcNow), cancellationToken: Ct);
        await ctx.DataSource.ExecuteAsync("DELETE FROM performance_metrics");
        var path = archive.LocalPath!;
        var bytes = await File.ReadAllBytesAsync(path, Ct);

        var foreign = await Assert.ThrowsAsync<ArchiveIntegrityException>(() => ctx.Archiver.RestoreFromArchiveAsync(path, "api_usage_logs", Ct));
        bytes[bytes.Length / 2] ^= 0xFF;
        await File.WriteAllBytesAsync(path, bytes, Ct);
        var corrupt = await Assert.ThrowsAsync<ArchiveIntegrityException>(() => ctx.Archiver.RestoreFromArchiveAsync(path, cancellationToken: Ct));
        await File.WriteAllBytesAsync(path, bytes[..(bytes.Length / 3)], Ct);
        var truncated = await Assert.ThrowsAsync<ArchiveIntegrityException>(() => ctx.Archiver.RestoreFromArchiveAsync(path, cancellationToken: Ct));
        var unknown = await Assert.ThrowsAsync<ArgumentException>(() =>
            ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("pg_class", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow), cancellationToken: Ct));
        var missing = await Assert.ThrowsAsync<ArgumentException>(() => ctx.Archiver.RestoreFromArchiveAsync("/nonexistent/x.csv.gz", cancellationToken: Ct));

        Assert.Contains("do not fit api_usage_logs", foreign.Message, StringComparison.Ordinal);
        Assert.Contains("corrupt or truncated", corrupt.Message, StringComparison.Ordinal);
        Assert.Contains("corrupt or truncated", truncated.Message, StringComparison.Ordinal);
        Assert.Contains("Unknown hypertable 'pg_class'", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("no archive file", missing.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM performance_metrics"));
    }

    [Fact]
    public async Task Upload_is_multipart_verified_listed_and_restorable_from_s3()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "archive_s3", withS3: true);
        var big = Path.Combine(ctx.Options.BasePath, "big.bin");
        Directory.CreateDirectory(ctx.Options.BasePath);
        var data = new byte[12 * 1024 * 1024];
        new Random(3).NextBytes(data);
        await File.WriteAllBytesAsync(big, data, Ct);
        await ctx.SeedMetricsAsync(2);
        var (start, end) = (DateTimeOffset.UtcNow.AddDays(-3), DateTimeOffset.UtcNow);
        var archive = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("performance_metrics", start, end), cancellationToken: Ct);
        var key = $"archives/performance_metrics/{Path.GetFileName(archive.LocalPath!)}";

        await ctx.Archiver.UploadToS3Async(big, ctx.Options.S3Bucket!, "archives/big.bin", Ct);
        await ctx.Archiver.UploadToS3Async(archive.LocalPath!.Replace(".csv.gz", ".manifest.json", StringComparison.Ordinal), ctx.Options.S3Bucket!,
            key.Replace(".csv.gz", ".manifest.json", StringComparison.Ordinal), Ct);
        await ctx.Archiver.UploadToS3Async(archive.LocalPath!, ctx.Options.S3Bucket!, key, Ct);
        var listed = await ctx.Archiver.ListS3ArchivesAsync(cancellationToken: Ct);
        File.Delete(archive.LocalPath!);
        await ctx.DataSource.ExecuteAsync("DELETE FROM performance_metrics");
        var restored = await ctx.Archiver.RestoreFromArchiveAsync(key, cancellationToken: Ct);
        var noBucket = await Assert.ThrowsAsync<InvalidOperationException>(() => ctx.Archiver.UploadToS3Async(big, "no-such-bucket-fh", "x", Ct));

        var head = await ctx.S3!.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = ctx.Options.S3Bucket, Key = "archives/big.bin" }, Ct);
        Assert.Equal(data.Length, head.ContentLength);
        Assert.Contains(listed, o => o.Key == key);
        Assert.Equal(archive.Manifest.RowCount, restored.RowsRestored);
        Assert.Contains("does not exist", noBucket.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_s3_credentials_are_a_clear_error_naming_the_variables()
    {
        var endpoint = Environment.GetEnvironmentVariable("FINANCEHUB_TEST_S3_AUTH_ENDPOINT");
        Assert.SkipWhen(string.IsNullOrEmpty(endpoint),
            "Needs an S3 server that checks credentials: FINANCEHUB_TEST_S3_AUTH_ENDPOINT is not set (eng/devstack.sh env sets it).");
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "archive_creds", withS3: false);
        ctx.Options.S3Bucket = "any-bucket";
        ctx.Options.ServiceUrl = endpoint;
        ctx.Options.ForcePathStyle = true;
        ctx.Options.AccessKeyId = "not-a-key";
        ctx.Options.SecretAccessKey = "not-a-secret";
        using var archiver = ctx.CreateArchiver();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => archiver.ListS3ArchivesAsync(cancellationToken: Ct));

        Assert.Contains("refused the credentials", error.Message, StringComparison.Ordinal);
        Assert.Contains("AWS_ACCESS_KEY_ID", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cleanup_never_deletes_an_archive_without_a_verified_remote_copy_unless_forced()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "archive_cleanup", withS3: false);
        await ctx.SeedMetricsAsync(1);
        var archive = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("performance_metrics", DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow), cancellationToken: Ct);

        var listed = await ctx.Archiver.ListLocalArchivesAsync(cancellationToken: Ct);
        var careful = await ctx.Archiver.CleanupLocalArchivesAsync(TimeSpan.Zero, null, cancellationToken: Ct);
        var forced = await ctx.Archiver.CleanupLocalArchivesAsync(null, 0, force: true, Ct);

        Assert.Equal(archive.Manifest.Id, Assert.Single(listed).Manifest.Id);
        Assert.Empty(careful.Deleted);
        Assert.Contains("no verified remote copy", Assert.Single(careful.Kept).Reason, StringComparison.Ordinal);
        Assert.Equal(archive.LocalPath, Assert.Single(forced.Deleted));
        Assert.False(File.Exists(archive.LocalPath));
        await Assert.ThrowsAsync<ArgumentException>(() => ctx.Archiver.CleanupLocalArchivesAsync(null, null, cancellationToken: Ct));
    }

    [Fact]
    public async Task Restore_into_compressed_chunks_on_community_edition()
    {
        fixture.RequireCommunity();
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "archive_compressed", withS3: false);
        var asset = await ctx.DataSource.InsertAssetAsync("BTC");
        await ctx.DataSource.InsertPricesAsync(asset, DateTimeOffset.UtcNow.AddDays(-90), DateTimeOffset.UtcNow.AddDays(-40), TimeSpan.FromHours(1));
        var (start, end) = (DateTimeOffset.UtcNow.AddDays(-91), DateTimeOffset.UtcNow.AddDays(-39));
        var before = await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic");
        var archive = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("asset_prices_historic", start, end), cancellationToken: Ct);
        await ctx.DataSource.ExecuteAsync("DELETE FROM asset_prices_historic WHERE date < now() - interval '60 days'");
        await ctx.DataSource.ExecuteAsync("SELECT count(compress_chunk(c, if_not_compressed => true)) FROM show_chunks('asset_prices_historic') c");

        var restored = await ctx.Archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: Ct);

        Assert.True(restored.RowsRestored > 0);
        Assert.Equal(before, await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"));
        Assert.True(await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'asset_prices_historic' AND is_compressed") > 0);
    }

    private static async Task<(long Rows, string Checksum)> Checksum(ArchiveTestContext ctx, DateTimeOffset start, DateTimeOffset end)
    {
        var row = (await ctx.DataSource.QueryAsync("SELECT row_count, checksum::text FROM financehub.content_checksum('api_usage_logs', 'created_at', $1, $2)", start, end))[0];
        return ((long)row[0]!, (string)row[1]!);
    }
}
