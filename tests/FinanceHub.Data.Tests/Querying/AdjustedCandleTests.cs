using FinanceHub.Data.Entities;
using FinanceHub.Data.Ingest;
using FinanceHub.Data.Querying;
using FinanceHub.Data.Tests.Infrastructure;
using Npgsql;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Querying;

/// <summary>
/// Candles adjusted for splits and cash dividends against a reference computed here, row by row, from the action list
/// as written in this file: splits 2-for-1, 3-for-1 (inside a day) and 1-for-10, dividends before, between and after them.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class AdjustedCandleTests(DatabaseFixture fixture)
{
    private static readonly DateTimeOffset From = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset To = new(2026, 5, 4, 0, 0, 0, TimeSpan.Zero);
    private static readonly SemaphoreSlim InitLock = new(1, 1);
    private static (NpgsqlDataSource DataSource, List<PriceRow> Rows)? _data;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // As traded: after each split the price is where the market put it (halved, a third, ten times).
    private static readonly CorporateActionRow[] Actions =
    [
        new("ADJ", CorporateActionKind.Dividend, new(2026, 1, 20, 14, 30, 0, TimeSpan.Zero), 0.50m, "feed"),
        new("ADJ", CorporateActionKind.Split, new(2026, 2, 10, 0, 0, 0, TimeSpan.Zero), 2m, "feed"),
        new("ADJ", CorporateActionKind.Dividend, new(2026, 3, 3, 0, 0, 0, TimeSpan.Zero), 0.25m, "feed"),
        new("ADJ", CorporateActionKind.Split, new(2026, 3, 20, 13, 30, 0, TimeSpan.Zero), 3m, "feed"),
        new("ADJ", CorporateActionKind.Split, new(2026, 4, 15, 0, 0, 0, TimeSpan.Zero), 0.1m, "feed"),
        new("ADJ", CorporateActionKind.Dividend, new(2026, 4, 20, 0, 0, 0, TimeSpan.Zero), 1.2345m, "feed"),
    ];

    public static TheoryData<string, string> Intervals => new()
    {
        { "1hour", "UTC" }, { "1day", "UTC" }, { "1week", "UTC" }, { "1month", "UTC" }, { "1day", "America/New_York" }, { "4hour", "UTC" },
    };

    [Theory]
    [MemberData(nameof(Intervals))]
    public async Task Adjusted_candles_equal_the_reference(string interval, string zone)
    {
        var (dataSource, rows) = await SetUpAsync();
        var repository = new TimeSeriesRepository(dataSource, Manager(dataSource));
        var width = BucketWidth.Parse(interval);
        var timeZone = TimeZoneInfo.FindSystemTimeZoneById(zone);
        var (start, end) = (From.AddHours(5).AddMinutes(30), To.AddDays(-3));

        var result = await repository.GetOhlcvAsync("ADJ", width, start, end, new OhlcvOptions { Adjusted = true, TimeZone = zone }, Ct);

        Assert.Null(result.AggregateUsed);
        Assert.Equal(ReferenceAdjusted(rows, width, timeZone, start, end), result.Candles);
    }

    [Fact]
    public async Task Without_actions_after_them_candles_are_the_unadjusted_ones_and_the_stored_adjusted_closes_agree()
    {
        var (dataSource, rows) = await SetUpAsync();
        var repository = new TimeSeriesRepository(dataSource, Manager(dataSource));
        var (start, end) = (new DateTimeOffset(2026, 4, 21, 0, 0, 0, TimeSpan.Zero), To);

        var adjusted = await repository.GetOhlcvAsync("ADJ", BucketWidth.OneDay, start, end, new OhlcvOptions { Adjusted = true }, Ct);
        var plain = await repository.GetOhlcvAsync("ADJ", BucketWidth.OneDay, start, end, new OhlcvOptions { Source = CandleSource.Raw }, Ct);

        // After the last action nothing is adjusted.
        Assert.Equal(plain.Candles, adjusted.Candles.Select(c => c with { AdjustedClose = null }));
        Assert.All(adjusted.Candles, c => Assert.Equal(c.Close, c.AdjustedClose));

        // The rows of March 23-27 carry a provider's adjusted close (what this file's reference computes, as a provider that
        // knows every action would): the daily adjusted close is the stored one of the day's last row.
        var march = await repository.GetOhlcvAsync("ADJ", BucketWidth.OneDay, new(2026, 3, 23, 0, 0, 0, TimeSpan.Zero), new(2026, 3, 28, 0, 0, 0, TimeSpan.Zero),
            new OhlcvOptions { Adjusted = true }, Ct);
        var stored = (await dataSource.QueryAsync(
                """
                SELECT DISTINCT ON (date_trunc('day', date AT TIME ZONE 'UTC')) adjusted_close FROM asset_prices_historic
                WHERE asset_id = (SELECT id FROM assets WHERE symbol = 'ADJ') AND date >= '2026-03-23T00:00:00Z' AND date < '2026-03-28T00:00:00Z'
                ORDER BY date_trunc('day', date AT TIME ZONE 'UTC'), date DESC
                """))
            .Select(r => (decimal?)r[0]).ToList();
        Assert.Equal(5, march.Candles.Count);
        Assert.DoesNotContain(null, stored);
        Assert.Equal(stored, march.Candles.Select(c => c.AdjustedClose));
        _ = rows;
    }

    [Fact]
    public async Task Loading_actions_upserts_them_and_refuses_bad_rows_whole()
    {
        var (dataSource, _) = await SetUpAsync();
        var ingestor = Ingestor(dataSource);
        var before = await dataSource.ScalarAsync<string>("SELECT md5(string_agg(concat_ws('|', kind, effective_at, ratio, amount, source), ';' ORDER BY effective_at, kind)) FROM corporate_actions");

        var again = await ingestor.IngestCorporateActionsAsync(Actions.ToAsyncEnumerable(), Ct);
        Assert.Equal((6L, 0L, 6L), (again.RowsRead, again.RowsWritten, again.RowsSkipped));

        await Assert.ThrowsAsync<UnknownSymbolException>(() => ingestor.IngestCorporateActionsAsync(
            new[] { Actions[0] with { Value = 9m }, Actions[1] with { Symbol = "NOPE" } }.ToAsyncEnumerable(), Ct));
        var bad = await Assert.ThrowsAsync<InvalidRowException>(() => ingestor.IngestCorporateActionsAsync(
            new[] { Actions[0] with { Value = 9m }, Actions[1] with { Value = 0m } }.ToAsyncEnumerable(), Ct));
        Assert.Contains("Row 2", bad.Message, StringComparison.Ordinal);
        Assert.Contains("must be positive", bad.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidRowException>(() => ingestor.IngestCorporateActionsAsync(new[] { Actions[0], Actions[0] }.ToAsyncEnumerable(), Ct));
        Assert.Equal(before, await dataSource.ScalarAsync<string>("SELECT md5(string_agg(concat_ws('|', kind, effective_at, ratio, amount, source), ';' ORDER BY effective_at, kind)) FROM corporate_actions"));
    }

    [Fact]
    public async Task The_cli_loads_actions_from_csv_and_prints_adjusted_candles()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("cli_actions", migrate: true);
        await using var _ = dataSource;
        await Ingestor(dataSource).IngestPricesAsync(
            Enumerable.Range(0, 10).Select(d => new PriceRow("XYZ", new DateTimeOffset(2026, 6, 1 + d, 15, 0, 0, TimeSpan.Zero), 100, 101, 99, 100, 10)),
            new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create }, Ct);
        var csv = Path.Combine(Path.GetTempPath(), $"actions-{Guid.NewGuid():N}.csv");
        await File.WriteAllLinesAsync(csv, ["symbol,kind,effective,value,source", "xyz,split,2026-06-05,4,exchange", "XYZ,dividend,2026-06-08T00:00:00Z,2.5,"], Ct);

        var load = await RunCliAsync("ingest", csv, "--table", "corporate_actions", "--connection", connectionString);
        var candles = await RunCliAsync("ohlcv", "XYZ", "--interval", "1day", "--from", "2026-06-01", "--to", "2026-06-11", "--adjusted", "--json", "--connection", connectionString);
        await File.WriteAllLinesAsync(csv, ["symbol,kind,effective,value", "XYZ,merger,2026-06-05,4"], Ct);
        var refused = await RunCliAsync("ingest", csv, "--table", "corporate_actions", "--connection", connectionString);
        File.Delete(csv);

        Assert.True(load.Code == 0, load.Error);
        Assert.Equal(2L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM corporate_actions"));
        Assert.True(candles.Code == 0, candles.Error);
        using var json = System.Text.Json.JsonDocument.Parse(candles.Output);
        var list = json.RootElement.GetProperty("candles").EnumerateArray().ToList();
        // Before the split: 100 / 4 = 25; the close before the dividend is 100 (25 adjusted): factor 1 - 2.5 / 100 = 0.975.
        Assert.Equal(25m, list[0].GetProperty("close").GetDecimal());
        Assert.Equal(40m, list[0].GetProperty("volume").GetDecimal());
        Assert.Equal(24.375m, list[0].GetProperty("adjustedClose").GetDecimal());
        Assert.Equal(97.5m, list[5].GetProperty("adjustedClose").GetDecimal());
        Assert.Equal(100m, list[9].GetProperty("adjustedClose").GetDecimal());
        Assert.Equal(Data.Cli.ExitCodes.Usage, refused.Code);
        Assert.Contains("neither split nor dividend", refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Adjusted_candles_are_not_gap_filled()
    {
        var (dataSource, _) = await SetUpAsync();
        var repository = new TimeSeriesRepository(dataSource, Manager(dataSource));

        var error = await Assert.ThrowsAsync<ArgumentException>(() => repository.GetOhlcvAsync("ADJ", BucketWidth.OneDay, From, To,
            new OhlcvOptions { Adjusted = true, FillGaps = true }, Ct));

        Assert.Contains("gap-filled", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The reference: each row adjusted by the actions after it, then grouped like unadjusted candles.</summary>
    private static List<Candle> ReferenceAdjusted(List<PriceRow> rows, BucketWidth width, TimeZoneInfo zone, DateTimeOffset start, DateTimeOffset end)
    {
        var adjusted = rows.Select(r => Adjust(rows, r)).ToList();
        var candles = Reference.Candles(adjusted.Select(a => a.Row), width, zone, start, end);
        var closes = Reference.Candles(adjusted.Select(a => a.Row with { Close = a.AdjustedClose }), width, zone, start, end);
        return [.. candles.Zip(closes, (c, a) => c with { AdjustedClose = a.Close })];
    }

    private static (PriceRow Row, decimal AdjustedClose) Adjust(List<PriceRow> rows, PriceRow row)
    {
        decimal split = 1, dividend = 1;
        foreach (var action in Actions.Where(a => a.EffectiveAt > row.Date))
        {
            if (action.Kind == CorporateActionKind.Split)
            {
                split *= action.Value;
            }
            else
            {
                var previous = rows.Where(r => r.Date < action.EffectiveAt).MaxBy(r => r.Date)!.Close;
                dividend *= 1 - (action.Value / previous);
            }
        }

        static decimal R(decimal x) => Math.Round(x, 8, MidpointRounding.AwayFromZero);
        return (row with { Open = R(row.Open / split), High = R(row.High / split), Low = R(row.Low / split), Close = R(row.Close / split), Volume = R(row.Volume * split) },
            R(row.Close * dividend / split));
    }

    private async Task<(NpgsqlDataSource DataSource, List<PriceRow> Rows)> SetUpAsync()
    {
        await InitLock.WaitAsync(Ct);
        try
        {
            if (_data is null)
            {
                var (_, dataSource) = await fixture.CreateDatabaseAsync("adjusted", migrate: true);
                // Hourly bars as traded, with gaps over weekends; the price level follows the splits (x1/2, x1/3, x10).
                var rows = new List<PriceRow>();
                var random = new Random(11);
                for (var t = From; t < To; t = t.AddHours(1))
                {
                    if (t.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday)
                    {
                        continue;
                    }

                    var level = Actions.Where(a => a.Kind == CorporateActionKind.Split && a.EffectiveAt <= t).Aggregate(180m, (p, a) => p / a.Value);
                    var open = Math.Round(level * (1 + (((decimal)random.NextDouble() - 0.5m) / 50)), 4);
                    var close = Math.Round(level * (1 + (((decimal)random.NextDouble() - 0.5m) / 50)), 4);
                    rows.Add(new PriceRow("ADJ", t, open, Math.Max(open, close) + 0.37m, Math.Min(open, close) - 0.29m, close,
                        Math.Round((decimal)random.NextDouble() * 5000, 3), TradeCount: random.Next(1, 90)));
                }

                // A provider's adjusted closes on March 23-27, computed as this file's reference computes them.
                var withProvider = rows.Select(r => r.Date >= new DateTimeOffset(2026, 3, 23, 0, 0, 0, TimeSpan.Zero) && r.Date < new DateTimeOffset(2026, 3, 28, 0, 0, 0, TimeSpan.Zero)
                    ? r with { AdjustedClose = Adjust(rows, r).AdjustedClose }
                    : r).ToList();
                var ingestor = Ingestor(dataSource);
                await ingestor.IngestPricesAsync(withProvider, new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create }, Ct);
                var loaded = await ingestor.IngestCorporateActionsAsync(Actions.ToAsyncEnumerable(), Ct);
                Assert.Equal(6L, loaded.RowsWritten);
                _data = (dataSource, rows);
            }

            return _data.Value;
        }
        finally
        {
            InitLock.Release();
        }
    }
}
