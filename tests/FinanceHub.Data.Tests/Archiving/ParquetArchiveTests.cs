using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using DuckDB.NET.Data;
using FinanceHub.Data.Archiving;
using FinanceHub.Data.Tests.Infrastructure;
using Npgsql;

namespace FinanceHub.Data.Tests.Archiving;

/// <summary>
/// Parquet archives, the cold tier: every table round-trips exactly, and DuckDB (an independent reader, its own engine)
/// reads from the files the same rows, with the same types, that the database held before archiving.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class ParquetArchiveTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Each table's columns as the oracle reads them from PostgreSQL and from DuckDB, and its order.</summary>
    private static readonly Dictionary<string, (string PgColumns, string DuckColumns, string Time, string Order)> Tables = new()
    {
        ["asset_prices_historic"] = ("asset_id, date, open, high, low, close, adjusted_close, volume, trade_count, source",
            "asset_id, date, open, high, low, close, adjusted_close, volume, trade_count, source", "date", "date, asset_id"),
        ["performance_metrics"] = ("id, created_at, metric_name, value, unit, service, host, asset_id",
            "id, created_at, metric_name, value, unit, service, host, asset_id", "created_at", "created_at, id"),
        ["api_usage_logs"] = ("id, created_at, endpoint, method, status_code, duration_ms, caller_id, client_ip, user_agent, request_bytes, response_bytes",
            "id, created_at, endpoint, method, status_code, duration_ms, caller_id, client_ip, user_agent, request_bytes, response_bytes", "created_at", "created_at, id"),
    };

    [Theory]
    [InlineData("asset_prices_historic")]
    [InlineData("performance_metrics")]
    [InlineData("api_usage_logs")]
    public async Task A_parquet_archive_restores_exactly_and_DuckDB_reads_the_rows_the_database_held(string table)
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "parquet_" + table[..5], withS3: false);
        await ctx.HoldRetentionAsync();
        ctx.Options.ParquetRowGroupRows = 1_000; // several row groups, and a last one that is not full
        await SeedAsync(ctx.DataSource, table);
        var (start, end) = (new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 3, 8, 0, 0, 0, TimeSpan.Zero));
        var (pgColumns, duckColumns, time, order) = Tables[table];
        var before = await Md5OfRowsAsync(ctx.DataSource, table, time, order, start, end);
        var fromDatabase = await CanonicalRowsAsync(ctx.DataSource, $"SELECT {pgColumns} FROM {table} WHERE {time} >= $1 AND {time} < $2 ORDER BY {order}", start, end);

        var archive = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest(table, start, end, ArchiveFormat.Parquet), cancellationToken: Ct);
        var fromDuckDb = await DuckRowsAsync($"SELECT {duckColumns} FROM read_parquet('{archive.LocalPath}') ORDER BY {order}");
        await ctx.DataSource.ExecuteAsync($"DELETE FROM {table} WHERE {time} >= $1 AND {time} < $2", start, end);
        var restored = await ctx.Archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: Ct);

        Assert.True(fromDatabase.Count > 2_000, $"{fromDatabase.Count} rows");
        Assert.Equal(fromDatabase.Count, fromDuckDb.Count);
        var differs = fromDatabase.Zip(fromDuckDb).FirstOrDefault(p => p.First != p.Second);
        Assert.True(differs == default, $"The first row that differs:\n database: {differs.First}\n DuckDB:   {differs.Second}");
        Assert.Equal(Sha256(fromDatabase), Sha256(fromDuckDb));
        Assert.Equal(("parquet", (long)fromDatabase.Count, "record-hash"), (archive.Manifest.Format, archive.Manifest.RowCount, archive.Manifest.ContentChecksumAlgorithm));
        Assert.Equal(Path.Combine(ctx.Options.BasePath, $"table={table}", "year=2026", "month=03", archive.Manifest.DataFile), archive.LocalPath);
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(archive.LocalPath)!, "_" + archive.Manifest.DataFile.Replace(".parquet", ".manifest.json", StringComparison.Ordinal))));
        Assert.Equal(fromDatabase.Count, restored.RowsRestored);
        Assert.Equal(before, await Md5OfRowsAsync(ctx.DataSource, table, time, order, start, end));
    }

    [Fact]
    public async Task Parquet_columns_carry_the_database_types_and_the_folders_are_hive_partitions()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "parquet_types", withS3: false);
        await ctx.HoldRetentionAsync();
        await SeedAsync(ctx.DataSource, "asset_prices_historic");
        var march = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("asset_prices_historic",
            new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 3, 5, 0, 0, 0, TimeSpan.Zero), ArchiveFormat.Parquet), cancellationToken: Ct);
        var february = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("asset_prices_historic",
            new DateTimeOffset(2026, 2, 26, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), ArchiveFormat.Parquet), cancellationToken: Ct);

        var types = await DuckRowsAsync($"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{march.LocalPath}'))");
        var glob = Path.Combine(ctx.Options.BasePath, "table=asset_prices_historic", "**", "*.parquet");
        var partitions = await DuckRowsAsync(
            $"SELECT year, month, count(*), min(date), max(date) FROM read_parquet('{glob}', hive_partitioning = true) GROUP BY year, month ORDER BY year, month");
        var databaseCounts = await CanonicalRowsAsync(ctx.DataSource,
            "SELECT count(*) FILTER (WHERE date < '2026-03-01'), count(*) FILTER (WHERE date >= '2026-03-01') FROM asset_prices_historic WHERE date >= $1 AND date < $2",
            february.Manifest.RangeStart, march.Manifest.RangeEnd);

        // Row-group statistics are what engines prune by: the time column's must be in the column's own unit.
        var statistics = await DuckRowsAsync($"SELECT stats_min_value, stats_max_value FROM parquet_metadata('{march.LocalPath}') WHERE path_in_schema = 'date'");
        Assert.All(statistics, s => Assert.Matches(@"^2026-03-0[1-4] \d\d:\d\d:\d\d(\+00)?\|2026-03-0[1-4] ", s));
        Assert.Contains("asset_id|INTEGER", types);
        Assert.Contains("date|TIMESTAMP WITH TIME ZONE", types);
        Assert.Contains("open|DECIMAL(20,8)", types);
        Assert.Contains("volume|DECIMAL(28,8)", types);
        Assert.Contains("trade_count|INTEGER", types);
        Assert.Contains("source|VARCHAR", types);
        var counts = databaseCounts.Single().Split('|');
        Assert.Equal([$"2026|02|{counts[0]}", $"2026|03|{counts[1]}"], partitions.Select(p => string.Join('|', p.Split('|')[..3])));
        // These two ranges are month-aligned, so each partition holds only its month's rows (an automated archive of a
        // chunk across a month's end sits under the month it starts in; the README's query test covers that case).
        Assert.All(partitions, p =>
        {
            var f = p.Split('|');
            Assert.All(f[3..], t => Assert.StartsWith($"{f[0]}-{int.Parse(f[1], CultureInfo.InvariantCulture):00}-", t, StringComparison.Ordinal));
        });
    }

    [Fact]
    public async Task The_readmes_duckdb_query_of_the_cold_tier_gives_what_postgresql_computes_from_the_rows()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "parquet_readme", withS3: false);
        await ctx.HoldRetentionAsync();
        await SeedAsync(ctx.DataSource, "asset_prices_historic");
        await ctx.DataSource.ExecuteAsync("UPDATE asset_prices_historic SET volume = 1.5 WHERE volume > 1e15"); // sums that fit a .NET decimal
        var (start, end) = (new DateTimeOffset(2026, 2, 26, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 3, 8, 0, 0, 0, TimeSpan.Zero));
        var expected = await CanonicalRowsAsync(ctx.DataSource,
            """
            SELECT date_trunc('month', date, 'UTC'), asset_id, max(high), min(low), sum(volume) FROM asset_prices_historic
            WHERE date >= '2026-03-01' AND date < '2026-07-01' GROUP BY 1, 2 ORDER BY 1, 2
            """);
        await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("asset_prices_historic", start, end, ArchiveFormat.Parquet), cancellationToken: Ct);

        // The README's block as written, pointed at this test's folder and at March 2026: the March rows sit in a file that
        // starts in February (under month=02), as an automated archive of a chunk across a month's end does.
        var readme = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "README.md"), Ct);
        var block = readme[readme.IndexOf("DuckDB, on a local copy", StringComparison.Ordinal)..];
        block = block[(block.IndexOf("```sql", StringComparison.Ordinal) + 6)..];
        var sql = block[..block.IndexOf("```", StringComparison.Ordinal)]
            .Replace("~/.local/share/financehub/archives", ctx.Options.BasePath, StringComparison.Ordinal)
            .Replace("2024", "2026", StringComparison.Ordinal).Replace("-01-01'", "-03-01'", StringComparison.Ordinal);
        var actual = await DuckRowsAsync(sql.TrimEnd().TrimEnd(';'), setup: "SET TimeZone = 'UTC'");

        Assert.Equal(2, expected.Count);
        Assert.Equal(expected, actual);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "FinanceHub.Data.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("The tests run outside the repository: no FinanceHub.Data.sln above " + AppContext.BaseDirectory);
    }

    [Fact]
    public async Task Automated_archiving_in_parquet_uploads_hive_keys_and_restores_a_dropped_range_from_s3_alone()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "parquet_auto", withS3: true);
        ctx.Options.Format = ArchiveFormat.Parquet;
        await ctx.SeedMetricsAsync(6);
        var old = DateTimeOffset.UtcNow.AddDays(-3);
        var before = await Md5OfRowsAsync(ctx.DataSource, "performance_metrics", "created_at", "created_at, id", DateTimeOffset.UnixEpoch, old);

        var steps = await ctx.Archiver.RunAutomatedArchiveAsync("performance_metrics", 2, cancellationToken: Ct);
        var objects = await ctx.Archiver.ListS3ArchivesAsync(cancellationToken: Ct);
        var checks = await ctx.Archiver.VerifyArchivesAsync(cancellationToken: Ct);
        var listed = await ctx.Archiver.ListLocalArchivesAsync(cancellationToken: Ct);
        // Every local file has a verified remote copy, so cleanup may delete them all (files and manifests).
        var cleanup = await ctx.Archiver.CleanupLocalArchivesAsync(null, 0, cancellationToken: Ct);
        var left = Directory.EnumerateFiles(ctx.Options.BasePath, "*", SearchOption.AllDirectories).ToList();

        var restored = await ctx.Archiver.RestoreRangeAsync("performance_metrics", DateTimeOffset.UnixEpoch, old, Ct);

        Assert.True(steps.Count >= 3);
        Assert.Equal(steps.Count, checks.Count);
        Assert.All(checks, c => Assert.True(c.Ok, $"{c.Local} / {c.Remote}"));
        Assert.Equal(steps.Select(s => s.ArchiveId).Order(), listed.Select(a => a.Manifest.Id).Order());
        Assert.Equal(steps.Count, cleanup.Deleted.Count);
        Assert.Empty(left);
        Assert.All(steps, s => Assert.True(s.Dropped, s.Outcome));
        Assert.Equal(steps.Count, objects.Count);
        Assert.All(objects, o => Assert.Matches(@"^archives/table=performance_metrics/year=\d{4}/month=\d{2}/performance_metrics_[^/]+\.parquet$", o.Key));
        var keys = await ctx.S3!.ListObjectsV2Async(new Amazon.S3.Model.ListObjectsV2Request { BucketName = ctx.Options.S3Bucket }, Ct);
        Assert.Equal(steps.Count, keys.S3Objects.Count(o => o.Key.Split('/')[^1].StartsWith('_') && o.Key.EndsWith(".manifest.json", StringComparison.Ordinal)));
        Assert.All(restored, r => Assert.Equal(r.RowsInArchive, r.RowsRestored));
        Assert.Equal(before, await Md5OfRowsAsync(ctx.DataSource, "performance_metrics", "created_at", "created_at, id", DateTimeOffset.UnixEpoch, old));
    }

    [Fact]
    public async Task An_old_applications_extra_columns_and_rows_before_1970_round_trip_and_DuckDB_reads_them()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "parquet_extra", withS3: false);
        await ctx.HoldRetentionAsync();
        // Columns a Django application may have added: a uuid, a flag, a fixed-width code, a signed amount, a text.
        await ctx.DataSource.ExecuteAsync(
            "ALTER TABLE performance_metrics ADD COLUMN request_id uuid, ADD COLUMN ok boolean, ADD COLUMN region char(4), ADD COLUMN amount numeric(12,4), ADD COLUMN note text");
        await ctx.DataSource.ExecuteAsync(
            """
            INSERT INTO performance_metrics (created_at, metric_name, value, request_id, ok, region, amount, note)
            SELECT '1969-12-31 23:59:59.999999+00'::timestamptz - n * interval '37 minutes 0.000001 seconds', 'old', -n * 1.5,
                   CASE WHEN n % 3 = 0 THEN NULL ELSE md5(n::text)::uuid END, CASE n % 3 WHEN 0 THEN NULL WHEN 1 THEN true ELSE false END,
                   CASE WHEN n % 2 = 0 THEN 'eu' ELSE 'us-e' END, CASE WHEN n % 5 = 0 THEN NULL ELSE -n * 12.3456 END, CASE WHEN n % 4 = 0 THEN '' ELSE 'ü ' || n END
            FROM generate_series(0, 3000) n
            """);
        var (start, end) = (new DateTimeOffset(1969, 10, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(1970, 1, 1, 0, 0, 0, TimeSpan.Zero));
        const string Columns = "id, created_at, metric_name, value, request_id, ok, region, amount, note";
        var fromDatabase = await CanonicalRowsAsync(ctx.DataSource, $"SELECT {Columns} FROM performance_metrics WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, id", start, end);
        var before = await Md5OfRowsAsync(ctx.DataSource, "performance_metrics", "created_at", "created_at, id", start, end);

        var archive = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("performance_metrics", start, end, ArchiveFormat.Parquet), cancellationToken: Ct);
        var fromDuckDb = await DuckRowsAsync($"SELECT {Columns} FROM read_parquet('{archive.LocalPath}') ORDER BY created_at, id");
        await ctx.DataSource.ExecuteAsync("DELETE FROM performance_metrics");
        await ctx.Archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: Ct);

        Assert.Equal(3001, fromDatabase.Count);
        Assert.Equal(fromDatabase, fromDuckDb);
        Assert.Contains($"{Path.DirectorySeparatorChar}year=1969{Path.DirectorySeparatorChar}month=10{Path.DirectorySeparatorChar}", archive.LocalPath, StringComparison.Ordinal);
        Assert.Equal(before, await Md5OfRowsAsync(ctx.DataSource, "performance_metrics", "created_at", "created_at, id", start, end));
    }

    [Fact]
    public async Task A_column_without_an_exact_parquet_type_is_refused_by_name_and_csv_still_archives_it()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "parquet_refuse", withS3: false);
        // As an older application may have left it: a free numeric column beside ours.
        await ctx.DataSource.ExecuteAsync("ALTER TABLE performance_metrics ADD COLUMN legacy_score numeric, ADD COLUMN legacy_total numeric(30,2)");
        await ctx.SeedMetricsAsync(1);
        var (start, end) = (DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddMinutes(1));

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("performance_metrics", start, end, ArchiveFormat.Parquet), cancellationToken: Ct));
        var csv = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("performance_metrics", start, end, ArchiveFormat.CsvGzip), cancellationToken: Ct);

        Assert.Contains("legacy_score numeric:", refused.Message, StringComparison.Ordinal);
        Assert.Contains("legacy_total numeric(30,2): a precision above 28", refused.Message, StringComparison.Ordinal);
        Assert.Contains("--format csv", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM financehub.archives WHERE local_path LIKE '%.parquet'"));
        Assert.Empty(Directory.EnumerateFiles(ctx.Options.BasePath, "*.parquet*", SearchOption.AllDirectories));
        Assert.Equal("csv+gzip", csv.Manifest.Format);
    }

    [Fact]
    public async Task A_damaged_parquet_archive_is_refused_and_nothing_is_restored()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "parquet_bad", withS3: false);
        await ctx.SeedMetricsAsync(1);
        var archive = await ctx.Archiver.ArchiveTableAsync(
            new ArchiveRequest("performance_metrics", DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddMinutes(1), ArchiveFormat.Parquet), cancellationToken: Ct);
        await ctx.DataSource.ExecuteAsync("DELETE FROM performance_metrics");
        var bytes = await File.ReadAllBytesAsync(archive.LocalPath!, Ct);
        var manifestPath = Path.Combine(Path.GetDirectoryName(archive.LocalPath)!, "_" + archive.Manifest.DataFile.Replace(".parquet", ".manifest.json", StringComparison.Ordinal));
        var manifest = await File.ReadAllTextAsync(manifestPath, Ct);

        // A flipped byte: the manifest's SHA-256 refuses the file before it is read.
        bytes[bytes.Length / 2] ^= 0x5A;
        await File.WriteAllBytesAsync(archive.LocalPath!, bytes, Ct);
        var flipped = await Assert.ThrowsAsync<ArchiveIntegrityException>(() => ctx.Archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: Ct));

        // The same file with a manifest rewritten to vouch for it, and a file cut short: the Parquet reader, or the check of
        // the staged rows against the row count and content checksum, refuses it, and the COPY keeps nothing.
        var refused = new List<string>();
        foreach (var damaged in new[] { bytes, bytes[..(bytes.Length * 2 / 3)] })
        {
            await File.WriteAllBytesAsync(archive.LocalPath!, damaged, Ct);
            await File.WriteAllTextAsync(manifestPath, manifest
                .Replace(archive.Manifest.FileSha256, Convert.ToHexStringLower(SHA256.HashData(damaged)), StringComparison.Ordinal)
                .Replace($"\"fileSize\": {archive.Manifest.FileSize}", $"\"fileSize\": {damaged.Length}", StringComparison.Ordinal), Ct);
            refused.Add((await Assert.ThrowsAsync<ArchiveIntegrityException>(() => ctx.Archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: Ct))).Message);
        }

        Assert.Contains("does not match its manifest", flipped.Message, StringComparison.Ordinal);
        Assert.All(refused, m => Assert.DoesNotContain("does not match its manifest", m, StringComparison.Ordinal));
        Assert.All(refused, m => Assert.True(m.Contains("corrupt or truncated", StringComparison.Ordinal) || m.Contains("not what was archived", StringComparison.Ordinal), m));
        Assert.Equal(0L, await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM performance_metrics"));
    }

    [Fact]
    public async Task The_cli_archives_with_format_parquet_and_restores_the_file_and_a_wrong_format_is_a_usage_error()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "parquet_cli", withS3: false);
        await ctx.SeedMetricsAsync(1);
        var before = await Md5OfRowsAsync(ctx.DataSource, "performance_metrics", "created_at", "created_at, id", DateTimeOffset.UnixEpoch, DateTimeOffset.MaxValue.AddYears(-1));
        var tool = typeof(FinanceHub.Data.Cli.CliApplication).Assembly.Location;
        var env = new Dictionary<string, string?> { ["ARCHIVE_BASE_PATH"] = ctx.Options.BasePath, ["ARCHIVE_S3_BUCKET"] = "", ["ARCHIVE_FORMAT"] = null };
        var (from, to) = (DateTimeOffset.UtcNow.AddDays(-2).ToString("O"), DateTimeOffset.UtcNow.AddMinutes(1).ToString("O"));

        var archived = await Processes.RunAsync("dotnet", [tool, "archive", "performance_metrics", "--from", from, "--to", to, "--format", "parquet", "--json", "--connection", ctx.ConnectionString], environment: env);
        Assert.True(archived.ExitCode == 0, archived.Error);
        using var json = System.Text.Json.JsonDocument.Parse(archived.Output);
        var path = json.RootElement.GetProperty("localPath").GetString()!;
        await ctx.DataSource.ExecuteAsync("DELETE FROM performance_metrics");
        var restored = await Processes.RunAsync("dotnet", [tool, "restore", path, "--connection", ctx.ConnectionString], environment: env);
        var wrong = await Processes.RunAsync("dotnet", [tool, "archive", "performance_metrics", "--from", from, "--to", to, "--format", "orc", "--connection", ctx.ConnectionString], environment: env);

        Assert.EndsWith(".parquet", path, StringComparison.Ordinal);
        Assert.Contains($"table=performance_metrics{Path.DirectorySeparatorChar}year=", path, StringComparison.Ordinal);
        Assert.Equal("parquet", json.RootElement.GetProperty("manifest").GetProperty("format").GetString());
        Assert.True(restored.ExitCode == 0, restored.Error);
        Assert.Equal(before, await Md5OfRowsAsync(ctx.DataSource, "performance_metrics", "created_at", "created_at, id", DateTimeOffset.UnixEpoch, DateTimeOffset.MaxValue.AddYears(-1)));
        Assert.Equal(2, wrong.ExitCode);
        Assert.Contains("'orc', which is not an archive format. Use csv (gzip CSV) or parquet", wrong.Error, StringComparison.Ordinal);
    }

    /// <summary>
    /// A week of March 2026 and a few days of February with what real rows have: NULLs, prices with eight decimals, volumes
    /// near numeric(28,8)'s limit, quotes, commas, line breaks and non-ASCII text, IPv4 and IPv6 addresses.
    /// </summary>
    private static async Task SeedAsync(NpgsqlDataSource dataSource, string table)
    {
        const string Range = "generate_series('2026-02-26'::timestamptz, '2026-03-08'::timestamptz - interval '1 second', interval '5 minutes') WITH ORDINALITY g(t, n)";
        switch (table)
        {
            case "asset_prices_historic":
                await dataSource.ExecuteAsync(
                    "INSERT INTO assets (symbol, asset_type, quote_currency, is_active) SELECT 'PQ' || i, 'Crypto', 'USD', true FROM generate_series(1, 2) i");
                await dataSource.ExecuteAsync(
                    $"""
                    INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, adjusted_close, volume, trade_count, source)
                    SELECT a.id, t, 100 + n / 7.0, 101 + n * 0.00000001, CASE WHEN n % 9 = 0 THEN -99.12345678 ELSE 99.12345678 END, 100.5 + (n % 13) * 0.125,
                           CASE WHEN n % 4 = 0 THEN NULL WHEN n % 4 = 1 THEN -0.00000001 ELSE 100.4999 END,
                           CASE WHEN n % 97 = 0 THEN 99999999999999999999.99999999 ELSE n * 1.5 END,
                           CASE WHEN n % 3 = 0 THEN NULL ELSE n::int END,
                           CASE WHEN n % 5 = 0 THEN NULL WHEN n % 5 = 1 THEN '' ELSE 'feed, "x" ' || a.symbol END
                    FROM {Range} CROSS JOIN assets a
                    """);
                break;
            case "performance_metrics":
                await dataSource.ExecuteAsync(
                    $"""
                    INSERT INTO performance_metrics (created_at, metric_name, value, unit, service, host, asset_id)
                    SELECT t, 'latency.p' || (n % 3), CASE WHEN n % 11 = 0 THEN -0.0 ELSE n * pi() END,
                           CASE WHEN n % 2 = 0 THEN NULL ELSE 'ms' END, 'svc ' || E'\n' || 'ü', NULL, CASE WHEN n % 7 = 0 THEN NULL ELSE (n % 50)::int END
                    FROM {Range}
                    """);
                break;
            default:
                await dataSource.ExecuteAsync(
                    $"""
                    INSERT INTO api_usage_logs (created_at, endpoint, method, status_code, duration_ms, caller_id, client_ip, user_agent, request_bytes, response_bytes)
                    SELECT t, '/api/v1/prices?symbols=BTC,ETH', 'GET', (200 + n % 5)::smallint, n / 3.0,
                           CASE WHEN n % 2 = 0 THEN NULL ELSE 'key, "quoted"' END,
                           CASE n % 4 WHEN 0 THEN NULL WHEN 1 THEN '10.1.2.3'::inet WHEN 2 THEN '10.1.0.0/16'::inet ELSE ('2001:db8::' || (n % 500)::text)::inet END,
                           '', CASE WHEN n % 4 = 0 THEN NULL ELSE n * 1024 END, 9007199254740993
                    FROM {Range}
                    """);
                break;
        }
    }

    /// <summary>An md5 over the rows' text in order, computed by PostgreSQL alone.</summary>
    private static Task<string> Md5OfRowsAsync(NpgsqlDataSource dataSource, string table, string time, string order, DateTimeOffset start, DateTimeOffset end)
        => dataSource.ScalarAsync<string>($"SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY {order}), '')) FROM {table} t WHERE {time} >= $1 AND {time} < $2", start, end);

    private static async Task<List<string>> CanonicalRowsAsync(NpgsqlDataSource dataSource, string sql, params object[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await using var reader = await command.ExecuteReaderAsync(Ct);
        return await ReadCanonicalAsync(reader);
    }

    private static async Task<List<string>> DuckRowsAsync(string sql, string? setup = null)
    {
        await using var connection = new DuckDBConnection("DataSource=:memory:");
        await connection.OpenAsync(Ct);
        if (setup is not null)
        {
            await using var set = connection.CreateCommand();
            set.CommandText = setup;
            await set.ExecuteNonQueryAsync(Ct);
        }

        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync(Ct);
        return await ReadCanonicalAsync(reader);
    }

    /// <summary>Each row as one line: values in a form both readers agree on when the values are equal.</summary>
    private static async Task<List<string>> ReadCanonicalAsync(System.Data.Common.DbDataReader reader)
    {
        var rows = new List<string>();
        var values = new object[reader.FieldCount];
        while (await reader.ReadAsync(Ct))
        {
            reader.GetValues(values);
            for (var i = 0; i < values.Length; i++)
            {
                // Npgsql's default for inet is an IPAddress, which drops a network's mask: read it whole.
                if (reader is NpgsqlDataReader npgsql && npgsql.GetDataTypeName(i) == "inet" && !npgsql.IsDBNull(i))
                {
                    values[i] = npgsql.GetFieldValue<NpgsqlTypes.NpgsqlInet>(i);
                }
            }

            rows.Add(string.Join('|', values.Select(Canonical)));
        }

        return rows;
    }

    private static string Canonical(object? value) => value switch
    {
        null or DBNull => "∅",
        decimal d => d.ToString("0.############################", CultureInfo.InvariantCulture),
        double x => x.ToString("R", CultureInfo.InvariantCulture),
        DateTime t => (t.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(t, DateTimeKind.Utc) : t.ToUniversalTime()).ToString("O", CultureInfo.InvariantCulture),
        DateTimeOffset o => o.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
        System.Numerics.BigInteger or short or int or long or bool => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        // An address as Npgsql reads it: bare for a single host (what engines compare with), with its mask for a network.
        System.Net.IPAddress address => address.ToString(),
        NpgsqlTypes.NpgsqlInet inet => inet.Netmask == (inet.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)
            ? inet.Address.ToString() : $"{inet.Address}/{inet.Netmask}",
        Guid guid => guid.ToString("D"),
        string s => s,
        _ => Convert.ToString(value, CultureInfo.InvariantCulture)!,
    };

    private static string Sha256(List<string> rows) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', rows))));
}
