using FinanceHub.Data.Ingest;
using FinanceHub.Data.Querying;

namespace FinanceHub.Data.Tests.Querying;

/// <summary>Candles and buckets computed in plain C#, the answers the database must give.</summary>
public static class Reference
{
    // TimescaleDB's default origin for buckets without months: Monday 2000-01-03 (midnight in the bucket's zone).
    private static readonly DateTime Origin = new(2000, 1, 3, 0, 0, 0, DateTimeKind.Unspecified);

    /// <summary>The start of the bucket containing <paramref name="t"/>, as time_bucket(width, t, zone) computes it.</summary>
    public static DateTimeOffset BucketStart(DateTimeOffset t, BucketWidth width, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(t, zone).DateTime;
        DateTime start;
        if (width.Months > 0)
        {
            var monthIndex = (local.Year * 12) + local.Month - 1;
            var bucketIndex = monthIndex - (((monthIndex - (2000 * 12)) % width.Months) + width.Months) % width.Months;
            start = new DateTime(bucketIndex / 12, (bucketIndex % 12) + 1, 1, 0, 0, 0, DateTimeKind.Unspecified);
        }
        else
        {
            var ticks = (local - Origin).Ticks;
            var floored = ticks - (((ticks % width.Duration.Ticks) + width.Duration.Ticks) % width.Duration.Ticks);
            start = Origin.AddTicks(floored);
        }

        return new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(DateTime.SpecifyKind(start, DateTimeKind.Unspecified), zone), TimeSpan.Zero);
    }

    /// <summary>Candles of <paramref name="rows"/> (one asset) over [start, end).</summary>
    public static List<Candle> Candles(IEnumerable<PriceRow> rows, BucketWidth width, TimeZoneInfo zone, DateTimeOffset start, DateTimeOffset end)
        => [.. rows.Where(r => r.Date >= start && r.Date < end)
            .GroupBy(r => BucketStart(r.Date, width, zone))
            .OrderBy(g => g.Key)
            .Select(g =>
            {
                var ordered = g.OrderBy(r => r.Date).ToList();
                return new Candle(g.Key, ordered[0].Open, ordered.Max(r => r.High), ordered.Min(r => r.Low), ordered[^1].Close,
                    ordered.Sum(r => r.Volume), ordered.Sum(r => (long)(r.TradeCount ?? 1)));
            })];

    /// <summary>Gap-filled candles: every bucket of the range, empty ones carrying the previous close.</summary>
    public static List<Candle> FilledCandles(IReadOnlyList<PriceRow> rows, BucketWidth width, TimeZoneInfo zone, DateTimeOffset start, DateTimeOffset end)
    {
        var candles = Candles(rows, width, zone, start, end).ToDictionary(c => c.Bucket);
        decimal? previous = rows.Where(r => r.Date < start).OrderBy(r => r.Date).LastOrDefault()?.Close;
        var result = new List<Candle>();
        for (var bucket = BucketStart(start, width, zone); bucket < end; bucket = NextBucket(bucket, width, zone))
        {
            if (candles.TryGetValue(bucket, out var candle))
            {
                result.Add(candle);
                previous = candle.Close;
            }
            else if (previous is { } close)
            {
                result.Add(new Candle(bucket, close, close, close, close, 0, 0, IsFilled: true));
            }
        }

        return result;
    }

    private static DateTimeOffset NextBucket(DateTimeOffset bucket, BucketWidth width, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(bucket, zone).DateTime;
        var next = width.Months > 0 ? local.AddMonths(width.Months) : local.Add(width.Duration);
        return new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(DateTime.SpecifyKind(next, DateTimeKind.Unspecified), zone), TimeSpan.Zero);
    }

    /// <summary>Deterministic prices: irregular times (3 to 20 minutes apart, some exactly on hour and day edges), 8-decimal values.</summary>
    public static List<PriceRow> GeneratePrices(string symbol, DateTimeOffset from, DateTimeOffset to, int seed, params (DateTimeOffset From, DateTimeOffset To)[] gaps)
    {
        var random = new Random(seed);
        var rows = new List<PriceRow>();
        var price = 100m + seed;
        for (var t = from; t < to;)
        {
            if (!gaps.Any(g => t >= g.From && t < g.To))
            {
                var open = price;
                var close = Math.Round(price * (1 + ((decimal)random.NextDouble() - 0.5m) / 50m), 8);
                var high = Math.Max(open, close) + Math.Round((decimal)random.NextDouble(), 8);
                var low = Math.Min(open, close) - Math.Round((decimal)random.NextDouble(), 8);
                rows.Add(new PriceRow(symbol, t, open, high, low, close, Math.Round((decimal)random.NextDouble() * 1000, 8),
                    TradeCount: random.Next(4) == 0 ? null : random.Next(1, 50)));
                price = close;
            }

            // Mostly irregular steps; every so often land exactly on the next hour.
            t = random.Next(10) == 0
                ? new DateTimeOffset(t.UtcTicks - (t.UtcTicks % TimeSpan.TicksPerHour), TimeSpan.Zero).AddHours(1)
                : t.AddMinutes(random.Next(3, 21)).AddSeconds(random.Next(60));
        }

        return rows;
    }
}
