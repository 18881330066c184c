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
        var before = await ctx.ApiUsageLogsMd5Async(start, end);

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
        Assert.Equal(before, await ctx.ApiUsageLogsMd5Async(start, end)); // ids, NULLs, empty strings, quotes, commas all came back
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
        var original = await ctx.ContentMd5Async("performance_metrics");
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
        // The multipart object, fetched back by the test's own client, is the file byte for byte.
        using (var fetched = await ctx.S3.GetObjectAsync(ctx.Options.S3Bucket, "archives/big.bin", Ct))
        using (var sha = System.Security.Cryptography.SHA256.Create())
        {
            Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(data)), Convert.ToHexString(await sha.ComputeHashAsync(fetched.ResponseStream, Ct)));
        }

        Assert.Contains(listed, o => o.Key == key);
        Assert.Equal(archive.Manifest.RowCount, restored.RowsRestored);
        Assert.Equal(original, await ctx.ContentMd5Async("performance_metrics"));
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
        const string Content = "SELECT count(*), md5(string_agg(p::text, ',' ORDER BY asset_id, date)) FROM asset_prices_historic p";
        var before = (await ctx.DataSource.QueryAsync(Content))[0];
        var archive = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("asset_prices_historic", start, end), cancellationToken: Ct);
        await ctx.DataSource.ExecuteAsync("DELETE FROM asset_prices_historic WHERE date < now() - interval '60 days'");
        await ctx.DataSource.ExecuteAsync("SELECT count(compress_chunk(c, if_not_compressed => true)) FROM show_chunks('asset_prices_historic') c");

        var restored = await ctx.Archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: Ct);

        Assert.True(restored.RowsRestored > 0);
        Assert.Equal(before, (await ctx.DataSource.QueryAsync(Content))[0]);
        Assert.True(await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'asset_prices_historic' AND is_compressed") > 0);
    }

    [Fact]
    public async Task An_archive_in_the_format_the_client_side_csv_writer_wrote_before_0_5_still_restores_exactly()
    {
        // Archives made before the server wrote the CSV: timestamps as 2026-11-01T10:00:00.5Z, doubles in round-trip
        // form, text quoted by CsvHelper, a text \N quoted. Written here the way that writer did, from rows read back.
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "archive_old_format", withS3: false);
        var at = new DateTimeOffset(2026, 11, 1, 10, 0, 0, TimeSpan.Zero);
        await ctx.DataSource.ExecuteAsync(
            """
            INSERT INTO api_usage_logs (created_at, endpoint, method, status_code, duration_ms, caller_id, client_ip, user_agent, request_bytes, response_bytes)
            VALUES ($1, '/api/v1/prices', 'GET', 200, 1.25, NULL, '10.1.2.3', '', 512, NULL),
                   ($1 + interval '0.5 seconds', '/a,b', 'POST', 201, 0.00001, 'key, "quoted"', '::1', E'line\nbreak', NULL, 7),
                   ($1 + interval '1.000001 seconds', '/c', 'GET', 503, 12345.678901234567, '\N', NULL, 'ua', 1, 2)
            """, at);
        var (start, end) = (at.AddMinutes(-1), at.AddMinutes(1));
        var before = await ctx.DataSource.ScalarAsync<string>(
            "SELECT md5(string_agg(l::text, ',' ORDER BY id)) FROM api_usage_logs l WHERE created_at >= $1 AND created_at < $2", start, end);
        var (rows, checksum) = await Checksum(ctx, start, end);
        var columns = (await ctx.DataSource.QueryAsync(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'api_usage_logs'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"))
            .Select(r => new ArchiveColumn((string)r[0]!, (string)r[1]!)).ToList();

        var id = Guid.NewGuid();
        var name = $"api_usage_logs_old_{id:N}.csv.gz";
        var path = Path.Combine(ctx.Options.BasePath, name);
        Directory.CreateDirectory(ctx.Options.BasePath);
        await using (var file = File.Create(path))
        await using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        await using (var csv = CsvHelper.CsvWriter.Create(gzip, new CsvHelper.CsvWriterOptions { HasHeader = true, FormatProvider = System.Globalization.CultureInfo.InvariantCulture }, true))
        {
            csv.WriteHeader([.. columns.Select(c => c.Name)]);
            await using var read = ctx.DataSource.CreateCommand(
                "SELECT id, created_at, endpoint, method, status_code, duration_ms, caller_id, host(client_ip), user_agent, request_bytes, response_bytes FROM api_usage_logs ORDER BY id");
            await using var reader = await read.ExecuteReaderAsync(Ct);
            while (await reader.ReadAsync(Ct))
            {
                csv.WriteField(reader.GetInt64(0).ToString(System.Globalization.CultureInfo.InvariantCulture));
                csv.WriteField(reader.GetFieldValue<DateTime>(1).ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture));
                csv.WriteField(reader.GetString(2));
                csv.WriteField(reader.GetString(3));
                csv.WriteField(reader.GetInt16(4).ToString(System.Globalization.CultureInfo.InvariantCulture));
                csv.WriteField(reader.GetDouble(5).ToString("R", System.Globalization.CultureInfo.InvariantCulture));
                foreach (var i in new[] { 6, 7, 8 })
                {
                    if (reader.IsDBNull(i))
                    {
                        csv.WriteField("\\N");
                    }
                    else
                    {
                        csv.WriteField(reader.GetString(i), reader.GetString(i) == "\\N" ? CsvHelper.CsvQuoting.Always : default);
                    }
                }

                foreach (var i in new[] { 9, 10 })
                {
                    csv.WriteField(reader.IsDBNull(i) ? "\\N" : reader.GetInt64(i).ToString(System.Globalization.CultureInfo.InvariantCulture));
                }

                csv.EndRecord();
            }

            await csv.FlushAsync(Ct);
        }

        var bytes = await File.ReadAllBytesAsync(path, Ct);
        var manifest = new ArchiveManifest
        {
            Id = id, Table = "api_usage_logs", TimeColumn = "created_at", Columns = columns, RangeStart = start, RangeEnd = end, RowCount = rows,
            FileSha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), FileSize = bytes.Length, ContentChecksum = checksum,
            SchemaVersion = "20261128231529_AssetDefaults", CreatedAt = DateTimeOffset.UtcNow, DataFile = name,
        };
        await File.WriteAllTextAsync(path.Replace(".csv.gz", ".manifest.json", StringComparison.Ordinal),
            System.Text.Json.JsonSerializer.Serialize(manifest, ArchiveJsonContext.Default.ArchiveManifest), Ct);
        await ctx.DataSource.ExecuteAsync("DELETE FROM api_usage_logs");

        var restored = await ctx.Archiver.RestoreFromArchiveAsync(path, cancellationToken: Ct);

        Assert.Equal((3L, 3L), (rows, restored.RowsRestored));
        Assert.Equal(before, await ctx.DataSource.ScalarAsync<string>(
            "SELECT md5(string_agg(l::text, ',' ORDER BY id)) FROM api_usage_logs l WHERE created_at >= $1 AND created_at < $2", start, end));
    }

    /// <summary>The product's content checksum of a range: what a hand-made manifest must state (input, not an oracle).</summary>
    private static async Task<(long Rows, string Checksum)> Checksum(ArchiveTestContext ctx, DateTimeOffset start, DateTimeOffset end)
    {
        var row = (await ctx.DataSource.QueryAsync("SELECT row_count, checksum::text FROM financehub.content_checksum('api_usage_logs', 'created_at', $1, $2)", start, end))[0];
        return ((long)row[0]!, (string)row[1]!);
    }
}
