using FinanceHub.Data.Entities;
using FinanceHub.Data.Ingest;
using FinanceHub.Data.Querying;
using FinanceHub.Data.Tests.Infrastructure;
using FinanceHub.Data.Timescale;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Querying;

/// <summary>
/// The candle ladder (4-hour, weekly and monthly aggregates over the hourly and daily ones): what the rungs hold and what
/// candles read from them give, against plain SQL over the raw rows written here (date_trunc and array_agg ordered by
/// time: neither time_bucket nor first/last) and against the C# reference.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class CandleLadderTests(DatabaseFixture fixture)
{
    // Eight weeks and a bit, across a month end, loaded and materialized; later rows are loaded without a refresh, so
    // candles past the watermarks come from the daily aggregate and the raw rows.
    private static readonly DateTimeOffset From = new(2026, 8, 27, 5, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset To = new(2026, 10, 21, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Late = new(2026, 10, 28, 0, 0, 0, TimeSpan.Zero);
    private static readonly SemaphoreSlim InitLock = new(1, 1);
    private static (NpgsqlDataSource DataSource, string ConnectionString, List<PriceRow> Rows)? _data;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The bucket start of a row's time as plain SQL computes it in UTC (ISO weeks start on Monday), and the bucket's width.</summary>
    private static string BucketSql(string interval) => interval switch
    {
        "4hour" => "date_trunc('day', date, 'UTC') + floor(extract(hour FROM date AT TIME ZONE 'UTC') / 4) * interval '4 hours'",
        "1week" => "date_trunc('week', date, 'UTC')",
        "1month" => "date_trunc('month', date, 'UTC')",
        _ => throw new ArgumentOutOfRangeException(nameof(interval)),
    };

    private static string WidthSql(string interval) => interval switch
    {
        "4hour" => "interval '4 hours'",
        "1week" => "interval '7 days'",
        _ => "interval '1 month'",
    };

    [Theory]
    [InlineData("4hour", Aggregates.FourHour)]
    [InlineData("1week", Aggregates.Weekly)]
    [InlineData("1month", Aggregates.Monthly)]
    public async Task The_rungs_hold_the_candles_of_the_raw_rows(string interval, string view)
    {
        var (dataSource, _, _) = await SetUpAsync();

        // Every candle of the rung whose bucket lies wholly inside the loaded range, against the raw rows of its bucket, both ways.
        var mismatches = await dataSource.QueryAsync(
            $"""
            WITH raw AS (
              SELECT asset_id, {BucketSql(interval)} AS bucket, (array_agg(open ORDER BY date))[1] AS open, max(high) AS high, min(low) AS low,
                     (array_agg(close ORDER BY date DESC))[1] AS close, sum(volume) AS volume, sum(coalesce(trade_count, 1)) AS trade_count
              FROM asset_prices_historic GROUP BY 1, 2)
            SELECT coalesce(raw.bucket, rung.bucket)::text FROM raw FULL JOIN {view} rung USING (asset_id, bucket)
            WHERE coalesce(raw.bucket, rung.bucket) >= $2 AND coalesce(raw.bucket, rung.bucket) + {WidthSql(interval)} <= $1
              AND (raw.open, raw.high, raw.low, raw.close, raw.volume, raw.trade_count)
                  IS DISTINCT FROM (rung.open, rung.high, rung.low, rung.close, rung.volume, rung.trade_count)
            """, To, From);
        var held = await dataSource.ScalarAsync<long>($"SELECT count(*) FROM {view} WHERE bucket < $1", To);

        Assert.Empty(mismatches.Select(r => r[0]));
        Assert.True(held >= 2, $"{view} holds {held} candles below {To:O}: the ladder was not materialized");
    }

    [Theory]
    [InlineData("4hour", Aggregates.FourHour)]
    [InlineData("1week", Aggregates.Weekly)]
    [InlineData("1month", Aggregates.Monthly)]
    public async Task Candles_are_served_by_the_rung_and_equal_plain_sql_over_the_raw_rows(string interval, string view)
    {
        var (dataSource, _, rows) = await SetUpAsync();
        var width = BucketWidth.Parse(interval);
        // Inside buckets at both ends, and past every watermark: raw rows, the parent, the rung, the parent and raw rows again.
        var (start, end) = (From.AddDays(3).AddHours(7).AddMinutes(13), Late.AddDays(-1).AddMinutes(-31));
        var repository = new TimeSeriesRepository(dataSource, Manager(dataSource));

        var result = await repository.GetOhlcvAsync("BTC", width, start, end, cancellationToken: Ct);

        Assert.Equal(view, result.AggregateUsed);
        Assert.Equal(await PlainSqlCandlesAsync(dataSource, interval, start, end), result.Candles);
        Assert.Equal(Reference.Candles(rows.Where(r => r.Symbol == "BTC"), width, TimeZoneInfo.Utc, start, end), result.Candles);
    }

    [Fact]
    public async Task The_rungs_are_read_through_the_DbContext()
    {
        var (dataSource, _, _) = await SetUpAsync();
        await using var db = DatabaseFixture.CreateContext(dataSource);
        var btc = await db.Assets.Where(a => a.Symbol == "BTC").Select(a => a.Id).SingleAsync(Ct);

        var weeks = await db.WeeklyCandles.Where(c => c.AssetId == btc && c.Bucket <= To.AddDays(-7)).OrderBy(c => c.Bucket).ToListAsync(Ct);
        var months = await db.MonthlyCandles.CountAsync(c => c.AssetId == btc && c.Bucket < To, Ct);
        var fourHours = await db.FourHourCandles.CountAsync(c => c.AssetId == btc && c.Bucket >= To.AddDays(-2) && c.Bucket < To, Ct);

        Assert.All(weeks, w => Assert.Equal(DayOfWeek.Monday, w.Bucket.UtcDateTime.DayOfWeek));
        Assert.Equal(await dataSource.ScalarAsync<decimal>(
            "SELECT sum(volume) FROM asset_prices_historic WHERE asset_id = $1 AND date >= $2 AND date < $3", btc, weeks[1].Bucket, weeks[^1].Bucket.AddDays(7)),
            weeks.Skip(1).Sum(w => w.Volume));
        Assert.True(months >= 2, $"{months} monthly candles");
        Assert.Equal(12, fourHours);
    }

    [Fact]
    public async Task A_backfill_below_the_watermarks_reaches_every_rung()
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync("ladder_backfill", migrate: true);
        await using var _ = dataSource;
        var ingestor = Ingestor(dataSource);
        var rows = Reference.GeneratePrices("ETH", From, To, seed: 7);
        await ingestor.IngestPricesAsync(rows, new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create }, Ct);
        await RefreshParentsAsync(dataSource);
        var week = new DateTimeOffset(2026, 9, 14, 0, 0, 0, TimeSpan.Zero);
        var before = await RungVolumesAsync(dataSource, week);

        // A late print in the middle of a materialized week, month and 4 hours: the load refreshes the aggregates it touches.
        var result = await ingestor.IngestPricesAsync([new PriceRow("ETH", week.AddDays(2).AddHours(9).AddMinutes(30), 1, 99_999, 0.5m, 1, 12_345)],
            new IngestOptions { OnConflict = ConflictMode.Skip }, Ct);

        Assert.Equal(1, result.RowsWritten);
        Assert.Equal(before.Select(v => v + 12_345), await RungVolumesAsync(dataSource, week));
        var weekly = await new TimeSeriesRepository(dataSource, Manager(dataSource)).GetOhlcvAsync("ETH", BucketWidth.OneWeek, week, week.AddDays(7), cancellationToken: Ct);
        Assert.Equal(Aggregates.Weekly, weekly.AggregateUsed);
        Assert.Equal(99_999m, Assert.Single(weekly.Candles).High);
        Assert.Equal(await PlainSqlCandlesAsync(dataSource, "1week", week, week.AddDays(7), "ETH"), weekly.Candles);
    }

    [Fact]
    public async Task The_ladder_is_listed_with_its_watermarks()
    {
        var (dataSource, _, _) = await SetUpAsync();

        var aggregates = (await Manager(dataSource).GetAggregatesAsync(Ct)).ToDictionary(a => a.View);

        foreach (var rung in Aggregates.Ladder)
        {
            var watermark = Assert.IsType<DateTimeOffset>(aggregates[rung.View].MaterializedThrough);
            var parent = Assert.IsType<DateTimeOffset>(aggregates[rung.Parent].MaterializedThrough);
            // Materialized over the whole load: the last rows are in the week, month and 4 hours before To.
            Assert.True(watermark >= To.AddDays(-1), $"{rung.View} is materialized only through {watermark:O}");
            if (!fixture.IsCommunity)
            {
                // Refreshed with its parent, in its transaction.
                Assert.Equal(parent, watermark);
            }
        }
    }

    /// <summary>Weekly, monthly and 4-hour volumes held by the rungs for the buckets around <paramref name="week"/>'s Wednesday 09:30.</summary>
    private static async Task<decimal[]> RungVolumesAsync(NpgsqlDataSource dataSource, DateTimeOffset week)
    {
        var at = week.AddDays(2).AddHours(9).AddMinutes(30);
        return
        [
            await dataSource.ScalarAsync<decimal>($"SELECT volume FROM {Aggregates.Weekly} WHERE bucket = $1", week),
            await dataSource.ScalarAsync<decimal>($"SELECT volume FROM {Aggregates.Monthly} WHERE bucket = $1", new DateTimeOffset(at.Year, at.Month, 1, 0, 0, 0, TimeSpan.Zero)),
            await dataSource.ScalarAsync<decimal>($"SELECT volume FROM {Aggregates.FourHour} WHERE bucket = $1", week.AddDays(2).AddHours(8)),
        ];
    }

    /// <summary>
    /// A full refresh of the hourly and daily aggregates, what a maintenance run does: on the Apache edition the first
    /// materialization, which refreshes the rungs with them; on the community edition the load has materialized the rungs.
    /// </summary>
    private static async Task RefreshParentsAsync(NpgsqlDataSource dataSource)
    {
        foreach (var view in Aggregates.All)
        {
            await Manager(dataSource).RefreshContinuousAggregateAsync(view, cancellationToken: Ct);
        }
    }

    private static async Task<List<Candle>> PlainSqlCandlesAsync(NpgsqlDataSource dataSource, string interval, DateTimeOffset start, DateTimeOffset end, string symbol = "BTC")
    {
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT {BucketSql(interval)} AS bucket, (array_agg(p.open ORDER BY p.date))[1], max(p.high), min(p.low),
                   (array_agg(p.close ORDER BY p.date DESC))[1], sum(p.volume), sum(coalesce(p.trade_count, 1))::bigint
            FROM asset_prices_historic p JOIN assets a ON a.id = p.asset_id
            WHERE a.symbol = $1 AND p.date >= $2 AND p.date < $3
            GROUP BY 1 ORDER BY 1
            """);
        command.Parameters.Add(new() { Value = symbol });
        command.Parameters.Add(new() { Value = start });
        command.Parameters.Add(new() { Value = end });
        var candles = new List<Candle>();
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            candles.Add(new Candle(reader.GetFieldValue<DateTimeOffset>(0), reader.GetDecimal(1), reader.GetDecimal(2), reader.GetDecimal(3),
                reader.GetDecimal(4), reader.GetDecimal(5), reader.GetInt64(6)));
        }

        return candles;
    }

    private async Task<(NpgsqlDataSource DataSource, string ConnectionString, List<PriceRow> Rows)> SetUpAsync()
    {
        await InitLock.WaitAsync(Ct);
        try
        {
            if (_data is null)
            {
                var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("ladder", migrate: true);
                var rows = Reference.GeneratePrices("BTC", From, To, seed: 11);
                rows.AddRange(Reference.GeneratePrices("SOL", From, To, seed: 12));
                // Loaded with the refresh a load runs (older than every policy reaches: aggregates and rungs are
                // materialized up to where the policies stop), then later rows without one.
                await Ingestor(dataSource).IngestPricesAsync(rows, new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create }, Ct);
                await RefreshParentsAsync(dataSource);
                var late = Reference.GeneratePrices("BTC", To, Late, seed: 13);
                await Ingestor(dataSource).IngestPricesAsync(late, new IngestOptions { RefreshAggregates = false }, Ct);
                rows.AddRange(late);
                _data = (dataSource, connectionString, rows);
            }

            return _data.Value;
        }
        finally
        {
            InitLock.Release();
        }
    }
}
