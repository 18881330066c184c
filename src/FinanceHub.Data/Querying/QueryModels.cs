namespace FinanceHub.Data.Querying;

/// <summary>One OHLCV candle.</summary>
/// <param name="Bucket">Start of the bucket (an instant; for zoned buckets, local midnight in that zone).</param>
/// <param name="Open">Open of the earliest row in the bucket.</param>
/// <param name="High">Highest high.</param>
/// <param name="Low">Lowest low.</param>
/// <param name="Close">Close of the latest row in the bucket.</param>
/// <param name="Volume">Sum of volume.</param>
/// <param name="TradeCount">Sum of the rows' trade counts, a row without one counting as one trade.</param>
/// <param name="IsFilled">A gap-filled bucket (no rows): open = high = low = close = the previous close, volume 0.</param>
/// <param name="AdjustedClose">
/// Adjusted candles only (<see cref="OhlcvOptions.Adjusted"/>): the close adjusted for splits and cash dividends after it.
/// </param>
public sealed record Candle(
    DateTimeOffset Bucket, decimal Open, decimal High, decimal Low, decimal Close, decimal Volume, long TradeCount, bool IsFilled = false,
    decimal? AdjustedClose = null);

/// <summary>Where candles are read from.</summary>
public enum CandleSource
{
    /// <summary>The aggregates for whole, materialized buckets and the raw table for the rest (default).</summary>
    Auto,

    /// <summary>Only the raw table (slower; the reference the aggregate path must equal).</summary>
    Raw,
}

/// <summary>Options of an OHLCV query.</summary>
public sealed record OhlcvOptions
{
    /// <summary>IANA time zone whose days, weeks and months daily-and-coarser buckets follow (default UTC). Ignored for sub-day buckets.</summary>
    public string TimeZone { get; init; } = "UTC";

    /// <summary>Return empty buckets too, with the previous close carried forward. Leading buckets before any known close are omitted.</summary>
    public bool FillGaps { get; init; }

    /// <summary>Where to read from.</summary>
    public CandleSource Source { get; init; } = CandleSource.Auto;

    /// <summary>
    /// Adjust for the asset's corporate actions, backward: prices divided and volumes multiplied by the ratios of the
    /// splits after each row, and <see cref="Candle.AdjustedClose"/> also multiplied by 1 - amount / previous close for
    /// each cash dividend after it. Computed from the raw rows as stored (the aggregates hold them unadjusted); each row's
    /// prices and volume rounded to 8 decimals. Not with <see cref="FillGaps"/>.
    /// </summary>
    public bool Adjusted { get; init; }

    /// <summary>
    /// Candles of an exchange's trading sessions instead of calendar time (<see cref="Sessions.ExchangeCalendars"/>): a
    /// daily candle is one session (closed days have none), a weekly one the sessions of an ISO week, a monthly one those
    /// of a calendar month, all in the calendar's zone; sub-day candles start at each session's open and end at its
    /// close. Rows outside sessions are left out. <see cref="TimeZone"/> is then the calendar's; read from raw rows.
    /// </summary>
    public Sessions.ExchangeCalendar? Session { get; init; }

    /// <summary>
    /// With a read endpoint configured: the most replay lag the answer may have; a replica further behind, or down, sends
    /// the query to the primary. None: <c>MaxReplicaLag</c> of the options (by default any lag).
    /// </summary>
    public TimeSpan? MaxStaleness { get; init; }

    /// <summary>Defaults: UTC, no gap filling, automatic source.</summary>
    public static OhlcvOptions Default { get; } = new();
}

/// <summary>Candles of one asset.</summary>
/// <param name="Symbol">The asset.</param>
/// <param name="Interval">Bucket width.</param>
/// <param name="TimeZone">Time zone of the buckets.</param>
/// <param name="Start">Inclusive start of the range.</param>
/// <param name="End">Exclusive end of the range.</param>
/// <param name="Candles">Oldest first.</param>
/// <param name="AggregateUsed">The aggregate read for the whole buckets, if any.</param>
public sealed record OhlcvResult(
    string Symbol, BucketWidth Interval, string TimeZone, DateTimeOffset Start, DateTimeOffset End, IReadOnlyList<Candle> Candles, string? AggregateUsed)
{
    /// <summary>With a read endpoint configured: <c>replica</c>, or <c>primary (why)</c>; null without one.</summary>
    public string? ServedBy { get; init; }
}

/// <summary>One bucket of <see cref="ITimeSeriesRepository.GetTimeBucketedDataAsync(TimeBucketQuery, CancellationToken)"/>.</summary>
/// <param name="Bucket">Start of the bucket.</param>
/// <param name="Series">The symbol, metric name or endpoint, when grouped by series.</param>
/// <param name="Count">Rows in the bucket.</param>
/// <param name="Average">Average of the table's measure (close, value, duration_ms).</param>
/// <param name="Minimum">Minimum of the measure.</param>
/// <param name="Maximum">Maximum of the measure.</param>
/// <param name="Sum">Sum of the table's additive column (volume, value, duration_ms).</param>
public sealed record TimeBucketRow(DateTimeOffset Bucket, string? Series, long Count, decimal? Average, decimal? Minimum, decimal? Maximum, decimal? Sum);

/// <summary>What <see cref="ITimeSeriesRepository.GetTimeBucketedDataAsync(TimeBucketQuery, CancellationToken)"/> reads.</summary>
/// <param name="Table">A hypertable of the project.</param>
/// <param name="Bucket">Bucket width.</param>
/// <param name="Start">Inclusive start.</param>
/// <param name="End">Exclusive end.</param>
/// <param name="PerSeries">One row per bucket and asset / metric / endpoint, instead of one per bucket.</param>
/// <param name="Series">Only this asset symbol / metric name / endpoint.</param>
/// <param name="MaxStaleness">With a read endpoint: the most replay lag the answer may have (see <see cref="OhlcvOptions.MaxStaleness"/>).</param>
public sealed record TimeBucketQuery(
    string Table, BucketWidth Bucket, DateTimeOffset Start, DateTimeOffset End, bool PerSeries = false, string? Series = null, TimeSpan? MaxStaleness = null);
