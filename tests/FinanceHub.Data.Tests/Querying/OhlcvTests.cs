using FinanceHub.Data.Ingest;
using FinanceHub.Data.Querying;
using FinanceHub.Data.Tests.Infrastructure;
using FinanceHub.Data.Timescale;
using FinanceHub.Data.Timescale.Maintenance;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Querying;

/// <summary>OHLCV candles against the C# reference, from raw rows and from the aggregates.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class OhlcvTests(DatabaseFixture fixture)
{
    // Around the end of summer time in Europe (Oct 25) and the US (Nov 1), 2026.
    private static readonly DateTimeOffset From = new(2026, 10, 12, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset To = new(2026, 11, 14, 0, 0, 0, TimeSpan.Zero);
    private static readonly (DateTimeOffset, DateTimeOffset) EthGap = (new(2026, 10, 20, 5, 0, 0, TimeSpan.Zero), new(2026, 10, 23, 17, 0, 0, TimeSpan.Zero));
    private static readonly SemaphoreSlim InitLock = new(1, 1);
    private static (NpgsqlDataSource DataSource, Dictionary<string, List<PriceRow>> Rows)? _data;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> Intervals => [.. BucketWidth.OhlcvIntervals.Select(i => i.Name)];

    [Theory]
    [MemberData(nameof(Intervals))]
    public async Task Raw_candles_equal_the_reference_for_every_interval(string interval)
    {
        var (repository, rows) = await SetUpAsync();
        var width = BucketWidth.Parse(interval);
        var (start, end) = (From.AddHours(7).AddMinutes(13), To.AddDays(-2).AddMinutes(-31)); // both inside buckets

        var result = await repository.GetOhlcvAsync("BTC", width, start, end, new OhlcvOptions { Source = CandleSource.Raw }, Ct);

        Assert.Null(result.AggregateUsed);
        Assert.Equal(Reference.Candles(rows["BTC"], width, TimeZoneInfo.Utc, start, end), result.Candles);
    }

    [Theory]
    [InlineData("1hour", "asset_prices_hourly")]
    [InlineData("4hour", "asset_prices_4hour")]
    [InlineData("1day", "asset_prices_daily")]
    [InlineData("1week", "asset_prices_weekly")]
    [InlineData("1month", "asset_prices_daily")] // the range holds no whole month below the watermarks
    public async Task Aggregate_path_gives_the_same_candles_as_raw_rows(string interval, string aggregate)
    {
        var (repository, rows) = await SetUpAsync();
        var width = BucketWidth.Parse(interval);
        var (start, end) = (From.AddHours(7).AddMinutes(13), To.AddMinutes(-31));

        var auto = await repository.GetOhlcvAsync("ETH", width, start, end, cancellationToken: Ct);
        var raw = await repository.GetOhlcvAsync("ETH", width, start, end, new OhlcvOptions { Source = CandleSource.Raw }, Ct);

        Assert.Equal(aggregate, auto.AggregateUsed);
        Assert.Equal(raw.Candles, auto.Candles);
        Assert.Equal(Reference.Candles(rows["ETH"], width, TimeZoneInfo.Utc, start, end), auto.Candles);
    }

    [Theory]
    [InlineData("America/New_York")]
    [InlineData("Europe/London")]
    [InlineData("Asia/Kolkata")]
    public async Task Daily_candles_follow_a_time_zones_days_across_daylight_saving_changes(string zoneId)
    {
        var (repository, rows) = await SetUpAsync();
        var zone = TimeZoneInfo.FindSystemTimeZoneById(zoneId);
        var (start, end) = (From.AddDays(1), To.AddDays(-1));
        var options = new OhlcvOptions { TimeZone = zoneId };

        var auto = await repository.GetOhlcvAsync("SOL", BucketWidth.OneDay, start, end, options, Ct);
        var raw = await repository.GetOhlcvAsync("SOL", BucketWidth.OneDay, start, end, options with { Source = CandleSource.Raw }, Ct);

        var expected = Reference.Candles(rows["SOL"], BucketWidth.OneDay, zone, start, end);
        Assert.Equal(expected, raw.Candles);
        Assert.Equal(expected, auto.Candles);
        // Whole-hour zones are served from the hourly aggregate; a half-hour zone cannot be.
        Assert.Equal(zoneId == "Asia/Kolkata" ? null : "asset_prices_hourly", auto.AggregateUsed);
        // The day the clocks go back has 25 hours in New York.
        if (zoneId == "America/New_York")
        {
            var nov1 = auto.Candles.Single(c => c.Bucket == new DateTimeOffset(2026, 11, 1, 4, 0, 0, TimeSpan.Zero));
            var nov2 = auto.Candles.Single(c => c.Bucket == new DateTimeOffset(2026, 11, 2, 5, 0, 0, TimeSpan.Zero));
            Assert.NotNull(nov1);
            Assert.NotNull(nov2);
        }
    }

    [Theory]
    [InlineData("1week", "America/New_York")]
    [InlineData("1month", "America/New_York")]
    [InlineData("1week", "Europe/Berlin")]
    public async Task Weekly_and_monthly_candles_in_a_zone_come_from_the_hourly_aggregate_across_a_clock_change(string interval, string zoneId)
    {
        var (repository, rows) = await SetUpAsync();
        var width = BucketWidth.Parse(interval);
        var (start, end) = (From.AddDays(1), To.AddDays(-1));
        var options = new OhlcvOptions { TimeZone = zoneId };

        var auto = await repository.GetOhlcvAsync("SOL", width, start, end, options, Ct);

        // The stored ladder is in UTC: a zone's weeks and months are its hourly candles regrouped (ISO weeks from Monday 00:00 local).
        Assert.Equal("asset_prices_hourly", auto.AggregateUsed);
        Assert.Equal(Reference.Candles(rows["SOL"], width, TimeZoneInfo.FindSystemTimeZoneById(zoneId), start, end), auto.Candles);
        // Every candle but the first (cut by the range) starts at local midnight on a Monday, or on the 1st.
        var zone = TimeZoneInfo.FindSystemTimeZoneById(zoneId);
        Assert.All(auto.Candles.Skip(1), c =>
        {
            var local = TimeZoneInfo.ConvertTime(c.Bucket, zone);
            Assert.Equal(TimeSpan.Zero, local.TimeOfDay);
            Assert.True(interval == "1week" ? local.DayOfWeek == DayOfWeek.Monday : local.Day == 1, $"{local:O}");
        });
    }

    [Fact]
    public async Task Bounds_are_start_inclusive_and_end_exclusive()
    {
        var (repository, rows) = await SetUpAsync();
        var row = rows["BTC"][500];

        var including = await repository.GetOhlcvAsync("BTC", BucketWidth.OneMinute, row.Date, row.Date.AddTicks(10), cancellationToken: Ct);
        var excluding = await repository.GetOhlcvAsync("BTC", BucketWidth.OneMinute, row.Date.AddMinutes(-2), row.Date, cancellationToken: Ct);

        var candle = Assert.Single(including.Candles);
        Assert.Equal((row.Open, row.Close, row.Volume), (candle.Open, candle.Close, candle.Volume));
        Assert.DoesNotContain(excluding.Candles, c => c.Bucket == Reference.BucketStart(row.Date, BucketWidth.OneMinute, TimeZoneInfo.Utc) && c.Close == row.Close);
    }

    [Fact]
    public async Task A_row_exactly_on_a_bucket_edge_opens_that_bucket_not_the_previous_one()
    {
        var (repository, rows) = await SetUpAsync();
        var onEdge = rows["BTC"].First(r => r.Date > From.AddDays(2) && r.Date.Minute == 0 && r.Date.Second == 0);

        var result = await repository.GetOhlcvAsync("BTC", BucketWidth.OneHour, onEdge.Date.AddHours(-2), onEdge.Date.AddHours(2), cancellationToken: Ct);

        var candle = result.Candles.Single(c => c.Bucket == onEdge.Date);
        Assert.Equal(onEdge.Open, candle.Open);
        Assert.NotEqual(onEdge.Close, result.Candles.Single(c => c.Bucket == onEdge.Date.AddHours(-1)).Close);
    }

    [Theory]
    [InlineData("1hour", "UTC")]
    [InlineData("1day", "UTC")]
    [InlineData("1day", "America/New_York")]
    public async Task Gap_filling_returns_every_bucket_carrying_the_previous_close(string interval, string zoneId)
    {
        var (repository, rows) = await SetUpAsync();
        var width = BucketWidth.Parse(interval);
        var (start, end) = (new DateTimeOffset(2026, 10, 19, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 10, 26, 0, 0, 0, TimeSpan.Zero));

        var result = await repository.GetOhlcvAsync("ETH", width, start, end, new OhlcvOptions { FillGaps = true, TimeZone = zoneId }, Ct);

        var expected = Reference.FilledCandles(rows["ETH"], width, TimeZoneInfo.FindSystemTimeZoneById(zoneId), start, end);
        Assert.Contains(expected, c => c.IsFilled);
        Assert.Equal(expected, result.Candles);
    }

    [Fact]
    public async Task Rows_newer_than_the_aggregate_watermark_are_included()
    {
        var (repository, rows) = await SetUpAsync();
        var (dataSource, _) = _data!.Value;
        var ingestor = Ingestor(dataSource);
        var late = Reference.GeneratePrices("BTC", To, To.AddHours(30), seed: 99);
        await ingestor.IngestPricesAsync(late, new IngestOptions { RefreshAggregates = false }, Ct);
        rows["BTC"].AddRange(late);

        var auto = await repository.GetOhlcvAsync("BTC", BucketWidth.OneHour, To.AddDays(-3), To.AddDays(2), cancellationToken: Ct);

        Assert.Equal("asset_prices_hourly", auto.AggregateUsed);
        Assert.Equal(Reference.Candles(rows["BTC"], BucketWidth.OneHour, TimeZoneInfo.Utc, To.AddDays(-3), To.AddDays(2)), auto.Candles);
    }

    [Fact]
    public async Task Before_any_refresh_candles_come_from_raw_rows()
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync("ohlcv_unrefreshed", migrate: true);
        await using var _ = dataSource;
        var rows = Reference.GeneratePrices("BTC", From, From.AddDays(3), seed: 4);
        // Loaded without the refresh a load normally runs (it would materialize these rows, older than the policies reach).
        await Ingestor(dataSource)
            .IngestPricesAsync(rows, new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create, RefreshAggregates = false }, Ct);

        var result = await new TimeSeriesRepository(dataSource, Manager(dataSource)).GetOhlcvAsync("BTC", BucketWidth.OneDay, From, From.AddDays(3), cancellationToken: Ct);

        Assert.Null(result.AggregateUsed);
        Assert.Equal(Reference.Candles(rows, BucketWidth.OneDay, TimeZoneInfo.Utc, From, From.AddDays(3)), result.Candles);
    }

    [Fact]
    public async Task One_asset_is_not_mixed_with_another()
    {
        var (repository, rows) = await SetUpAsync();

        var btc = await repository.GetOhlcvAsync("BTC", BucketWidth.OneDay, From, To, cancellationToken: Ct);
        var eth = await repository.GetOhlcvAsync("eth", BucketWidth.OneDay, From, To, cancellationToken: Ct);

        Assert.Equal(rows["BTC"].Where(r => r.Date < To).Sum(r => r.Volume), btc.Candles.Sum(c => c.Volume));
        Assert.Equal(rows["ETH"].Sum(r => r.Volume), eth.Candles.Sum(c => c.Volume));
    }

    [Fact]
    public async Task Bad_input_gets_clear_errors()
    {
        var (repository, _) = await SetUpAsync();

        var unknown = await Assert.ThrowsAsync<UnknownSymbolException>(() => repository.GetOhlcvAsync("NOPE", "1day", From, To, cancellationToken: Ct));
        var reversed = await Assert.ThrowsAsync<ArgumentException>(() => repository.GetOhlcvAsync("BTC", "1day", To, From, cancellationToken: Ct));
        var interval = await Assert.ThrowsAsync<ArgumentException>(() => repository.GetOhlcvAsync("BTC", "7min", From, To, cancellationToken: Ct));
        var zone = await Assert.ThrowsAsync<ArgumentException>(() =>
            repository.GetOhlcvAsync("BTC", "1day", From, To, new OhlcvOptions { TimeZone = "Mars/Olympus" }, Ct));
        var spelling = Assert.Throws<ArgumentException>(() => BucketWidth.Parse("fortnightly"));

        Assert.Contains("NOPE", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("before its end", reversed.Message, StringComparison.Ordinal);
        Assert.Contains("not an OHLCV interval", interval.Message, StringComparison.Ordinal);
        Assert.Contains("Mars/Olympus", zone.Message, StringComparison.Ordinal);
        Assert.Contains("1min", spelling.Message, StringComparison.Ordinal);
    }

    private async Task<(TimeSeriesRepository Repository, Dictionary<string, List<PriceRow>> Rows)> SetUpAsync()
    {
        await InitLock.WaitAsync(Ct);
        try
        {
            if (_data is null)
            {
                var (_, dataSource) = await fixture.CreateDatabaseAsync("ohlcv", migrate: true);
                var manager = Manager(dataSource);
                var ingestor = Ingestor(dataSource);
                var rows = new Dictionary<string, List<PriceRow>>
                {
                    ["BTC"] = Reference.GeneratePrices("BTC", From, To, seed: 1),
                    ["ETH"] = Reference.GeneratePrices("ETH", From, To, seed: 2, EthGap),
                    ["SOL"] = Reference.GeneratePrices("SOL", From, To, seed: 3),
                };
                await ingestor.IngestPricesAsync(rows.Values.SelectMany(r => r), new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create }, Ct);
                foreach (var view in new[] { "asset_prices_hourly", "asset_prices_daily" })
                {
                    await manager.RefreshContinuousAggregateAsync(view, cancellationToken: Ct);
                }

                _data = (dataSource, rows);
            }

            var (source, data) = _data.Value;
            return (new TimeSeriesRepository(source, Manager(source)), data);
        }
        finally
        {
            InitLock.Release();
        }
    }
}
