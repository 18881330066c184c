namespace FinanceHub.Data.Entities;

/// <summary>A hypertable of the project's model and the TimescaleDB settings the migrations give it.</summary>
/// <param name="Table">Table name (schema <c>public</c>).</param>
/// <param name="TimeColumn">Partitioning time column.</param>
/// <param name="ChunkInterval">Chunk time interval, as a PostgreSQL interval literal.</param>
/// <param name="Retention">Retention (drop after), as a PostgreSQL interval literal.</param>
/// <param name="CompressAfter">Age after which chunks are compressed (community edition).</param>
/// <param name="SegmentBy">Compression segment-by column, if any.</param>
public sealed record HypertableDefinition(
    string Table, string TimeColumn, string ChunkInterval, string Retention, string CompressAfter, string? SegmentBy);

/// <summary>The project's hypertables.</summary>
public static class Hypertables
{
    /// <summary><c>asset_prices_historic</c>: 7-day chunks, 2-year (730-day) retention.</summary>
    public static readonly HypertableDefinition AssetPrices = new("asset_prices_historic", "date", "7 days", "730 days", "30 days", "asset_id");

    /// <summary><c>performance_metrics</c>: 1-day chunks, 30-day retention.</summary>
    public static readonly HypertableDefinition PerformanceMetrics = new("performance_metrics", "created_at", "1 day", "30 days", "7 days", "metric_name");

    /// <summary><c>api_usage_logs</c>: 1-hour chunks, 7-day retention.</summary>
    public static readonly HypertableDefinition ApiUsageLogs = new("api_usage_logs", "created_at", "1 hour", "7 days", "1 day", "endpoint");

    /// <summary>All of them.</summary>
    public static IReadOnlyList<HypertableDefinition> All { get; } = [AssetPrices, PerformanceMetrics, ApiUsageLogs];

    /// <summary>The definition of <paramref name="table"/>, or an <see cref="ArgumentException"/> naming the known ones.</summary>
    public static HypertableDefinition Get(string table)
    {
        ArgumentNullException.ThrowIfNull(table);
        return All.FirstOrDefault(h => h.Table == table)
            ?? throw new ArgumentException(
                $"Unknown hypertable '{table}'. Known hypertables: {string.Join(", ", All.Select(h => h.Table))}.", nameof(table));
    }
}

/// <summary>The OHLCV aggregates over <c>asset_prices_historic</c>.</summary>
public static class Aggregates
{
    /// <summary>Hourly candles per asset.</summary>
    public const string Hourly = "asset_prices_hourly";

    /// <summary>Daily (UTC) candles per asset.</summary>
    public const string Daily = "asset_prices_daily";

    /// <summary>4-hour candles per asset, rolled up from <see cref="Hourly"/> (the candle ladder).</summary>
    public const string FourHour = "asset_prices_4hour";

    /// <summary>Weekly candles per asset (ISO weeks: Monday 00:00 UTC), rolled up from <see cref="Daily"/>.</summary>
    public const string Weekly = "asset_prices_weekly";

    /// <summary>Monthly candles per asset (calendar months, UTC), rolled up from <see cref="Daily"/>.</summary>
    public const string Monthly = "asset_prices_monthly";

    /// <summary>The two aggregates over the price rows, finest first.</summary>
    public static IReadOnlyList<string> All { get; } = [Hourly, Daily];

    /// <summary>
    /// The candle ladder: aggregates over <see cref="All"/>'s, parents before children (migrations-sql/0900_candle_ladder).
    /// Continuous aggregates on continuous aggregates on the community edition; on the Apache edition materialized views
    /// refreshed with their parent, in its transaction, so they share its watermark.
    /// </summary>
    public static IReadOnlyList<LadderRung> Ladder { get; } =
    [
        new(FourHour, Hourly, Querying.BucketWidth.FourHours),
        new(Weekly, Daily, Querying.BucketWidth.OneWeek),
        new(Monthly, Daily, Querying.BucketWidth.OneMonth),
    ];
}

/// <summary>A rung of the candle ladder: <paramref name="View"/> rolls up <paramref name="Parent"/>'s rows into buckets of <paramref name="Width"/>.</summary>
/// <param name="View">The aggregate.</param>
/// <param name="Parent">The aggregate it reads.</param>
/// <param name="Width">Its bucket width.</param>
public sealed record LadderRung(string View, string Parent, Querying.BucketWidth Width);
