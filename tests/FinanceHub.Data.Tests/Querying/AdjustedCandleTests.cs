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

    // As traded: after each split the price is where the market put it (halved, two thirds, ten times). The 1-for-10
    // reverse split and a dividend take effect at the same instant.
    private static readonly CorporateActionRow[] Actions =
    [
        new("ADJ", CorporateActionKind.Dividend, new(2026, 1, 20, 14, 30, 0, TimeSpan.Zero), 0.50m, "feed"),
        new("ADJ", CorporateActionKind.Split, new(2026, 2, 10, 0, 0, 0, TimeSpan.Zero), 2m, "feed"),
        new("ADJ", CorporateActionKind.Dividend, new(2026, 3, 3, 0, 0, 0, TimeSpan.Zero), 0.25m, "feed"),
        new("ADJ", CorporateActionKind.Split, new(2026, 3, 20, 13, 30, 0, TimeSpan.Zero), 3m, "feed", Per: 2m),
        new("ADJ", CorporateActionKind.Split, new(2026, 4, 15, 0, 0, 0, TimeSpan.Zero), 1m, "feed", Per: 10m),
        new("ADJ", CorporateActionKind.Dividend, new(2026, 4, 15, 0, 0, 0, TimeSpan.Zero), 0.75m, "feed"),
        new("ADJ", CorporateActionKind.Dividend, new(2026, 4, 20, 0, 0, 0, TimeSpan.Zero), 1.2345m, "feed"),
    ];

    // Another asset's actions, in the same table: they must not reach ADJ's candles.
    private static readonly CorporateActionRow[] OtherActions =
    [
        new("OTHER", CorporateActionKind.Split, new(2026, 2, 2, 0, 0, 0, TimeSpan.Zero), 5m),
        new("OTHER", CorporateActionKind.Dividend, new(2026, 3, 24, 0, 0, 0, TimeSpan.Zero), 3m),
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

        // The whole history; a range before every action; a range that starts just after two ex instants, whose previous
        // closes lie outside it.
        foreach (var (start, end) in new[]
                 {
                     (From.AddHours(5).AddMinutes(30), To.AddDays(-3)), (From, new DateTimeOffset(2026, 1, 16, 0, 0, 0, TimeSpan.Zero)),
                     (new DateTimeOffset(2026, 4, 15, 1, 0, 0, TimeSpan.Zero), To),
                 })
        {
            var result = await repository.GetOhlcvAsync("ADJ", width, start, end, new OhlcvOptions { Adjusted = true, TimeZone = zone }, Ct);

            Assert.Null(result.AggregateUsed);
            Assert.Equal(ReferenceAdjusted(rows, width, timeZone, start, end), result.Candles);
        }
    }

    [Fact]
    public async Task After_the_last_action_candles_are_the_unadjusted_ones()
    {
        var (dataSource, _) = await SetUpAsync();
        var repository = new TimeSeriesRepository(dataSource, Manager(dataSource));
        var (start, end) = (new DateTimeOffset(2026, 4, 21, 0, 0, 0, TimeSpan.Zero), To);

        var adjusted = await repository.GetOhlcvAsync("ADJ", BucketWidth.OneDay, start, end, new OhlcvOptions { Adjusted = true }, Ct);
        var plain = await repository.GetOhlcvAsync("ADJ", BucketWidth.OneDay, start, end, new OhlcvOptions { Source = CandleSource.Raw }, Ct);

        Assert.NotEmpty(plain.Candles);
        Assert.Equal(plain.Candles, adjusted.Candles.Select(c => c with { AdjustedClose = null }));
        Assert.All(adjusted.Candles, c => Assert.Equal(c.Close, c.AdjustedClose));
    }

    [Fact]
    public async Task Loading_actions_upserts_them_and_refuses_bad_rows_whole()
    {
        var (dataSource, _) = await SetUpAsync();
        var ingestor = Ingestor(dataSource);
        const string content = "SELECT md5(string_agg(concat_ws('|', asset_id, kind, effective_at, new_shares, old_shares, amount, source), ';' ORDER BY asset_id, effective_at, kind)) FROM corporate_actions";
        var before = await dataSource.ScalarAsync<string>(content);

        var again = await ingestor.IngestCorporateActionsAsync(Actions.ToAsyncEnumerable(), Ct);
        Assert.Equal((7L, 0L, 7L), (again.RowsRead, again.RowsWritten, again.RowsSkipped));

        await Assert.ThrowsAsync<UnknownSymbolException>(() => ingestor.IngestCorporateActionsAsync(
            new[] { Actions[0] with { Value = 9m }, Actions[1] with { Symbol = "NOPE" } }.ToAsyncEnumerable(), Ct));
        var bad = await Assert.ThrowsAsync<InvalidRowException>(() => ingestor.IngestCorporateActionsAsync(
            new[] { Actions[0] with { Value = 9m }, Actions[1] with { Per = 0m } }.ToAsyncEnumerable(), Ct));
        Assert.Contains("Row 2", bad.Message, StringComparison.Ordinal);
        Assert.Contains("two positive share counts", bad.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidRowException>(() => ingestor.IngestCorporateActionsAsync(new[] { Actions[0], Actions[0] with { Symbol = "adj" } }.ToAsyncEnumerable(), Ct));
        await Assert.ThrowsAsync<InvalidRowException>(() => ingestor.IngestCorporateActionsAsync(new[] { Actions[0] with { Value = 0.123456789m } }.ToAsyncEnumerable(), Ct));
        Assert.Equal(before, await dataSource.ScalarAsync<string>(content));

        // A corrected action is updated, and the adjusted candles follow it.
        var repository = new TimeSeriesRepository(dataSource, Manager(dataSource));
        var window = (new DateTimeOffset(2026, 1, 26, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 1, 31, 0, 0, 0, TimeSpan.Zero));
        var old = await repository.GetOhlcvAsync("OTHER", BucketWidth.OneDay, window.Item1, window.Item2, new OhlcvOptions { Adjusted = true }, Ct);
        var corrected = await ingestor.IngestCorporateActionsAsync(new[] { OtherActions[0] with { Value = 4m } }.ToAsyncEnumerable(), Ct);
        var updated = await repository.GetOhlcvAsync("OTHER", BucketWidth.OneDay, window.Item1, window.Item2, new OhlcvOptions { Adjusted = true }, Ct);
        await ingestor.IngestCorporateActionsAsync(OtherActions.ToAsyncEnumerable(), Ct);

        Assert.Equal((1L, 1L, 0L), (corrected.RowsRead, corrected.RowsWritten, corrected.RowsSkipped));
        Assert.Equal(old.Candles.Select(c => c.Close * 5 / 4), updated.Candles.Select(c => c.Close));
    }

    [Fact]
    public async Task The_cli_loads_actions_from_csv_and_adjusted_closes_agree_with_a_providers()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("cli_actions", migrate: true);
        await using var _ = dataSource;
        // A provider's adjusted closes, worked out by hand: 4-for-1 on June 5, 2.50 of dividend on June 8 (the close before
        // it is 100: factor 0.975), 1-for-2 on June 9. Before June 5: 100 x 2/4 x 0.975 = 48.75; June 5-7: 100 x 2 x 0.975.
        decimal Provider(int day) => day switch { < 5 => 48.75m, < 8 => 195m, 8 => 200m, _ => 100m };
        await Ingestor(dataSource).IngestPricesAsync(
            Enumerable.Range(1, 10).Select(d => new PriceRow("XYZ", new DateTimeOffset(2026, 6, d, 15, 0, 0, TimeSpan.Zero), 100, 101, 99, 100, 10, Provider(d))),
            new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create }, Ct);
        var csv = Path.Combine(Path.GetTempPath(), $"actions-{Guid.NewGuid():N}.csv");
        await File.WriteAllLinesAsync(csv,
            ["symbol,kind,effective,value,source", "xyz,split,2026-06-05,4,exchange", "XYZ,dividend,2026-06-08T00:00:00Z,2.5,", "XYZ,split,2026-06-09,1:2,exchange"], Ct);

        var load = await RunCliAsync("ingest", csv, "--table", "corporate_actions", "--connection", connectionString);
        var candles = await RunCliAsync("ohlcv", "XYZ", "--interval", "1day", "--from", "2026-06-01", "--to", "2026-06-11", "--adjusted", "--json", "--connection", connectionString);
        await File.WriteAllLinesAsync(csv, ["symbol,kind,effective,value", "XYZ,merger,2026-06-05,4"], Ct);
        var refused = await RunCliAsync("ingest", csv, "--table", "corporate_actions", "--connection", connectionString);
        File.Delete(csv);

        Assert.True(load.Code == 0, load.Error);
        Assert.Equal(3L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM corporate_actions"));
        Assert.True(candles.Code == 0, candles.Error);
        using var json = System.Text.Json.JsonDocument.Parse(candles.Output);
        var list = json.RootElement.GetProperty("candles").EnumerateArray().ToList();
        var stored = (await dataSource.QueryAsync("SELECT adjusted_close FROM asset_prices_historic ORDER BY date")).Select(r => (decimal)r[0]!).ToList();
        Assert.Equal(stored, list.Select(c => c.GetProperty("adjustedClose").GetDecimal()));
        Assert.Equal([50m, 50m, 50m, 50m, 200m, 200m, 200m, 200m, 100m, 100m], list.Select(c => c.GetProperty("close").GetDecimal()));
        Assert.Equal([20m, 20m, 20m, 20m, 5m, 5m, 5m, 5m, 10m, 10m], list.Select(c => c.GetProperty("volume").GetDecimal()));
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
        decimal newShares = 1, oldShares = 1, dividend = 1;
        foreach (var action in Actions.Where(a => a.EffectiveAt > row.Date))
        {
            if (action.Kind == CorporateActionKind.Split)
            {
                (newShares, oldShares) = (newShares * action.Value, oldShares * action.Per);
            }
            else
            {
                var previous = rows.Where(r => r.Date < action.EffectiveAt).MaxBy(r => r.Date)!.Close;
                dividend *= 1 - (action.Value / previous);
            }
        }

        static decimal R(decimal x) => Math.Round(x, 8, MidpointRounding.AwayFromZero);
        decimal Price(decimal p) => R(p * oldShares / newShares);
        return (row with { Open = Price(row.Open), High = Price(row.High), Low = Price(row.Low), Close = Price(row.Close), Volume = R(row.Volume * newShares / oldShares) },
            R(row.Close * dividend * oldShares / newShares));
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

                    var level = Actions.Where(a => a.Kind == CorporateActionKind.Split && a.EffectiveAt <= t).Aggregate(180m, (p, a) => p * a.Per / a.Value);
                    var open = Math.Round(level * (1 + (((decimal)random.NextDouble() - 0.5m) / 50)), 4);
                    var close = Math.Round(level * (1 + (((decimal)random.NextDouble() - 0.5m) / 50)), 4);
                    rows.Add(new PriceRow("ADJ", t, open, Math.Max(open, close) + 0.37m, Math.Min(open, close) - 0.29m, close,
                        Math.Round((decimal)random.NextDouble() * 5000, 3), TradeCount: random.Next(1, 90)));
                }

                var ingestor = Ingestor(dataSource);
                await ingestor.IngestPricesAsync(rows.Concat(rows.Select(r => r with { Symbol = "OTHER" })),
                    new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create }, Ct);
                var loaded = await ingestor.IngestCorporateActionsAsync(Actions.Concat(OtherActions).ToAsyncEnumerable(), Ct);
                Assert.Equal(9L, loaded.RowsWritten);
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
