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
    // Eight weeks and a bit, across month ends, loaded and materialized; later rows are loaded without a refresh, so
    // candles past the watermarks come from the parents and the raw rows.
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

    /// <summary>The end of the bucket starting at <paramref name="bucket"/>, in UTC whatever the session's zone.</summary>
    private static string BucketEndSql(string interval, string bucket) => interval switch
    {
        "4hour" => $"{bucket} + interval '4 hours'",
        "1week" => $"{bucket} + interval '168 hours'",
        _ => $"(({bucket}) AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC'",
    };

    /// <summary>
    /// Where a rung's materialized rows are: on the community edition its materialization hypertable (named by
    /// TimescaleDB's own view; the real-time view would compute missing candles from the parent), else the view itself.
    /// </summary>
    private async Task<string> StoredRowsAsync(NpgsqlDataSource dataSource, string view)
        => fixture.IsCommunity
            ? await dataSource.ScalarAsync<string>(
                "SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) FROM timescaledb_information.continuous_aggregates WHERE view_name = $1", view)
            : view;

    [Theory]
    [InlineData("4hour", Aggregates.FourHour)]
    [InlineData("1week", Aggregates.Weekly)]
    [InlineData("1month", Aggregates.Monthly)]
    public async Task The_rungs_hold_the_candles_of_the_raw_rows(string interval, string view)
    {
        var (dataSource, _, _) = await SetUpAsync();
        var stored = await StoredRowsAsync(dataSource, view);

        // Every candle of the rung whose bucket lies wholly inside the loaded range, against the raw rows of its bucket, both ways.
        var mismatches = await dataSource.QueryAsync(
            $"""
            WITH raw AS (
              SELECT asset_id, {BucketSql(interval)} AS bucket, (array_agg(open ORDER BY date))[1] AS open, max(high) AS high, min(low) AS low,
                     (array_agg(close ORDER BY date DESC))[1] AS close, sum(volume) AS volume, sum(coalesce(trade_count, 1)) AS trade_count
              FROM asset_prices_historic GROUP BY 1, 2)
            SELECT coalesce(raw.bucket, rung.bucket)::text FROM raw FULL JOIN {stored} rung USING (asset_id, bucket)
            WHERE coalesce(raw.bucket, rung.bucket) >= $2 AND {BucketEndSql(interval, "coalesce(raw.bucket, rung.bucket)")} <= $1
              AND (raw.open, raw.high, raw.low, raw.close, raw.volume, raw.trade_count)
                  IS DISTINCT FROM (rung.open, rung.high, rung.low, rung.close, rung.volume, rung.trade_count)
            """, To, From);
        var held = await dataSource.ScalarAsync<long>($"SELECT count(*) FROM {stored} WHERE bucket >= $1 AND {BucketEndSql(interval, "bucket")} <= $2", From, To);
        var whole = await dataSource.ScalarAsync<long>(
            $"SELECT count(DISTINCT (asset_id, b)) FROM (SELECT asset_id, {BucketSql(interval)} AS b FROM asset_prices_historic) x WHERE b >= $1 AND {BucketEndSql(interval, "b")} <= $2",
            From, To);

        Assert.Empty(mismatches.Select(r => r[0]));
        // Two assets, every whole bucket between From and To (September for the monthly rung), materialized.
        Assert.True(whole >= 2, $"{whole} whole buckets");
        Assert.Equal(whole, held);
    }

    [Theory]
    [InlineData("4hour", Aggregates.FourHour)]
    [InlineData("1week", Aggregates.Weekly)]
    [InlineData("1month", Aggregates.Monthly)]
    public async Task Candles_are_served_by_the_rung_and_equal_plain_sql_over_the_raw_rows(string interval, string view)
    {
        var (dataSource, _, rows) = await SetUpAsync();
        var width = BucketWidth.Parse(interval);
        // Inside buckets at both ends (Friday 2026-08-28 12:13), and past every watermark: raw rows, the parent, the rung,
        // the parent and raw rows again, none of the five empty (the fixture moved the parents' watermarks past the rungs').
        var (start, end) = (From.AddDays(1).AddHours(7).AddMinutes(13), Late.AddDays(-1).AddMinutes(-31));
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
        var september = new DateTimeOffset(2026, 9, 1, 0, 0, 0, TimeSpan.Zero);

        var weeks = await db.WeeklyCandles.Where(c => c.AssetId == btc && c.Bucket >= september && c.Bucket < september.AddDays(28)).OrderBy(c => c.Bucket).ToListAsync(Ct);
        var months = await db.MonthlyCandles.Where(c => c.AssetId == btc && c.Bucket < To).OrderBy(c => c.Bucket).ToListAsync(Ct);
        var fourHours = await db.FourHourCandles.Where(c => c.AssetId == btc && c.Bucket >= To.AddDays(-2) && c.Bucket < To).Select(c => c.Bucket).ToListAsync(Ct);

        Assert.Equal([new DateTimeOffset(2026, 9, 7, 0, 0, 0, TimeSpan.Zero), new(2026, 9, 14, 0, 0, 0, TimeSpan.Zero), new(2026, 9, 21, 0, 0, 0, TimeSpan.Zero),
            new(2026, 9, 28, 0, 0, 0, TimeSpan.Zero)], weeks.Select(w => w.Bucket));
        Assert.Equal([new DateTimeOffset(2026, 8, 1, 0, 0, 0, TimeSpan.Zero), september, new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero)], months.Select(m => m.Bucket));
        Assert.Equal(await RawVolumeAsync(dataSource, btc, september, september.AddMonths(1)), months[1].Volume);
        Assert.Equal(await RawVolumeAsync(dataSource, btc, weeks[1].Bucket, weeks[1].Bucket.AddDays(7)), weeks[1].Volume);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => To.AddDays(-2).AddHours(4 * i)), fourHours.Order());
    }

    [Fact]
    public async Task A_backfill_below_the_watermarks_reaches_every_rung()
    {
        var (dataSource, rows) = await CreateLoadedDatabaseAsync("ladder_backfill");
        await using var _ = dataSource;
        // Late prints at the edges of materialized candles: the last microsecond of a week (Sunday 2026-09-20), the
        // first microsecond after a month began (Tuesday 2026-09-01, inside a week), the middle of a 4-hour candle.
        PriceRow[] late =
        [
            new("ETH", new DateTimeOffset(2026, 9, 20, 23, 59, 59, TimeSpan.Zero).AddTicks(9_999_990), 1, 99_999, 0.5m, 1, 12_345),
            new("ETH", new DateTimeOffset(2026, 9, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(10), 2, 88_888, 0.25m, 2, 54_321),
            new("ETH", new DateTimeOffset(2026, 9, 16, 9, 30, 0, TimeSpan.Zero).AddTicks(10), 3, 77_777, 0.125m, 3, 1_111),
        ];

        var result = await Ingestor(dataSource).IngestPricesAsync(late, new IngestOptions { OnConflict = ConflictMode.Skip }, Ct);

        Assert.Equal(3, result.RowsWritten);
        Assert.All(result.AggregateRefreshes!, r => Assert.Equal(AggregateRefreshStatus.Refreshed, r.Status));
        foreach (var (interval, view) in new[] { ("1week", Aggregates.Weekly), ("1month", Aggregates.Monthly), ("4hour", Aggregates.FourHour) })
        {
            var stored = await StoredRowsAsync(dataSource, view);
            foreach (var row in late)
            {
                // The stored candle holding the late row, against plain SQL over the rows of its bucket.
                var rung = await dataSource.QueryAsync(
                    $"SELECT bucket, high, volume FROM {stored} WHERE asset_id = (SELECT id FROM assets WHERE symbol = 'ETH') AND bucket <= $1 ORDER BY bucket DESC LIMIT 1", row.Date);
                var raw = await dataSource.QueryAsync(
                    $"""
                    SELECT b, max(high), sum(volume) FROM (SELECT {BucketSql(interval)} AS b, high, volume FROM asset_prices_historic
                    WHERE asset_id = (SELECT id FROM assets WHERE symbol = 'ETH')) x
                    WHERE b = (SELECT {BucketSql(interval)} FROM (SELECT $1::timestamptz AS date) r) GROUP BY b
                    """, row.Date);
                Assert.Equal(raw.Single(), rung.Single());
            }
        }

        var weekly = await new TimeSeriesRepository(dataSource, Manager(dataSource)).GetOhlcvAsync("ETH", BucketWidth.OneWeek, From, To, cancellationToken: Ct);
        Assert.Equal(Aggregates.Weekly, weekly.AggregateUsed);
        Assert.Equal(await PlainSqlCandlesAsync(dataSource, "1week", From, To, "ETH"), weekly.Candles);
        Assert.Equal(Reference.Candles([.. rows, .. late], BucketWidth.OneWeek, TimeZoneInfo.Utc, From, To), weekly.Candles);
    }

    [Fact]
    public async Task Whole_candles_are_read_from_the_rung_and_a_refresh_of_the_parent_refreshes_it()
    {
        var (dataSource, _) = await CreateLoadedDatabaseAsync("ladder_sentinel");
        await using var _ = dataSource;
        var week = new DateTimeOffset(2026, 9, 14, 0, 0, 0, TimeSpan.Zero);
        var sentinel = week.AddDays(2).AddHours(9).AddMinutes(30).AddTicks(7);
        var repository = new TimeSeriesRepository(dataSource, Manager(dataSource));
        // A row the rung cannot know yet: written by plain SQL, then only the daily aggregate refreshed, by plain SQL too
        // (no cascade): the weekly rung still holds the week without it.
        await dataSource.ExecuteAsync(
            "INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume, source) SELECT id, $1, 1, 99999, 0.5, 1, 12345, 'sentinel' FROM assets WHERE symbol = 'ETH'",
            sentinel);
        await dataSource.ExecuteAsync(fixture.IsCommunity
            ? "CALL refresh_continuous_aggregate('asset_prices_daily', '2026-09-14', '2026-09-21')"
            : "REFRESH MATERIALIZED VIEW asset_prices_daily");

        var stale = await repository.GetOhlcvAsync("ETH", BucketWidth.OneWeek, week, week.AddDays(7), cancellationToken: Ct);
        await Manager(dataSource).RefreshContinuousAggregateAsync(Aggregates.Daily, week, week.AddDays(7), Ct);
        var fresh = await repository.GetOhlcvAsync("ETH", BucketWidth.OneWeek, week, week.AddDays(7), cancellationToken: Ct);

        // Read from the rung: without the sentinel, which the daily aggregate already has.
        Assert.Equal(Aggregates.Weekly, stale.AggregateUsed);
        var without = await PlainSqlCandlesAsync(dataSource, "1week", week, week.AddDays(7), "ETH", excludeSource: "sentinel");
        Assert.Equal(without, stale.Candles);
        Assert.NotEqual(99_999m, Assert.Single(stale.Candles).High);
        // The project's refresh of the parent refreshed the rung over it.
        Assert.Equal(await PlainSqlCandlesAsync(dataSource, "1week", week, week.AddDays(7), "ETH"), fresh.Candles);
        Assert.Equal(99_999m, Assert.Single(fresh.Candles).High);
        Assert.Equal(99_999m, await dataSource.ScalarAsync<decimal>($"SELECT high FROM {await StoredRowsAsync(dataSource, Aggregates.Monthly)} WHERE bucket = '2026-09-01' AND asset_id = (SELECT id FROM assets WHERE symbol = 'ETH')"));
        // The hourly aggregate's refresh brings it into the 4-hour rung the same way.
        var fourHour = week.AddDays(2).AddHours(8);
        var fourHourHigh = $"SELECT high FROM {await StoredRowsAsync(dataSource, Aggregates.FourHour)} WHERE bucket = $1 AND asset_id = (SELECT id FROM assets WHERE symbol = 'ETH')";
        Assert.NotEqual(99_999m, await dataSource.ScalarAsync<decimal>(fourHourHigh, fourHour));
        await Manager(dataSource).RefreshContinuousAggregateAsync(Aggregates.Hourly, week, week.AddDays(7), Ct);
        Assert.Equal(99_999m, await dataSource.ScalarAsync<decimal>(fourHourHigh, fourHour));
    }

    [Fact]
    public async Task Dropping_the_raw_rows_keeps_the_ladder_and_refreshes_after_the_drop_recompute_it_from_the_parents()
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync("ladder_retention", migrate: true);
        await using var _ = dataSource;
        await PausePoliciesAsync(dataSource);
        // Six weeks of old prices (from Monday 2026-07-27), and the last ten days, which stay.
        var (oldFrom, oldTo) = (new DateTimeOffset(2026, 7, 27, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 9, 7, 0, 0, 0, TimeSpan.Zero));
        var today = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero);
        var rows = Reference.GeneratePrices("ETH", oldFrom, oldTo, seed: 21);
        rows.AddRange(Reference.GeneratePrices("ETH", today.AddDays(-10), today.AddDays(-1), seed: 22));
        await Ingestor(dataSource).IngestPricesAsync(rows, new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create }, Ct);
        await RefreshParentsAsync(dataSource);
        var weekly = await PlainSqlCandlesAsync(dataSource, "1week", oldFrom, oldTo, "ETH");
        var monthly = await PlainSqlCandlesAsync(dataSource, "1month", new DateTimeOffset(2026, 8, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 9, 1, 0, 0, 0, TimeSpan.Zero), "ETH");

        // Retention drops the old chunks (60 days: outside every parent's refresh window).
        var dropped = await Manager(dataSource).DropChunksOlderThanAsync("asset_prices_historic", TimeSpan.FromDays(60), Ct);
        Assert.True(dropped > 0);
        Assert.Equal(0L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic WHERE date < $1", oldTo));
        // Refreshes after the drop: the project's, over everything, and on the community edition one of the old weeks
        // and month as a rung's policy would run it (it reads the parent, which keeps them).
        await RefreshParentsAsync(dataSource);
        if (fixture.IsCommunity)
        {
            await dataSource.ExecuteAsync("CALL refresh_continuous_aggregate('asset_prices_weekly', $1, $2)", oldFrom, oldTo);
            await dataSource.ExecuteAsync("CALL refresh_continuous_aggregate('asset_prices_monthly', '2026-08-01', '2026-09-01')");
        }

        var repository = new TimeSeriesRepository(dataSource, Manager(dataSource));
        var weeks = await repository.GetOhlcvAsync("ETH", BucketWidth.OneWeek, oldFrom, oldTo, cancellationToken: Ct);
        var months = await repository.GetOhlcvAsync("ETH", BucketWidth.OneMonth, new DateTimeOffset(2026, 8, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 9, 1, 0, 0, 0, TimeSpan.Zero), cancellationToken: Ct);

        Assert.Equal(6, weekly.Count);
        Assert.Equal(Aggregates.Weekly, weeks.AggregateUsed);
        Assert.Equal(weekly, weeks.Candles);
        Assert.Equal(Aggregates.Monthly, months.AggregateUsed);
        Assert.Equal(monthly, months.Candles);
    }

    [Fact]
    public async Task The_ladder_is_listed_with_watermarks_no_later_than_its_parents()
    {
        var (dataSource, _, _) = await SetUpAsync();

        var aggregates = (await Manager(dataSource).GetAggregatesAsync(Ct)).ToDictionary(a => a.View);

        foreach (var rung in Aggregates.Ladder)
        {
            var watermark = Assert.IsType<DateTimeOffset>(aggregates[rung.View].MaterializedThrough);
            var parent = Assert.IsType<DateTimeOffset>(aggregates[rung.Parent].MaterializedThrough);
            // A rung never holds a candle its parent has not finished, and holds every one it has (To is midnight, a Wednesday).
            Assert.True(watermark <= parent, $"{rung.View} is materialized through {watermark:O}, past its parent {rung.Parent} ({parent:O})");
            var expected = rung.View switch { Aggregates.Weekly => new DateTimeOffset(2026, 10, 19, 0, 0, 0, TimeSpan.Zero), Aggregates.Monthly => new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero), _ => To.AddHours(-4) };
            Assert.True(watermark >= expected, $"{rung.View} is materialized only through {watermark:O}");
            Assert.Equal(0L, await dataSource.ScalarAsync<long>($"SELECT count(*) FROM {await StoredRowsAsync(dataSource, rung.View)} WHERE bucket >= $1", watermark));
        }
    }

    private static Task<decimal> RawVolumeAsync(NpgsqlDataSource dataSource, int assetId, DateTimeOffset start, DateTimeOffset end)
        => dataSource.ScalarAsync<decimal>("SELECT sum(volume) FROM asset_prices_historic WHERE asset_id = $1 AND date >= $2 AND date < $3", assetId, start, end);

    /// <summary>
    /// A database of its own with ETH loaded over [From, To) and the aggregates materialized; on the community edition
    /// every policy paused first, so that only the project's refreshes (and the test's) change the aggregates.
    /// </summary>
    private async Task<(NpgsqlDataSource DataSource, List<PriceRow> Rows)> CreateLoadedDatabaseAsync(string purpose)
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync(purpose, migrate: true);
        await PausePoliciesAsync(dataSource);
        var rows = Reference.GeneratePrices("ETH", From, To, seed: 7);
        var load = await Ingestor(dataSource).IngestPricesAsync(rows, new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create }, Ct);
        Assert.All(load.AggregateRefreshes ?? [], r => Assert.Equal(AggregateRefreshStatus.Refreshed, r.Status));
        await RefreshParentsAsync(dataSource);
        Assert.Equal(0L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM financehub.pending_refreshes"));
        return (dataSource, rows);
    }

    /// <summary>Pauses every policy and waits for a run under way (the migrations make the rungs' policies due at once).</summary>
    private async Task PausePoliciesAsync(NpgsqlDataSource dataSource)
    {
        if (fixture.IsCommunity)
        {
            await dataSource.ExecuteAsync("SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs");
            for (var i = 0; i < 200 && await dataSource.ScalarAsync<long>("SELECT count(*) FROM timescaledb_information.job_stats WHERE job_status = 'Running'") > 0; i++)
            {
                await Task.Delay(50, Ct);
            }
        }
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

    private static async Task<List<Candle>> PlainSqlCandlesAsync(
        NpgsqlDataSource dataSource, string interval, DateTimeOffset start, DateTimeOffset end, string symbol = "BTC", string? excludeSource = null)
    {
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT {BucketSql(interval)} AS bucket, (array_agg(p.open ORDER BY p.date))[1], max(p.high), min(p.low),
                   (array_agg(p.close ORDER BY p.date DESC))[1], sum(p.volume), sum(coalesce(p.trade_count, 1))::bigint
            FROM asset_prices_historic p JOIN assets a ON a.id = p.asset_id
            WHERE a.symbol = $1 AND p.date >= $2 AND p.date < $3 AND ($4::text IS NULL OR p.source IS DISTINCT FROM $4)
            GROUP BY 1 ORDER BY 1
            """);
        command.Parameters.Add(new() { Value = symbol });
        command.Parameters.Add(new() { Value = start });
        command.Parameters.Add(new() { Value = end });
        command.Parameters.Add(new() { Value = (object?)excludeSource ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
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
                await PausePoliciesAsync(dataSource);
                var rows = Reference.GeneratePrices("BTC", From, To, seed: 11);
                rows.AddRange(Reference.GeneratePrices("SOL", From, To, seed: 12));
                // Loaded with the refresh a load runs (older than every policy reaches: aggregates and rungs are
                // materialized up to where the policies stop), then later rows without one.
                var load = await Ingestor(dataSource).IngestPricesAsync(rows, new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create }, Ct);
                Assert.All(load.AggregateRefreshes ?? [], r => Assert.Equal(AggregateRefreshStatus.Refreshed, r.Status));
                await RefreshParentsAsync(dataSource);
                Assert.Equal(0L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM financehub.pending_refreshes"));
                var late = Reference.GeneratePrices("BTC", To, Late, seed: 13);
                await Ingestor(dataSource).IngestPricesAsync(late, new IngestOptions { RefreshAggregates = false }, Ct);
                rows.AddRange(late);
                if (fixture.IsCommunity)
                {
                    // The parents one day further, by plain SQL (no rung refreshed): candles then read the parents between
                    // the rungs' watermarks and theirs.
                    await dataSource.ExecuteAsync("CALL refresh_continuous_aggregate('asset_prices_hourly', $1, $2)", To, To.AddDays(1));
                    await dataSource.ExecuteAsync("CALL refresh_continuous_aggregate('asset_prices_daily', $1, $2)", To, To.AddDays(1));
                }

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
