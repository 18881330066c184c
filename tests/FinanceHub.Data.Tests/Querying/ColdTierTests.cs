using FinanceHub.Data.Archiving;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Querying;
using FinanceHub.Data.Tests.Archiving;
using FinanceHub.Data.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
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

    [Fact]
    public async Task As_of_prices_that_archived_and_dropped_rows_could_supersede_say_so_until_those_rows_are_restored()
    {
        await using var ctx = await ArchiveTestContext.CreateAsync(fixture, "cold_as_of", withS3: false);
        var today = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero);
        var hour = TimeSpan.FromHours(1);
        var btc = await ctx.DataSource.InsertAssetAsync("BTC");
        var eth = await ctx.DataSource.InsertAssetAsync("ETH");
        var doge = await ctx.DataSource.InsertAssetAsync("DOGE");
        await ctx.DataSource.InsertPricesAsync(btc, today.AddDays(-200), today, hour);
        await ctx.DataSource.InsertPricesAsync(eth, today.AddDays(-200), today.AddDays(-160), hour); // stopped trading
        await ctx.DataSource.InsertPricesAsync(doge, today.AddDays(-200), today.AddDays(-190), hour); // and came back
        await ctx.DataSource.InsertPricesAsync(doge, today.AddDays(-100), today, hour);
        // A portfolio of 16 as of one instant takes the function's other path (the chunk's last rows).
        string[] portfolio = [.. Enumerable.Range(1, 16).Select(i => $"P{i:00}")];
        foreach (var symbol in portfolio)
        {
            await ctx.DataSource.InsertPricesAsync(await ctx.DataSource.InsertAssetAsync(symbol), today.AddDays(-10), today, hour);
        }

        (string Symbol, DateTimeOffset At)[] requests =
        [
            ("BTC", today), ("BTC", today.AddDays(-150).AddMinutes(30)), ("ETH", today), ("DOGE", today), ("DOGE", today.AddDays(-110)),
            ("BTC", today.AddDays(-118).AddMinutes(30)),
        ];
        var before = await ExpectedAsOfAsync(ctx.DataSource, requests);
        var repository = new AsOfPriceRepository(ctx.DataSource);
        var answersBefore = await repository.GetPricesAsOfAsync(requests.Select(r => new AsOfRequest(r.Symbol, r.At)), cancellationToken: Ct);

        var dropped = (await ctx.Archiver.RunAutomatedArchiveAsync("asset_prices_historic", 120, cancellationToken: Ct)).Where(s => s.Dropped).ToList();
        var (droppedFrom, droppedTo) = (dropped.Min(s => s.RangeStart), dropped.Max(s => s.RangeEnd));
        Assert.NotEmpty(dropped);
        Assert.InRange(droppedTo, today.AddDays(-130), today.AddDays(-118).AddMinutes(30)); // the last request's rows stay
        Assert.True(droppedFrom <= today.AddDays(-200));
        // A late row lands in a dropped range: BTC's other rows there are still only in the archive.
        var late = today.AddDays(-150).AddMinutes(10);
        await ctx.DataSource.ExecuteAsync(
            "INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume) VALUES ($1, $2, 7, 8, 6, 7, 1)", btc, late);
        // A backfill of another asset puts more rows into the first dropped range than its archive holds: BTC's, ETH's
        // and DOGE's rows there are still only in the archive.
        var backfilled = dropped.OrderBy(s => s.RangeStart).First();
        await ctx.DataSource.InsertPricesAsync(await ctx.DataSource.InsertAssetAsync("BACKFILL"), backfilled.RangeStart, backfilled.RangeEnd, TimeSpan.FromMinutes(5));
        Assert.True(await ctx.DataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic WHERE date >= $1 AND date < $2",
            backfilled.RangeStart, backfilled.RangeEnd) > backfilled.Rows);
        // The edges: BTC's row at the end of the dropped ranges is the latest for the next half hour (nothing dropped lies
        // after it), and nothing at all existed before their start.
        (string Symbol, DateTimeOffset At)[] edges = [("BTC", droppedTo.AddMinutes(30)), ("BTC", droppedFrom.AddTicks(-10))];

        var answers = await repository.GetPricesAsOfAsync(requests.Select(r => new AsOfRequest(r.Symbol, r.At)), cancellationToken: Ct);
        var edgeAnswers = await repository.GetPricesAsOfAsync(edges.Select(r => new AsOfRequest(r.Symbol, r.At)), cancellationToken: Ct);
        var stale = await repository.GetPriceAsOfAsync("BTC", late.AddMinutes(20), new AsOfOptions { MaxAge = TimeSpan.FromMinutes(1) }, Ct);
        var portfolioAnswers = await repository.GetPricesAsOfAsync([.. portfolio, "ETH"], today, cancellationToken: Ct);
        await using var context = DatabaseFixture.CreateContext(ctx.DataSource);
        var linq = await context.PricesAsOf(["ETH", "BTC", "NOPE"], today).OrderBy(p => p.Ordinal).ToListAsync(Ct);
        var cli = await RunCliAsync("asof", "ETH,BTC", "--at", today.ToString("O"), "--connection", ctx.ConnectionString);

        // Before archiving, every answer is the max(date) row; after, the ones whose rows stayed are unchanged.
        Assert.Equal(before, answersBefore.Select(AsOfText));
        Assert.Equal([before[0], before[3], before[5]], new[] { answers[0], answers[3], answers[5] }.Select(AsOfText));
        Assert.Equal(await ExpectedAsOfAsync(ctx.DataSource, edges), edgeAnswers.Select(AsOfText));
        Assert.Equal([AsOfStatus.Found, AsOfStatus.NoPrice], edgeAnswers.Select(a => a.Status));
        Assert.Equal(droppedTo, edgeAnswers[0].Price!.Date);
        Assert.Equal(await ExpectedAsOfAsync(ctx.DataSource, [.. portfolio.Select(s => (s, today))]), portfolioAnswers.Take(16).Select(AsOfText));
        Assert.Equal(AsOfStatus.Archived, portfolioAnswers[16].Status);
        // The others would be older prices than the truth (or none): they say what to restore instead, an archived
        // answer also where the price found would be stale.
        var allDropped = dropped.OrderBy(s => s.RangeStart).Select(s => s.ArchiveId).ToList();
        var lateArchive = dropped.Single(s => s.RangeStart <= late && s.RangeEnd > late);
        foreach (var (answer, latest) in new[] { (answers[1], (DateTimeOffset?)late), (answers[2], null), (answers[4], null), (stale, late) })
        {
            Assert.Equal(AsOfStatus.Archived, answer.Status);
            Assert.Null(answer.Price);
            Assert.Equal(latest, answer.LatestDate);
            Assert.Equal("asset_prices_historic", answer.Archived!.Table);
        }

        // Nothing of ETH is left, nor of DOGE before -110 days: every dropped archive may hold the latest price, in order.
        Assert.Equal((droppedFrom, droppedTo), (answers[2].Archived!.Start, answers[2].Archived!.End));
        Assert.Equal(allDropped, answers[2].Archived!.ArchiveIds);
        Assert.Equal(allDropped, answers[4].Archived!.ArchiveIds);
        // BTC's late row: only the rest of its own archive.
        Assert.Equal((lateArchive.RangeStart, lateArchive.RangeEnd), (answers[1].Archived!.Start, answers[1].Archived!.End));
        Assert.Equal([lateArchive.ArchiveId], answers[1].Archived!.ArchiveIds);
        Assert.Equal([lateArchive.ArchiveId], stale.Archived!.ArchiveIds);
        // LINQ: the same columns; an unknown symbol is no archived answer.
        Assert.Equal((droppedFrom, droppedTo), (linq[0].ArchivedFrom, linq[0].ArchivedTo));
        Assert.Null(linq[0].Close);
        Assert.Equal(allDropped, linq[0].ArchiveIds);
        Assert.Null(linq[1].ArchivedFrom);
        Assert.Equal(before[0], AsOfText(new AsOfPrice("BTC", today, AsOfStatus.Found,
            new PricePoint(linq[1].Date!.Value, 0, 0, 0, linq[1].Close!.Value, null, 0, null), linq[1].LatestDate)));
        Assert.Null(linq[2].AssetId);
        Assert.Null(linq[2].ArchivedFrom);
        Assert.Equal(0, cli.Code);
        Assert.Contains("(ETH) may have a later price in rows that were archived and dropped", cli.Output, StringComparison.Ordinal);
        Assert.Contains($"financehub-data restore --table asset_prices_historic --from {Iso(droppedFrom)} --to {Iso(droppedTo)}", cli.Output, StringComparison.Ordinal);

        // Restored: the answers of before archiving, and BTC's late row where it is the latest.
        await ctx.Archiver.RestoreRangeAsync("asset_prices_historic", droppedFrom, droppedTo, Ct);
        var restored = await repository.GetPricesAsOfAsync(requests.Select(r => new AsOfRequest(r.Symbol, r.At)), cancellationToken: Ct);
        Assert.Equal(await ExpectedAsOfAsync(ctx.DataSource, requests), restored.Select(AsOfText));
        Assert.Equal([before[0], before[2], before[3], before[4], before[5]], new[] { restored[0], restored[2], restored[3], restored[4], restored[5] }.Select(AsOfText));
        Assert.Equal(late, restored[1].Price!.Date);

        // Archived and dropped again by the next automated run (the restored rows are past retention), then restored
        // again: each dropped archive must be restored after its drop, the range holds its rows once, not twice.
        var again = (await ctx.Archiver.RunAutomatedArchiveAsync("asset_prices_historic", 120, cancellationToken: Ct)).Where(s => s.Dropped).ToList();
        var archivedAgain = await repository.GetPriceAsOfAsync("ETH", today, cancellationToken: Ct);
        await ctx.Archiver.RestoreRangeAsync("asset_prices_historic", droppedFrom, droppedTo, Ct);
        var backAgain = await repository.GetPricesAsOfAsync(requests.Select(r => new AsOfRequest(r.Symbol, r.At)), cancellationToken: Ct);

        Assert.NotEmpty(again);
        Assert.Equal(AsOfStatus.Archived, archivedAgain.Status);
        Assert.Subset(archivedAgain.Archived!.ArchiveIds.ToHashSet(), again.Select(s => s.ArchiveId).Concat(allDropped).ToHashSet());
        Assert.Equal(await ExpectedAsOfAsync(ctx.DataSource, requests), backAgain.Select(AsOfText));
        Assert.Equal([before[0], before[2], before[3], before[4], before[5]], new[] { backAgain[0], backAgain[2], backAgain[3], backAgain[4], backAgain[5] }.Select(AsOfText));
        Assert.Equal(late, backAgain[1].Price!.Date);
    }

    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The max(date) row at or before each instant, in plain SQL: "symbol status date close".</summary>
    private static async Task<List<string>> ExpectedAsOfAsync(Npgsql.NpgsqlDataSource dataSource, (string Symbol, DateTimeOffset At)[] requests)
    {
        var expected = new List<string>();
        foreach (var (symbol, at) in requests)
        {
            var rows = await dataSource.QueryAsync(
                """
                SELECT p.date, p.close FROM asset_prices_historic p JOIN assets a ON a.id = p.asset_id
                WHERE a.symbol = $1 AND p.date = (SELECT max(q.date) FROM asset_prices_historic q WHERE q.asset_id = a.id AND q.date <= $2)
                """, symbol, at);
            expected.Add(rows.Count == 0 ? $"{symbol} NoPrice" : $"{symbol} Found {((DateTime)rows[0][0]!):O} {rows[0][1]}");
        }

        return expected;
    }

    private static string AsOfText(AsOfPrice p)
        => p.Price is { } price ? $"{p.Symbol} {p.Status} {price.Date.UtcDateTime:O} {price.Close}" : $"{p.Symbol} {p.Status}";

    private static List<string> Describe(IEnumerable<ColdRange> ranges) => [.. ranges.Select(r => $"{r.Start:O} {r.End:O} {string.Join(',', r.ArchiveIds)}")];
}
