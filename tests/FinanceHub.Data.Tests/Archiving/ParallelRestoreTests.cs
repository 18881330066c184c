using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using FinanceHub.Data.Archiving;
using FinanceHub.Data.Tests.Infrastructure;

namespace FinanceHub.Data.Tests.Archiving;

/// <summary>
/// Restores of archived and dropped price ranges over several COPY streams (and one, to compare): the rows come back
/// exactly, the chunks made for the streams and left empty are gone again, and a file that fails halfway leaves nothing.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class ParallelRestoreTests(DatabaseFixture fixture)
{
    private static readonly DateTimeOffset Start = new(2019, 12, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset End = new(2020, 5, 1, 0, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(3, false)]
    [InlineData(2, true)]
    public async Task A_dropped_range_comes_back_exactly_in_one_transaction_per_stream(int streams, bool manifestWithoutRowTimes)
    {
        await using var ctx = await SeedAsync($"restore_streams_{streams}");
        ctx.Options.RestoreStreams = streams;
        var (rows, md5) = await ContentAsync(ctx);
        var chunks = await ChunkRangesAsync(ctx);
        var archive = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("asset_prices_historic", Start, End), cancellationToken: Ct);
        var span = (await ctx.DataSource.QueryAsync("SELECT min(date), max(date) FROM asset_prices_historic WHERE date >= $1 AND date < $2", Start, End))[0];
        Assert.Equal((DateTime)span[0]!, archive.Manifest.EarliestTime?.UtcDateTime);
        Assert.Equal((DateTime)span[1]!, archive.Manifest.LatestTime?.UtcDateTime);
        if (manifestWithoutRowTimes)
        {
            // As archives made before 0.9 are: the chunks are made for the whole range instead.
            await EditManifestAsync(archive, m => { m.Remove("earliestTime"); m.Remove("latestTime"); });
        }

        await DropRangeAsync(ctx);

        var restored = await ctx.Archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: Ct);

        Assert.Equal((rows, rows), (restored.RowsInArchive, restored.RowsRestored));
        Assert.Equal((rows, md5), await ContentAsync(ctx));
        // The chunks made for the gap between the two assets' rows were dropped again: the same chunks as before.
        Assert.Equal(chunks, await ChunkRangesAsync(ctx));
        // Rows written by as many transactions as there are streams (the file spans more blocks than streams).
        Assert.Equal(streams, await ctx.DataSource.ScalarAsync<long>(
            "SELECT count(DISTINCT xmin::text) FROM asset_prices_historic WHERE date >= $1 AND date < $2", Start, End));
    }

    [Fact]
    public async Task A_file_whose_last_rows_cannot_be_read_leaves_no_row_and_no_chunk_behind()
    {
        await using var ctx = await SeedAsync("restore_streams_bad_tail");
        var (archive, chunksAfterDrop) = await ArchiveAndDropOverTwoStreamsAsync(ctx);

        // The high price of ETH's last row (the file's last chunk) made unreadable; the manifest vouches for the new file,
        // so PostgreSQL is what finds it.
        var path = archive.LocalPath!;
        string text;
        await using (var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress))
        using (var reader = new StreamReader(gzip))
        {
            text = await reader.ReadToEndAsync(Ct);
        }

        var at = text.IndexOf(",2020-04-20 23:58:00+00,", StringComparison.Ordinal);
        var (rowStart, rowEnd) = (text.LastIndexOf('\n', at) + 1, text.IndexOf('\n', at));
        Assert.True(rowStart > text.Length / 2, "ETH's rows come after BTC's in the file");
        var fields = text[rowStart..rowEnd].Split(',');
        fields[3] = "not-a-number";
        text = text[..rowStart] + string.Join(',', fields) + text[rowEnd..];
        await using (var file = File.Create(path))
        await using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        {
            await gzip.WriteAsync(Encoding.UTF8.GetBytes(text), Ct);
        }

        var bytes = await File.ReadAllBytesAsync(path, Ct);
        await EditManifestAsync(archive, m =>
        {
            m["fileSha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
            m["fileSize"] = bytes.Length;
        });

        var error = await Assert.ThrowsAsync<ArchiveIntegrityException>(() => ctx.Archiver.RestoreFromArchiveAsync(path, cancellationToken: Ct));

        Assert.Contains("not-a-number", error.Message, StringComparison.Ordinal);
        await AssertNothingRestoredAsync(ctx, chunksAfterDrop);
    }

    [Fact]
    public async Task A_file_that_is_not_the_one_its_manifest_vouches_for_is_refused_though_its_rows_are_the_same()
    {
        await using var ctx = await SeedAsync("restore_streams_other_file");
        var (archive, chunksAfterDrop) = await ArchiveAndDropOverTwoStreamsAsync(ctx);

        // The same CSV compressed otherwise: every row reads back as archived, but the SHA-256 differs.
        var csv = new MemoryStream();
        await using (var gzip = new GZipStream(File.OpenRead(archive.LocalPath!), CompressionMode.Decompress))
        {
            await gzip.CopyToAsync(csv, Ct);
        }

        await using (var file = File.Create(archive.LocalPath!))
        await using (var gzip = new GZipStream(file, CompressionLevel.SmallestSize))
        {
            await gzip.WriteAsync(csv.ToArray(), Ct);
        }

        var error = await Assert.ThrowsAsync<ArchiveIntegrityException>(() => ctx.Archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: Ct));

        Assert.Contains("does not match its manifest", error.Message, StringComparison.Ordinal);
        await AssertNothingRestoredAsync(ctx, chunksAfterDrop);
    }

    [Fact]
    public async Task Rows_that_do_not_add_up_to_the_manifest_are_refused_and_nothing_stays()
    {
        await using var ctx = await SeedAsync("restore_streams_count");
        var (archive, chunksAfterDrop) = await ArchiveAndDropOverTwoStreamsAsync(ctx);
        // The file is the one the manifest vouches for, but the manifest claims one row more than it holds.
        await EditManifestAsync(archive, m => m["rowCount"] = archive.Manifest.RowCount + 1);

        var error = await Assert.ThrowsAsync<ArchiveIntegrityException>(() => ctx.Archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: Ct));

        Assert.Contains($"its manifest says {archive.Manifest.RowCount + 1} rows", error.Message, StringComparison.Ordinal);
        await AssertNothingRestoredAsync(ctx, chunksAfterDrop);
    }

    /// <summary>Archives the seeded range, drops its chunks, and restores over two streams from then on.</summary>
    private static async Task<(ArchiveInfo Archive, List<string> ChunksAfterDrop)> ArchiveAndDropOverTwoStreamsAsync(ArchiveTestContext ctx)
    {
        ctx.Options.RestoreStreams = 2;
        var archive = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("asset_prices_historic", Start, End), cancellationToken: Ct);
        await DropRangeAsync(ctx);
        return (archive, await ChunkRangesAsync(ctx));
    }

    /// <summary>No row in the range, and no chunk made for the restore left behind.</summary>
    private static async Task AssertNothingRestoredAsync(ArchiveTestContext ctx, List<string> chunksAfterDrop)
    {
        Assert.Equal(0, await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic WHERE date >= $1 AND date < $2", Start, End));
        Assert.Equal(chunksAfterDrop, await ChunkRangesAsync(ctx));
    }

    private static async Task EditManifestAsync(ArchiveInfo archive, Action<JsonObject> edit)
    {
        var path = Directory.GetFiles(Path.GetDirectoryName(archive.LocalPath!)!, "*.json").Single();
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(path, Ct))!.AsObject();
        edit(manifest);
        await File.WriteAllTextAsync(path, manifest.ToJsonString(), Ct);
    }

    /// <summary>
    /// Two assets' prices every 2 minutes, in December-January and in April, with weeks of no rows between (chunks for
    /// that gap are made for the streams and must go again), some rows with the optional columns filled in.
    /// </summary>
    private async Task<ArchiveTestContext> SeedAsync(string purpose)
    {
        var ctx = await ArchiveTestContext.CreateAsync(fixture, purpose, withS3: false);
        await ctx.HoldRetentionAsync();
        var btc = await ctx.DataSource.InsertAssetAsync("BTC");
        var eth = await ctx.DataSource.InsertAssetAsync("ETH");
        await ctx.DataSource.InsertPricesAsync(btc, Start.AddDays(3), Start.AddDays(48), TimeSpan.FromMinutes(2));
        await ctx.DataSource.InsertPricesAsync(eth, new DateTimeOffset(2020, 4, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2020, 4, 21, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromMinutes(2));
        await ctx.DataSource.ExecuteAsync(
            """
            UPDATE asset_prices_historic SET adjusted_close = close * 0.5, trade_count = 7, source = 'vendor, "x"' || chr(10) || 'ü'
            WHERE extract(minute FROM date)::int % 10 = 0
            """);
        return ctx;
    }

    private static Task<long> DropRangeAsync(ArchiveTestContext ctx)
        => ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM drop_chunks('asset_prices_historic', older_than => $1::timestamptz)", End.AddDays(60));

    private static async Task<(long Rows, string Md5)> ContentAsync(ArchiveTestContext ctx)
    {
        var row = (await ctx.DataSource.QueryAsync(
            "SELECT count(*), md5(string_agg(p::text, '|' ORDER BY asset_id, date)) FROM asset_prices_historic p WHERE date >= $1 AND date < $2", Start, End))[0];
        return ((long)row[0]!, (string)row[1]!);
    }

    private static async Task<List<string>> ChunkRangesAsync(ArchiveTestContext ctx)
        => [.. (await ctx.DataSource.QueryAsync(
                "SELECT range_start::text || ' .. ' || range_end::text FROM timescaledb_information.chunks WHERE hypertable_name = 'asset_prices_historic' ORDER BY range_start"))
            .Select(r => (string)r[0]!)];
}
