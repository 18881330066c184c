using FinanceHub.Data.Ingest;
using FinanceHub.Data.Querying;
using FinanceHub.Data.Tests.Infrastructure;
using FinanceHub.Data.Timescale;
using FinanceHub.Data.Timescale.Maintenance;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Querying;

/// <summary>EF.Functions.TimeBucket / First / Last in application LINQ.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class LinqFunctionTests(DatabaseFixture fixture)
{
    private static readonly DateTimeOffset Day = new(2026, 11, 2, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Linq_candles_with_time_bucket_first_and_last_equal_the_reference()
    {
        var ct = TestContext.Current.CancellationToken;
        var (_, dataSource) = await fixture.CreateDatabaseAsync("linq", migrate: true);
        await using var _ = dataSource;
        var rows = Reference.GeneratePrices("BTC", Day, Day.AddDays(2), seed: 11);
        var manager = Manager(dataSource);
        await Ingestor(dataSource)
            .IngestPricesAsync(rows, new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create }, ct);
        await using var db = DatabaseFixture.CreateContext(dataSource);

        var query = db.AssetPrices
            .Where(p => p.Asset!.Symbol == "BTC")
            .GroupBy(p => EF.Functions.TimeBucket(TimeSpan.FromHours(4), p.Date))
            .OrderBy(g => g.Key)
            .Select(g => new
            {
                Bucket = g.Key,
                Open = EF.Functions.First(g.Select(p => ValueTuple.Create(p.Open, p.Date))),
                High = g.Max(p => p.High),
                Low = g.Min(p => p.Low),
                Close = EF.Functions.Last(g.Select(p => ValueTuple.Create(p.Close, p.Date))),
                Volume = g.Sum(p => p.Volume),
            });
        var sql = query.ToQueryString();
        var candles = await query.ToListAsync(ct);

        Assert.Contains("time_bucket(", sql, StringComparison.Ordinal);
        Assert.Matches(@"first\(\w+\.open, \w+\.date\)", sql);
        Assert.Matches(@"last\(\w+\.close, \w+\.date\)", sql);
        var expected = Reference.Candles(rows, BucketWidth.FourHours, TimeZoneInfo.Utc, Day, Day.AddDays(2));
        Assert.Equal(expected.Select(c => (c.Bucket, c.Open, c.High, c.Low, c.Close, c.Volume)),
            candles.Select(c => (c.Bucket, c.Open, c.High, c.Low, c.Close, c.Volume)));
    }

    [Fact]
    public void Calling_the_functions_in_memory_says_they_only_translate()
    {
        var error = Assert.Throws<InvalidOperationException>(() => EF.Functions.TimeBucket(TimeSpan.FromHours(1), DateTimeOffset.UtcNow));
        Assert.Contains("only translates to SQL", error.Message, StringComparison.Ordinal);
    }
}
