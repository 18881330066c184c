using System.IO.Compression;
using System.Text;
using FinanceHub.Data.Archiving;
using FinanceHub.Data.Tests.Infrastructure;

namespace FinanceHub.Data.Tests.Archiving;

/// <summary>
/// The csv-line-hash content checksum: the exporter sums PostgreSQL's hash of each CSV line over the bytes it compresses,
/// the database computes the same over rows. Oracles: the server's own <c>hashtextextended</c> over lines split by a
/// reader of this test's own, and an md5 over the rows in plain SQL.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class ContentChecksumTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_hash_is_the_servers_hashtextextended_for_every_length_seed_and_encoding_width()
    {
        var random = new Random(20261203);
        string[] pieces = ["a", "Z", "0", ",", "\"", "\n", "\r", "\\", " ", "é", "€", "𝄞", "ü"];
        var texts = new List<string>();
        var seeds = new List<long>();
        for (var length = 0; length < 80; length++)
        {
            for (var k = 0; k < 4; k++)
            {
                var text = new StringBuilder();
                while (Encoding.UTF8.GetByteCount(text.ToString()) < length)
                {
                    text.Append(pieces[random.Next(pieces.Length)]);
                }

                texts.Add(text.ToString());
                seeds.Add(k == 0 ? 0 : random.NextInt64(long.MinValue, long.MaxValue));
            }
        }

        texts.Add(new string('x', 5000));
        seeds.Add(0);
        var server = await fixture.DataSource.QueryAsync(
            """SELECT hashtextextended(t COLLATE "C", s) FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY u(t, s, n) ORDER BY n""",
            texts.ToArray(), seeds.ToArray());

        var ours = texts.Select((t, i) => PostgresHash.HashBytesExtended(Encoding.UTF8.GetBytes(t), (ulong)seeds[i])).ToList();
        Assert.Equal(server.Select(r => (long)r[0]!).ToList(), ours);
        Assert.Equal(texts.Count, ours.Distinct().Count());
    }

    [Fact]
    public async Task A_csv_export_states_the_servers_hash_of_its_lines_and_restores_awkward_values_exactly()
    {
        // Awkward values, then enough rows (about 7 MiB of CSV, quoted line breaks every fifth row) for several of the
        // compressor's 4 MiB blocks, each cut at a row end.
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "checksum_csv_lines", withS3: false);
        var at = new DateTimeOffset(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
        await ctx.DataSource.ExecuteAsync(
            """
            INSERT INTO api_usage_logs (created_at, endpoint, method, status_code, duration_ms, caller_id, client_ip, user_agent, request_bytes, response_bytes)
            VALUES ($1, '/a,b', 'GET', 200, 'NaN', 'key, "quoted"', '10.1.2.3', E'line\nbreak', 0, NULL),
                   ($1 + interval '1 microsecond', '"', 'POST', 201, 'Infinity', '\N', '::1', E'crlf\r\nend', NULL, -1),
                   ($1 + interval '0.5 seconds', '', 'PUT', 404, '-Infinity', NULL, NULL, '\.', 1, 2),
                   ($1 + interval '1 second', 'ünïcödé €', 'GET', 500, 1e-300, '', '2001:db8::1/128', E'\r', 9223372036854775807, 3),
                   ($1 + interval '2 seconds', E'\n', 'GET', 503, 0.30000000000000004, ' ', '192.168.0.0/16', 'plain', 5, 6)
            """, at);
        await ctx.DataSource.ExecuteAsync(
            """
            INSERT INTO api_usage_logs (created_at, endpoint, method, status_code, duration_ms, caller_id, client_ip, user_agent, request_bytes)
            SELECT $1 + i * interval '1 second', '/api/v1/prices', 'GET', 200, i / 7.0, CASE WHEN i % 3 = 0 THEN NULL ELSE 'k' || i END, '10.0.0.1',
                   CASE WHEN i % 5 = 0 THEN E'multi\nline, "quoted" agent ' || i ELSE 'ua' END, i
            FROM generate_series(3, 80000) i
            """, at);
        var (start, end) = (at.AddMinutes(-1), at.AddDays(1));
        var before = await ctx.ApiUsageLogsMd5Async(start, end);

        var archive = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("api_usage_logs", start, end), cancellationToken: Ct);

        // The file's lines, split here character by character, hashed by the server.
        var lines = await ReadLinesAsync(archive.LocalPath!);
        var byServer = (await ctx.DataSource.QueryAsync(
            """SELECT count(*), coalesce(sum(hashtextextended(l COLLATE "C", 0)), 0)::text FROM unnest($1::text[]) l""", (object)lines.Skip(1).ToArray()))[0];
        Assert.Equal("csv-line-hash", archive.Manifest.ContentChecksumAlgorithm);
        Assert.Equal((before.Rows, before.Rows), ((long)byServer[0]!, archive.Manifest.RowCount));
        Assert.Equal((string)byServer[1]!, archive.Manifest.ContentChecksum);
        Assert.Contains(lines, l => l.Contains("\"crlf\r\nend\"", StringComparison.Ordinal));
        Assert.Equal("csv-line-hash", await ctx.DataSource.ScalarAsync<string>(
            "SELECT content_checksum_algorithm FROM financehub.archives WHERE id = $1", archive.Manifest.Id));

        // The database's computation over the rows agrees, under any session settings (the function sets its own).
        var columns = archive.Manifest.Columns.Select(c => c.Name).ToArray();
        object[] inDatabase;
        await using (var connection = await ctx.DataSource.OpenConnectionAsync(Ct))
        {
            await using (var set = new Npgsql.NpgsqlCommand("SET TimeZone = 'America/New_York'; SET DateStyle = 'SQL, DMY'; SET extra_float_digits = 0", connection))
            {
                await set.ExecuteNonQueryAsync(Ct);
            }

            await using var command = new Npgsql.NpgsqlCommand(
                """SELECT row_count, checksum::text FROM financehub.content_checksum_csv('api_usage_logs', 'created_at', $1, $2, $3::name[], '\N')""", connection)
            {
                Parameters = { new() { Value = start }, new() { Value = end }, new() { Value = columns } },
            };
            await using var reader = await command.ExecuteReaderAsync(Ct);
            await reader.ReadAsync(Ct);
            inDatabase = [reader.GetInt64(0), reader.GetString(1)];
        }

        Assert.Equal((archive.Manifest.RowCount, archive.Manifest.ContentChecksum), ((long)inDatabase[0]!, (string)inDatabase[1]!));

        // Restore verifies through that computation; the rows come back exactly.
        await ctx.DataSource.ExecuteAsync("DELETE FROM api_usage_logs WHERE created_at >= $1 AND created_at < $2", start, end);
        var restored = await ctx.Archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: Ct);
        Assert.Equal(before.Rows, restored.RowsRestored);
        Assert.Equal(before, await ctx.ApiUsageLogsMd5Async(start, end));
    }

    [Fact]
    public async Task The_databases_line_checksum_changes_with_any_value_and_comes_back_with_it()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "checksum_csv_change", withS3: false);
        var at = new DateTimeOffset(2026, 11, 3, 9, 0, 0, TimeSpan.Zero);
        await ctx.DataSource.ExecuteAsync(
            """
            INSERT INTO api_usage_logs (created_at, endpoint, method, status_code, duration_ms, caller_id, client_ip, user_agent, request_bytes)
            SELECT $1 + i * interval '1 minute', '/p', 'GET', 200, 1.5, 'a,b', '10.0.0.1', 'ua', i FROM generate_series(1, 50) i
            """, at);
        var (start, end) = (at, at.AddDays(1));
        var archive = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("api_usage_logs", start, end), cancellationToken: Ct);
        var columns = archive.Manifest.Columns.Select(c => c.Name).ToArray();
        const string InDatabase = """SELECT checksum::text FROM financehub.content_checksum_csv('api_usage_logs', 'created_at', $1, $2, $3::name[], '\N')""";

        Assert.Equal(archive.Manifest.ContentChecksum, await ctx.DataSource.ScalarAsync<string>(InDatabase, start, end, columns));
        foreach (var change in new[] { "caller_id = 'a;b'", "caller_id = NULL", "duration_ms = 1.5000001", "client_ip = '10.0.0.1/31'" })
        {
            await ctx.DataSource.ExecuteAsync($"UPDATE api_usage_logs SET {change} WHERE request_bytes = 17");
            Assert.NotEqual(archive.Manifest.ContentChecksum, await ctx.DataSource.ScalarAsync<string>(InDatabase, start, end, columns));
            await ctx.DataSource.ExecuteAsync("UPDATE api_usage_logs SET caller_id = 'a,b', duration_ms = 1.5, client_ip = '10.0.0.1' WHERE request_bytes = 17");
        }

        Assert.Equal(archive.Manifest.ContentChecksum, await ctx.DataSource.ScalarAsync<string>(InDatabase, start, end, columns));
    }

    [Fact]
    public async Task A_database_not_in_utf8_gets_the_record_hash_and_its_archives_restore_exactly()
    {
        // A LATIN1 database (old installations have them): the server hashes LATIN1 bytes, COPY sends UTF-8.
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "checksum_latin1", withS3: false,
            "TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'");
        var at = new DateTimeOffset(2026, 11, 4, 9, 0, 0, TimeSpan.Zero);
        await ctx.DataSource.ExecuteAsync(
            """
            INSERT INTO api_usage_logs (created_at, endpoint, method, status_code, duration_ms, caller_id, client_ip, user_agent, request_bytes)
            SELECT $1 + i * interval '1 minute', 'café ' || i, 'GET', 200, 1.5, 'näh, "x"', '10.0.0.1', E'ü\n', i FROM generate_series(1, 30) i
            """, at);
        var (start, end) = (at, at.AddDays(1));
        var before = await ctx.ApiUsageLogsMd5Async(start, end);

        var archive = await ctx.Archiver.ArchiveTableAsync(new ArchiveRequest("api_usage_logs", start, end), cancellationToken: Ct);
        await ctx.DataSource.ExecuteAsync("DELETE FROM api_usage_logs WHERE created_at >= $1 AND created_at < $2", start, end);
        var restored = await ctx.Archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: Ct);

        Assert.Equal("LATIN1", await ctx.DataSource.ScalarAsync<string>("SELECT current_setting('server_encoding')"));
        Assert.Equal("record-hash", archive.Manifest.ContentChecksumAlgorithm);
        Assert.Equal((30L, 30L), (before.Rows, restored.RowsRestored));
        Assert.Equal(before, await ctx.ApiUsageLogsMd5Async(start, end));
        Assert.Contains(await ReadLinesAsync(archive.LocalPath!), l => l.Contains("café 7", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Blocks_cut_at_row_ends_sum_every_row_once_even_rows_longer_than_a_block()
    {
        // Rows with quoted line breaks, and one of 9 MiB (more than two of the compressor's 4 MiB blocks).
        var text = new StringBuilder("id,\"odd\nname\",v\n");
        for (var i = 0; i < 60_000; i++)
        {
            text.Append(i).Append(i % 5 == 0 ? ",\"a\nb\"," : ",plain,").Append(i == 30_000 ? "\"" + new string('y', 9 << 20) + "\n\"" : "v").Append('\n');
        }

        var csv = Encoding.UTF8.GetBytes(text.ToString());
        var expected = ReferenceRows(csv).Skip(1).ToList();
        var checksum = new ContentChecksum.CsvLines();
        using var compressed = new MemoryStream();

        await ParallelGzip.CompressAsync(new MemoryStream(csv), compressed, 2, checksum, null, Ct);

        Assert.Equal(60_000, expected.Count);
        Assert.Equal(expected.Count, checksum.Rows);
        Assert.Equal(expected.Aggregate(Int128.Zero, (sum, row) => sum + PostgresHash.HashBytesExtended(row)).ToString(System.Globalization.CultureInfo.InvariantCulture),
            checksum.Checksum);
        compressed.Position = 0;
        using var back = new MemoryStream();
        await using (var gzip = new GZipStream(compressed, CompressionMode.Decompress))
        {
            await gzip.CopyToAsync(back, Ct);
        }

        Assert.Equal(csv, back.ToArray());
    }

    /// <summary>A CSV's lines (rows; a line break inside quotes belongs to its value), character by character.</summary>
    private static List<byte[]> ReferenceRows(byte[] csv)
    {
        var rows = new List<byte[]>();
        var (quoted, start) = (false, 0);
        for (var i = 0; i < csv.Length; i++)
        {
            if (csv[i] == '"')
            {
                quoted = !quoted;
            }
            else if (csv[i] == '\n' && !quoted)
            {
                rows.Add(csv[start..i]);
                start = i + 1;
            }
        }

        return rows;
    }

    private static async Task<List<string>> ReadLinesAsync(string path)
    {
        await using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var bytes = new MemoryStream();
        await gzip.CopyToAsync(bytes, Ct);
        return [.. ReferenceRows(bytes.ToArray()).Select(r => Encoding.UTF8.GetString(r))];
    }
}
