using FinanceHub.Data.Archiving;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Querying;
using FinanceHub.Data.Tests.Archiving;
using FinanceHub.Data.Tests.Infrastructure;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Querying;

/// <summary>
/// A read of a range whose raw rows were archived and dropped says so instead of answering with fewer candles; the
/// aggregates still answer for it, and after a restore the raw rows do again.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class ColdTierTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Raw_reads_of_an_archived_and_dropped_range_name_it_while_aggregates_and_restored_rows_still_answer()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "cold_tier", withS3: false);
        ctx.Options.Format = ArchiveFormat.Parquet;
        var today = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero);
        var btc = await ctx.DataSource.InsertAssetAsync("BTC");
        await ctx.DataSource.InsertPricesAsync(btc, today.AddDays(-200), today, TimeSpan.FromHours(1));
        var manager = Manager(ctx.DataSource);
        foreach (var view in Aggregates.All)
        {
            await manager.RefreshContinuousAggregateAsync(view, cancellationToken: Ct);
        }

        var repository = new TimeSeriesRepository(ctx.DataSource, manager);
        var (oldFrom, oldTo) = (today.AddDays(-190), today.AddDays(-150));
        var dailyBefore = await repository.GetOhlcvAsync("BTC", "1day", oldFrom, oldTo, cancellationToken: Ct);

        var steps = await ctx.Archiver.RunAutomatedArchiveAsync("asset_prices_historic", 120, cancellationToken: Ct);
        var dropped = steps.Where(s => s.Dropped).ToList();
        Assert.NotEmpty(dropped);
        Assert.Equal(0L, await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic WHERE date >= $1 AND date < $2", oldFrom, oldTo));
        // A late row of another asset lands in the first dropped range: BTC's rows there are still only in the archive.
        var eth = await ctx.DataSource.InsertAssetAsync("ETH");
        await ctx.DataSource.InsertPricesAsync(eth, oldFrom.AddHours(2), oldFrom.AddHours(3), TimeSpan.FromHours(1));

        var dailyAfter = await repository.GetOhlcvAsync("BTC", "1day", oldFrom, oldTo, cancellationToken: Ct);
        var raw = await Assert.ThrowsAsync<ColdTierException>(() =>
            repository.GetOhlcvAsync("BTC", "1hour", oldFrom, oldTo, new OhlcvOptions { Source = CandleSource.Raw }, Ct));
        var edge = await Assert.ThrowsAsync<ColdTierException>(() =>
            repository.GetOhlcvAsync("BTC", "1day", oldFrom.AddHours(5), oldTo, cancellationToken: Ct)); // the first, partial day comes from raw rows
        var bucketed = await Assert.ThrowsAsync<ColdTierException>(() =>
            repository.GetTimeBucketedDataAsync(new TimeBucketQuery("asset_prices_historic", BucketWidth.Parse("1 day"), oldFrom, oldTo), Ct));
        var recent = await repository.GetOhlcvAsync("BTC", "1hour", today.AddDays(-10), today.AddDays(-9), new OhlcvOptions { Source = CandleSource.Raw }, Ct);

        // Daily candles of the dropped range come from the aggregate, all of them, unchanged.
        Assert.Equal(40, dailyBefore.Candles.Count);
        Assert.Equal(dailyBefore.Candles, dailyAfter.Candles);
        Assert.Contains("archived and dropped", raw.Message, StringComparison.Ordinal);
        Assert.Contains("financehub-data restore --table asset_prices_historic", raw.Message, StringComparison.Ordinal);
        Assert.All(raw.Ranges, r => Assert.True(r.Start < oldTo && r.End > oldFrom));
        var archived = dropped.Where(s => s.RangeStart < oldTo && s.RangeEnd > oldFrom).Select(s => s.ArchiveId).Order().ToList();
        Assert.Equal(archived, raw.Ranges.SelectMany(r => r.ArchiveIds).Order().ToList());
        Assert.Equal(Describe(raw.Ranges).Take(1), Describe(edge.Ranges)); // only the first day's raw edge is read, and only its range is named
        Assert.Equal(Describe(raw.Ranges), Describe(bucketed.Ranges));
        Assert.Equal(24, recent.Candles.Count);

        var restored = await ctx.Archiver.RestoreRangeAsync("asset_prices_historic", oldFrom, oldTo, Ct);
        var hourly = await repository.GetOhlcvAsync("BTC", "1hour", oldFrom, oldTo, new OhlcvOptions { Source = CandleSource.Raw }, Ct);

        Assert.All(restored, r => Assert.Equal(r.RowsInArchive, r.RowsRestored));
        Assert.Equal(40 * 24, hourly.Candles.Count);
        Assert.Single((await repository.GetOhlcvAsync("ETH", "1hour", oldFrom, oldTo, new OhlcvOptions { Source = CandleSource.Raw }, Ct)).Candles);
    }

    private static List<string> Describe(IEnumerable<ColdRange> ranges) => [.. ranges.Select(r => $"{r.Start:O} {r.End:O} {string.Join(',', r.ArchiveIds)}")];
}
