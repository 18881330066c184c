using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using FinanceHub.Data.Querying;
using FinanceHub.Data.Tests.Infrastructure;
using Npgsql;

namespace FinanceHub.Data.Tests.Ingest;

/// <summary>
/// What ingest tests compare with, made without the product: price CSV files written here, the rows of a file as the
/// server itself parses it (a text COPY of the CSV into a scratch table), and candles computed by plain SQL over raw rows.
/// </summary>
internal static class IngestOracle
{
    /// <summary>Writes ten-minute bars of <paramref name="assets"/> assets (S1..) from <paramref name="start"/> for <paramref name="days"/> days.</summary>
    public static async Task<string> WriteCsvAsync(string path, DateTimeOffset start, int days, int assets, int seed, int stepMinutes = 10)
    {
        var text = new StringBuilder("symbol,date,open,high,low,close,volume,trade_count\n");
        for (var a = 1; a <= assets; a++)
        {
            for (var m = 0; m < days * 1440; m += stepMinutes)
            {
                var p = 100m + a + ((m + seed) % 97) / 10m;
                text.Append(CultureInfo.InvariantCulture,
                    $"S{a},{start.AddMinutes(m).UtcDateTime:yyyy-MM-ddTHH:mm:ssZ},{p:0.00},{p + 1.25m:0.00},{p - 1.5m:0.00},{p + 0.5m:0.00},{(m + a * seed) % 1000}.125,{m % 50}\n");
            }
        }

        await File.WriteAllTextAsync(path, text.ToString(), TestContext.Current.CancellationToken);
        return path;
    }

    /// <summary>The CLI's default load key for a file: its SHA-256, computed here.</summary>
    public static string LoadKey(string path) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>An md5 over the file's rows in [from, to) in key order, the server parsing the CSV (COPY ... FORMAT csv), values as the price table stores them.</summary>
    public static async Task<string> CsvMd5Async(NpgsqlDataSource dataSource, string path, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using (var create = new NpgsqlCommand(
                         "CREATE TEMP TABLE csv_rows (symbol text, date timestamptz, open numeric, high numeric, low numeric, close numeric, volume numeric, trade_count int)",
                         connection))
        {
            await create.ExecuteNonQueryAsync(ct);
        }

        await using (var writer = await connection.BeginTextImportAsync("COPY csv_rows FROM STDIN (FORMAT csv, HEADER true)", ct))
        {
            await writer.WriteAsync(await File.ReadAllTextAsync(path, ct));
        }

        await using var md5 = new NpgsqlCommand(
            """
            SELECT md5(string_agg(concat_ws('|', symbol, date, open::numeric(20,8), high::numeric(20,8), low::numeric(20,8), close::numeric(20,8),
                                            volume::numeric(28,8), trade_count), ',' ORDER BY symbol, date))
            FROM csv_rows WHERE date >= coalesce($1, '-infinity') AND date < coalesce($2, 'infinity')
            """, connection)
        {
            Parameters = { Ts(from), Ts(to) },
        };
        return (string)(await md5.ExecuteScalarAsync(ct))!;
    }

    /// <summary>The same md5 over the price table's rows (joined to their symbols) in [from, to).</summary>
    public static async Task<string?> TableMd5Async(NpgsqlDataSource dataSource, DateTimeOffset? from = null, DateTimeOffset? to = null)
        => (await dataSource.QueryAsync(
            """
            SELECT md5(string_agg(concat_ws('|', a.symbol, p.date, p.open, p.high, p.low, p.close, p.volume, p.trade_count), ',' ORDER BY a.symbol, p.date))
            FROM asset_prices_historic p JOIN assets a ON a.id = p.asset_id
            WHERE p.date >= coalesce($1, '-infinity') AND p.date < coalesce($2, 'infinity')
            """, Ts(from), Ts(to)))[0][0] as string;

    /// <summary>Candles of <paramref name="symbol"/> by plain SQL over the raw rows: first open, max high, min low, last close, summed volume.</summary>
    public static async Task<List<(DateTimeOffset Bucket, decimal Open, decimal High, decimal Low, decimal Close, decimal Volume)>> SqlCandlesAsync(
        NpgsqlDataSource dataSource, string symbol, string width, DateTimeOffset from, DateTimeOffset to)
    {
        var rows = await dataSource.QueryAsync(
            $"""
            SELECT date_bin(interval '{width}', p.date, timestamptz '2000-01-03 00:00+00') AS bucket,
                   (array_agg(p.open ORDER BY p.date))[1], max(p.high), min(p.low), (array_agg(p.close ORDER BY p.date DESC))[1], sum(p.volume)
            FROM asset_prices_historic p JOIN assets a ON a.id = p.asset_id
            WHERE a.symbol = $1 AND p.date >= $2 AND p.date < $3
            GROUP BY 1 ORDER BY 1
            """, symbol, from, to);
        return [.. rows.Select(r => (((DateTime)r[0]!).ToUniversalTime() is var b ? new DateTimeOffset(b, TimeSpan.Zero) : default,
            (decimal)r[1]!, (decimal)r[2]!, (decimal)r[3]!, (decimal)r[4]!, (decimal)r[5]!))];
    }

    /// <summary>Candles as the product serves them (aggregates where materialized), in the oracle's shape.</summary>
    public static async Task<List<(DateTimeOffset Bucket, decimal Open, decimal High, decimal Low, decimal Close, decimal Volume)>> ServedCandlesAsync(
        TimeSeriesRepository repository, string symbol, string interval, DateTimeOffset from, DateTimeOffset to)
        => [.. (await repository.GetOhlcvAsync(symbol, interval, from, to, cancellationToken: TestContext.Current.CancellationToken)).Candles
            .Select(c => (c.Bucket.ToUniversalTime(), c.Open, c.High, c.Low, c.Close, c.Volume))];

    private static NpgsqlParameter Ts(DateTimeOffset? value)
        => new() { Value = (object?)value?.UtcDateTime ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz };
}
