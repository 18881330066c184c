using FinanceHub.Data.Ingest;
using FinanceHub.Data.Querying;
using FinanceHub.Data.Querying.Sessions;
using FinanceHub.Data.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Npgsql;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Querying;

/// <summary>
/// Exchange calendars against the exchanges' published holidays and early closes, and session candles against a
/// reference built from sessions written out by hand here (NYSE around Thanksgiving 2026 and the March 2026 clock change).
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class SessionCandleTests(DatabaseFixture fixture)
{
    private static readonly SemaphoreSlim InitLock = new(1, 1);
    private static (NpgsqlDataSource DataSource, List<PriceRow> Rows)? _data;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Published holiday calendars (weekdays without a session) and early closes.
    public static TheoryData<string, int, string[], string[]> Published => new()
    {
        { "XNYS", 2020, ["01-01", "01-20", "02-17", "04-10", "05-25", "07-03", "09-07", "11-26", "12-25"], ["11-27", "12-24"] },
        { "XNYS", 2023, ["01-02", "01-16", "02-20", "04-07", "05-29", "06-19", "07-04", "09-04", "11-23", "12-25"], ["07-03", "11-24"] },
        { "XNYS", 2025, ["01-01", "01-09", "01-20", "02-17", "04-18", "05-26", "06-19", "07-04", "09-01", "11-27", "12-25"], ["07-03", "11-28", "12-24"] },
        { "XNYS", 2026, ["01-01", "01-19", "02-16", "04-03", "05-25", "06-19", "07-03", "09-07", "11-26", "12-25"], ["11-27", "12-24"] },
        { "XNYS", 2027, ["01-01", "01-18", "02-15", "03-26", "05-31", "06-18", "07-05", "09-06", "11-25", "12-24"], ["11-26"] },
        { "XLON", 2022, ["01-03", "04-15", "04-18", "05-02", "06-02", "06-03", "08-29", "09-19", "12-26", "12-27"], ["12-23", "12-30"] },
        { "XLON", 2023, ["01-02", "04-07", "04-10", "05-01", "05-08", "05-29", "08-28", "12-25", "12-26"], ["12-22", "12-29"] },
        { "XLON", 2026, ["01-01", "04-03", "04-06", "05-04", "05-25", "08-31", "12-25", "12-28"], ["12-24", "12-31"] },
        { "XLON", 2027, ["01-01", "03-26", "03-29", "05-03", "05-31", "08-30", "12-27", "12-28"], ["12-24", "12-31"] },
        { "XETR", 2026, ["01-01", "04-03", "04-06", "05-01", "12-24", "12-25", "12-31"], ["12-30"] },
    };

    [Theory]
    [MemberData(nameof(Published))]
    public void Calendars_close_on_the_published_holidays_and_early(string name, int year, string[] holidays, string[] earlyCloses)
    {
        var calendar = new ExchangeCalendars().Get(name);
        var closed = new List<string>();
        var early = new List<string>();
        for (var date = new DateOnly(year, 1, 1); date.Year == year; date = date.AddDays(1))
        {
            var session = calendar.Session(date);
            if (session is null && date.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday))
            {
                closed.Add(date.ToString("MM-dd", System.Globalization.CultureInfo.InvariantCulture));
            }

            if (session is { IsEarlyClose: true })
            {
                early.Add(date.ToString("MM-dd", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        Assert.Equal(holidays, closed);
        Assert.Equal(earlyCloses, early);
    }

    [Fact]
    public void Sessions_follow_the_exchanges_clock_changes_and_early_closes()
    {
        var nyse = ExchangeCalendars.Xnys;
        Assert.Equal((At(2026, 3, 6, 14, 30), At(2026, 3, 6, 21, 0)), Times(nyse.Session(new DateOnly(2026, 3, 6))!));
        Assert.Equal((At(2026, 3, 9, 13, 30), At(2026, 3, 9, 20, 0)), Times(nyse.Session(new DateOnly(2026, 3, 9))!));
        Assert.Equal((At(2026, 11, 27, 14, 30), At(2026, 11, 27, 18, 0)), Times(nyse.Session(new DateOnly(2026, 11, 27))!));
        var london = ExchangeCalendars.Xlon;
        Assert.Equal((At(2026, 3, 27, 8, 0), At(2026, 3, 27, 16, 30)), Times(london.Session(new DateOnly(2026, 3, 27))!));
        Assert.Equal((At(2026, 3, 30, 7, 0), At(2026, 3, 30, 15, 30)), Times(london.Session(new DateOnly(2026, 3, 30))!));
        Assert.Equal((At(2026, 12, 24, 8, 0), At(2026, 12, 24, 12, 30)), Times(london.Session(new DateOnly(2026, 12, 24))!));

        // A wall time the spring-forward skips is read with the offset before the change, as PostgreSQL reads it.
        var night = ExchangeCalendars.Define("NIGHT", new CalendarDefinition { TimeZone = "America/New_York", Open = "02:30", Close = "05:00", Weekend = [DayOfWeek.Saturday] });
        Assert.Equal((At(2026, 3, 8, 7, 30), At(2026, 3, 8, 9, 0)), Times(night.Session(new DateOnly(2026, 3, 8))!));

        static (DateTimeOffset, DateTimeOffset) Times(TradingSession s) => (s.Open, s.Close);
    }

    [Fact]
    public void A_calendar_is_added_by_configuration_and_bad_definitions_are_named()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FinanceHub:Calendars:XTKS:TimeZone"] = "Asia/Tokyo",
            ["FinanceHub:Calendars:XTKS:Open"] = "09:00",
            ["FinanceHub:Calendars:XTKS:Close"] = "15:30",
            ["FinanceHub:Calendars:XTKS:Holidays:0"] = "01-01",
            ["FinanceHub:Calendars:XTKS:Holidays:1"] = "01-02",
            ["FinanceHub:Calendars:XTKS:Holidays:2"] = "2nd Monday 01",
            ["FinanceHub:Calendars:XTKS:EarlyCloses:0"] = "2026-12-30 @ 11:30",
        }).Build();

        var tokyo = new ExchangeCalendars(configuration).Get("xtks");

        Assert.Null(tokyo.Session(new DateOnly(2026, 1, 2)));
        Assert.Null(tokyo.Session(new DateOnly(2026, 1, 12)));
        Assert.Equal((At(2026, 1, 13, 0, 0), At(2026, 1, 13, 6, 30)), (tokyo.Session(new DateOnly(2026, 1, 13))!.Open, tokyo.Session(new DateOnly(2026, 1, 13))!.Close));
        Assert.Equal(At(2026, 12, 30, 2, 30), tokyo.Session(new DateOnly(2026, 12, 30))!.Close);
        Assert.Contains("XNYS", Assert.Throws<ArgumentException>(() => new ExchangeCalendars(configuration).Get("NOPE")).Message, StringComparison.Ordinal);
        Assert.Contains("'2nd Mondey 01'", Assert.Throws<ArgumentException>(() => CalendarRule.Parse("2nd Mondey 01")).Message, StringComparison.Ordinal);
        Assert.Contains("Mars/Olympus", Assert.Throws<ArgumentException>(() => ExchangeCalendars.Define("X", new CalendarDefinition { TimeZone = "Mars/Olympus", Open = "09:00", Close = "10:00" })).Message, StringComparison.Ordinal);
        Assert.Contains("'25:00'", Assert.Throws<ArgumentException>(() => ExchangeCalendars.Define("X", new CalendarDefinition { TimeZone = "UTC", Open = "09:00", Close = "25:00" })).Message, StringComparison.Ordinal);
        Assert.Contains("after the open", Assert.Throws<ArgumentException>(() => ExchangeCalendars.Define("X",
            new CalendarDefinition { TimeZone = "UTC", Open = "09:00", Close = "17:00", EarlyCloses = ["12-24 @ 08:00"] })).Message, StringComparison.Ordinal);
        Assert.Contains("'02-29'", Assert.Throws<ArgumentException>(() => CalendarRule.Parse("02-29")).Message, StringComparison.Ordinal);
    }

    public static TheoryData<string> Widths => ["1day", "1hour", "15min", "1week", "1month"];

    [Theory]
    [MemberData(nameof(Widths))]
    public async Task Session_candles_equal_the_reference_built_from_sessions_written_out(string interval)
    {
        var (dataSource, rows) = await SetUpAsync();
        var repository = new TimeSeriesRepository(dataSource, Manager(dataSource));
        var width = BucketWidth.Parse(interval);

        foreach (var (start, end) in new[] { (At(2026, 11, 16, 0, 0), At(2026, 12, 8, 0, 0)), (At(2026, 3, 2, 0, 0), At(2026, 3, 14, 0, 0)), (At(2026, 11, 25, 17, 0), At(2026, 11, 30, 19, 0)) })
        {
            var result = await repository.GetOhlcvAsync("EQ", width, start, end, new OhlcvOptions { Session = ExchangeCalendars.Xnys }, Ct);

            Assert.Equal("America/New_York", result.TimeZone);
            Assert.Equal(ReferenceCandles(rows, width, start, end), result.Candles);
        }
    }

    [Fact]
    public async Task Gap_filled_session_candles_fill_sessions_only()
    {
        var (dataSource, rows) = await SetUpAsync();
        var repository = new TimeSeriesRepository(dataSource, Manager(dataSource));
        var (start, end) = (At(2026, 11, 30, 0, 0), At(2026, 12, 8, 0, 0));

        var result = await repository.GetOhlcvAsync("EQ", BucketWidth.OneDay, start, end, new OhlcvOptions { Session = ExchangeCalendars.Xnys, FillGaps = true }, Ct);

        // December 2 has no rows (see the fixture): filled with December 1's close; the weekend gets nothing.
        var reference = ReferenceCandles(rows, BucketWidth.OneDay, start, end);
        Assert.Equal(6, result.Candles.Count);
        Assert.Equal(reference.Where(c => c.Bucket != At(2026, 12, 2, 14, 30)), result.Candles.Where(c => !c.IsFilled));
        var filled = Assert.Single(result.Candles, c => c.IsFilled);
        Assert.Equal((At(2026, 12, 2, 14, 30), reference.Single(c => c.Bucket == At(2026, 12, 1, 14, 30)).Close), (filled.Bucket, filled.Close));

        // Asked alone, December 2 carries the same close: the last row inside a session, not the after-hours rows after it.
        var alone = await repository.GetOhlcvAsync("EQ", BucketWidth.OneDay, At(2026, 12, 2, 0, 0), At(2026, 12, 3, 0, 0),
            new OhlcvOptions { Session = ExchangeCalendars.Xnys, FillGaps = true }, Ct);
        Assert.Equal([filled], alone.Candles);
        Assert.NotEqual(filled.Close, rows.Last(r => r.Date < At(2026, 12, 2, 0, 0)).Close);
    }

    [Fact]
    public async Task A_week_is_labelled_by_its_first_session_whatever_day_the_range_starts()
    {
        var (dataSource, _) = await SetUpAsync();
        var repository = new TimeSeriesRepository(dataSource, Manager(dataSource));
        var options = new OhlcvOptions { Session = ExchangeCalendars.Xnys };

        var fromMonday = await repository.GetOhlcvAsync("EQ", BucketWidth.Parse("1week"), At(2026, 11, 23, 0, 0), At(2026, 11, 30, 0, 0), options, Ct);
        var fromWednesday = await repository.GetOhlcvAsync("EQ", BucketWidth.Parse("1week"), At(2026, 11, 25, 0, 0), At(2026, 11, 30, 0, 0), options, Ct);
        var month = await repository.GetOhlcvAsync("EQ", BucketWidth.Parse("1month"), At(2026, 11, 20, 0, 0), At(2026, 12, 1, 0, 0), options, Ct);

        Assert.Equal(At(2026, 11, 23, 14, 30), Assert.Single(fromMonday.Candles).Bucket);
        Assert.Equal(At(2026, 11, 23, 14, 30), Assert.Single(fromWednesday.Candles).Bucket);
        Assert.Equal(At(2026, 11, 2, 14, 30), Assert.Single(month.Candles).Bucket);
    }

    [Fact]
    public async Task The_cli_prints_session_candles_and_sessions_and_names_unknown_calendars()
    {
        var (dataSource, _) = await SetUpAsync();
        var connection = _connectionString!;
        _ = dataSource;

        var candles = await RunCliAsync("ohlcv", "EQ", "--session", "XNYS", "--interval", "1day", "--from", "2026-11-23", "--to", "2026-11-28", "--json", "--connection", connection);
        var sessions = await RunCliAsync("sessions", "xnys", "--from", "2026-11-23", "--to", "2026-11-28");
        var unknown = await RunCliAsync("ohlcv", "EQ", "--session", "XNAS", "--from", "2026-11-23", "--to", "2026-11-28", "--connection", connection);

        Assert.True(candles.Code == 0, candles.Error);
        using var json = System.Text.Json.JsonDocument.Parse(candles.Output);
        Assert.Equal(["2026-11-23T14:30:00+00:00", "2026-11-24T14:30:00+00:00", "2026-11-25T14:30:00+00:00", "2026-11-27T14:30:00+00:00"],
            json.RootElement.GetProperty("candles").EnumerateArray().Select(c => c.GetProperty("bucket").GetDateTimeOffset().ToString("yyyy-MM-ddTHH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.True(sessions.Code == 0, sessions.Error);
        Assert.Contains("2026-11-27 Fri", sessions.Output, StringComparison.Ordinal);
        Assert.Contains("early close", sessions.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("2026-11-26", sessions.Output, StringComparison.Ordinal);
        Assert.Equal(Data.Cli.ExitCodes.Usage, unknown.Code);
        Assert.Contains("XNYS", unknown.Error, StringComparison.Ordinal);
    }

    private static DateTimeOffset At(int y, int m, int d, int h, int min) => new(y, m, d, h, min, 0, TimeSpan.Zero);

    /// <summary>NYSE sessions in the fixture's ranges, written out: 09:30-16:00 New York (EST before March 8 and from November 1), Thanksgiving closed, 13:00 the day after.</summary>
    private static List<(DateTimeOffset Open, DateTimeOffset Close)> SessionsWrittenOut()
    {
        var sessions = new List<(DateTimeOffset, DateTimeOffset)>();
        foreach (var (from, to) in new[] { (new DateOnly(2026, 2, 23), new DateOnly(2026, 3, 20)), (new DateOnly(2026, 11, 9), new DateOnly(2026, 12, 11)) })
        {
            for (var date = from; date <= to; date = date.AddDays(1))
            {
                if (date.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday || date == new DateOnly(2026, 11, 26))
                {
                    continue;
                }

                var utcOpenHour = date >= new DateOnly(2026, 3, 8) && date < new DateOnly(2026, 11, 1) ? 13 : 14;
                var open = At(date.Year, date.Month, date.Day, utcOpenHour, 30);
                sessions.Add((open, date == new DateOnly(2026, 11, 27) ? open.AddHours(3.5) : open.AddHours(6.5)));
            }
        }

        return sessions;
    }

    private static List<Candle> ReferenceCandles(List<PriceRow> rows, BucketWidth width, DateTimeOffset start, DateTimeOffset end)
    {
        var all = SessionsWrittenOut();
        var sessions = all.Where(s => s.Close > start && s.Open < end).ToList();
        var segments = new List<(DateTimeOffset Bucket, DateTimeOffset Start, DateTimeOffset End)>();
        foreach (var (open, close) in sessions)
        {
            var bucket = width.Name switch
            {
                "1day" => open,
                "1week" => all.First(s => IsoWeek(s.Open) == IsoWeek(open)).Open,
                "1month" => open.Month == 11 ? At(2026, 11, 2, 14, 30) : all.First(s => s.Open.Month == open.Month).Open, // November's first session is before the fixture
                _ => DateTimeOffset.MinValue,
            };
            if (bucket != DateTimeOffset.MinValue)
            {
                segments.Add((bucket, open, close));
                continue;
            }

            for (var t = open; t < close; t += width.Duration)
            {
                segments.Add((t, t, t + width.Duration < close ? t + width.Duration : close));
            }

        }

        return [.. segments
            .Select(s => (s.Bucket, Rows: rows.Where(r => r.Date >= s.Start && r.Date < s.End && r.Date >= start && r.Date < end).ToList()))
            .GroupBy(s => s.Bucket, s => s.Rows)
            .Select(g => (Bucket: g.Key, Rows: g.SelectMany(r => r).OrderBy(r => r.Date).ToList()))
            .Where(g => g.Rows.Count > 0)
            .OrderBy(g => g.Bucket)
            .Select(g => new Candle(g.Bucket, g.Rows[0].Open, g.Rows.Max(r => r.High), g.Rows.Min(r => r.Low), g.Rows[^1].Close, g.Rows.Sum(r => r.Volume),
                g.Rows.Sum(r => (long)(r.TradeCount ?? 1))))];

        static (int, int) IsoWeek(DateTimeOffset t) => (System.Globalization.ISOWeek.GetYear(t.UtcDateTime), System.Globalization.ISOWeek.GetWeekOfYear(t.UtcDateTime));
    }

    private static string? _connectionString;

    private async Task<(NpgsqlDataSource DataSource, List<PriceRow> Rows)> SetUpAsync()
    {
        await InitLock.WaitAsync(Ct);
        try
        {
            if (_data is null)
            {
                var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("sessions", migrate: true);
                _connectionString = connectionString;
                // Bars every 5 minutes around the clock (pre-market, after hours, weekends, the holiday): only the rows
                // inside sessions may count. December 2 has no rows at all.
                var random = new Random(5);
                var rows = new List<PriceRow>();
                foreach (var (from, to) in new[] { (At(2026, 2, 23, 0, 0), At(2026, 3, 21, 0, 0)), (At(2026, 11, 9, 0, 0), At(2026, 12, 12, 0, 0)) })
                {
                    for (var t = from; t < to; t = t.AddMinutes(5))
                    {
                        if (t >= At(2026, 12, 2, 0, 0) && t < At(2026, 12, 3, 0, 0))
                        {
                            continue;
                        }

                        var open = Math.Round(50 + (decimal)random.NextDouble() * 10, 4);
                        var close = Math.Round(50 + (decimal)random.NextDouble() * 10, 4);
                        rows.Add(new PriceRow("EQ", t, open, Math.Max(open, close) + 0.5m, Math.Min(open, close) - 0.5m, close, Math.Round((decimal)random.NextDouble() * 100, 2),
                            TradeCount: random.Next(1, 20)));
                    }
                }

                await Ingestor(dataSource).IngestPricesAsync(rows, new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create, RefreshAggregates = false }, Ct);
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
