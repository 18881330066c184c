// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>
/// TimescaleDB's <c>time_bucket</c>, <c>first</c> and <c>last</c> for LINQ queries over <c>FinanceHubDbContext</c>
/// (registered by <c>UseFinanceHubNpgsql</c>). They only translate to SQL; calling them in memory throws.
/// </summary>
/// <example>
/// <code>
/// db.AssetPrices.Where(p => p.AssetId == id)
///   .GroupBy(p => EF.Functions.TimeBucket(TimeSpan.FromHours(1), p.Date))
///   .Select(g => new { Bucket = g.Key,
///                      Open = EF.Functions.First(g.Select(p => ValueTuple.Create(p.Open, p.Date))),
///                      Close = EF.Functions.Last(g.Select(p => ValueTuple.Create(p.Close, p.Date))) })
/// </code>
/// </example>
public static class TimescaleDbFunctionsExtensions
{
    private const string NotInMemory = "This TimescaleDB function only translates to SQL in an EF Core query; it has no in-memory implementation.";

    /// <summary><c>time_bucket(width, time)</c>: the start of the <paramref name="width"/> bucket containing <paramref name="time"/>.</summary>
    public static DateTimeOffset TimeBucket(this DbFunctions functions, TimeSpan width, DateTimeOffset time) => throw new InvalidOperationException(NotInMemory);

    /// <summary><c>time_bucket(width, time, timezone)</c>: buckets that follow the days of an IANA time zone.</summary>
    public static DateTimeOffset TimeBucket(this DbFunctions functions, TimeSpan width, DateTimeOffset time, string timeZone) => throw new InvalidOperationException(NotInMemory);

    /// <summary><c>first(value, time)</c>: the value of the earliest row of the group. Pass <c>g.Select(x => ValueTuple.Create(x.Value, x.Time))</c>.</summary>
    public static TValue First<TValue, TTime>(this DbFunctions functions, IEnumerable<ValueTuple<TValue, TTime>> valuesAndTimes) => throw new InvalidOperationException(NotInMemory);

    /// <summary><c>last(value, time)</c>: the value of the latest row of the group. Pass <c>g.Select(x => ValueTuple.Create(x.Value, x.Time))</c>.</summary>
    public static TValue Last<TValue, TTime>(this DbFunctions functions, IEnumerable<ValueTuple<TValue, TTime>> valuesAndTimes) => throw new InvalidOperationException(NotInMemory);
}
