using System.Globalization;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Infrastructure;
using FinanceHub.Data.Ingest;
using FinanceHub.Data.Timescale;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Querying;

/// <summary>
/// Time-series reads: bucketed aggregates of the three hypertables and OHLCV candles. Ranges are half-open:
/// rows with <c>start &lt;= time &lt; end</c>; a bucket cut by a bound only includes the rows inside the range.
/// </summary>
public interface ITimeSeriesRepository
{
    /// <summary>Per-bucket count, average, minimum, maximum and sum of a hypertable (the seed's <c>get_time_bucketed_data</c>).</summary>
    /// <exception cref="ArgumentException">Unknown table, start not before end, or an empty series name.</exception>
    Task<IReadOnlyList<TimeBucketRow>> GetTimeBucketedDataAsync(TimeBucketQuery query, CancellationToken cancellationToken = default);

    /// <summary>The seed's signature: <paramref name="bucket"/> as <c>1 hour</c>, <c>1hour</c>, <c>15 minutes</c>...</summary>
    Task<IReadOnlyList<TimeBucketRow>> GetTimeBucketedDataAsync(
        string table, string bucket, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken = default);

    /// <summary>
    /// Candles of <paramref name="symbol"/> (the seed's <c>get_ohlcv_data</c>). Whole buckets that an aggregate has
    /// materialized are read from it; the rest from raw rows: the result is the same either way.
    /// </summary>
    /// <exception cref="UnknownSymbolException">There is no asset with that symbol (an existing asset without rows gives no candles).</exception>
    /// <exception cref="ArgumentException">Start not before end, an interval that is not an OHLCV interval, an unknown time zone.</exception>
    Task<OhlcvResult> GetOhlcvAsync(
        string symbol, BucketWidth interval, DateTimeOffset start, DateTimeOffset end, OhlcvOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Same, with the interval spelled as in the seed (<c>1min</c> ... <c>1month</c>).</summary>
    Task<OhlcvResult> GetOhlcvAsync(
        string symbol, string interval, DateTimeOffset start, DateTimeOffset end, OhlcvOptions? options = null, CancellationToken cancellationToken = default);
}

/// <inheritdoc />
public sealed class TimeSeriesRepository(NpgsqlDataSource dataSource, ITimescaleManager timescale) : ITimeSeriesRepository
{
    // Aggregate watermarks, read at most every few seconds. Safe to reuse: a watermark only moves forward, and an older
    // (lower) one only sends more buckets to the raw rows, which give the same candles.
    private static readonly TimeSpan WatermarkTtl = TimeSpan.FromSeconds(5);
    private Watermarks? _watermarks;

    private sealed record Watermarks(DateTime ReadAt, IReadOnlyList<AggregateInfo> Aggregates);

    /// <summary>Per table: the series column, the measure, the additive column, and the FROM clause. Constants only.</summary>
    private static readonly Dictionary<string, (string Series, string Measure, string Sum, string From, string Time)> Tables = new(StringComparer.Ordinal)
    {
        [Hypertables.AssetPrices.Table] = ("a.symbol", "p.close", "p.volume", "asset_prices_historic p JOIN assets a ON a.id = p.asset_id", "p.date"),
        [Hypertables.PerformanceMetrics.Table] = ("p.metric_name", "p.value::numeric", "p.value::numeric", "performance_metrics p", "p.created_at"),
        [Hypertables.ApiUsageLogs.Table] = ("p.endpoint", "p.duration_ms::numeric", "p.duration_ms::numeric", "api_usage_logs p", "p.created_at"),
    };

    /// <inheritdoc />
    public Task<IReadOnlyList<TimeBucketRow>> GetTimeBucketedDataAsync(
        string table, string bucket, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken = default)
        => GetTimeBucketedDataAsync(new TimeBucketQuery(table, BucketWidth.Parse(bucket), start, end), cancellationToken);

    /// <inheritdoc />
    public async Task<IReadOnlyList<TimeBucketRow>> GetTimeBucketedDataAsync(TimeBucketQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (!Tables.TryGetValue(query.Table ?? "", out var t))
        {
            throw new ArgumentException(
                $"Unknown table '{query.Table}'. Bucketed data is available for {string.Join(", ", Tables.Keys)}.", nameof(query));
        }

        RequireRange(query.Start, query.End);
        if (query.Series is { Length: 0 })
        {
            throw new ArgumentException("Series must be a symbol, metric name or endpoint, or null for all.", nameof(query));
        }

        await ColdTier.RequireInDatabaseAsync(dataSource, Hypertables.Get(query.Table!), [(query.Start, query.End)], $"Bucketed {query.Table}", cancellationToken);
        var grouped = query.PerSeries || query.Series is not null;
        var sql = $"""
            SELECT time_bucket($1, {t.Time}) AS bucket, {(grouped ? t.Series : "NULL::text")} AS series,
                   count(*), avg({t.Measure}), min({t.Measure}), max({t.Measure}), sum({t.Sum})
            FROM {t.From}
            WHERE {t.Time} >= $2 AND {t.Time} < $3 AND ($4::text IS NULL OR {t.Series} = $4)
            GROUP BY 1, 2
            ORDER BY 1, 2
            """;
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new() { Value = query.Bucket.ToInterval(), NpgsqlDbType = NpgsqlDbType.Interval });
        command.Parameters.Add(new() { Value = query.Start.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = query.End.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = (object?)query.Series ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<TimeBucketRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new TimeBucketRow(reader.GetFieldValue<DateTimeOffset>(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt64(2),
                Nullable(reader, 3), Nullable(reader, 4), Nullable(reader, 5), Nullable(reader, 6)));
        }

        return rows;
    }

    /// <inheritdoc />
    public Task<OhlcvResult> GetOhlcvAsync(
        string symbol, string interval, DateTimeOffset start, DateTimeOffset end, OhlcvOptions? options = null, CancellationToken cancellationToken = default)
        => GetOhlcvAsync(symbol, BucketWidth.Parse(interval), start, end, options, cancellationToken);

    /// <inheritdoc />
    public async Task<OhlcvResult> GetOhlcvAsync(
        string symbol, BucketWidth interval, DateTimeOffset start, DateTimeOffset end, OhlcvOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(symbol);
        options ??= OhlcvOptions.Default;
        RequireRange(start, end);
        if (!BucketWidth.OhlcvIntervals.Contains(interval))
        {
            throw new ArgumentException(
                $"'{interval.Name}' is not an OHLCV interval; use one of {string.Join(", ", BucketWidth.OhlcvIntervals.Select(i => i.Name))}.", nameof(interval));
        }

        var normalized = symbol.Trim().ToUpperInvariant();
        if (options.Session is { } calendar)
        {
            if (options.Adjusted)
            {
                throw new ArgumentException("Session candles cannot be adjusted yet; ask for one or the other.", nameof(options));
            }

            await RequireRawRowsAsync([(start, end)]);
            return await FromRawRowsAsync(calendar.TimeZoneId,
                ReadSessionCandlesAsync(normalized, interval, calendar, start, end, options.FillGaps, cancellationToken));
        }

        var zone = interval.IsDayOrLonger ? ResolveZone(options.TimeZone) : TimeZoneInfo.Utc;
        var zoneId = zone == TimeZoneInfo.Utc ? "UTC" : options.TimeZone;
        if (options.Adjusted)
        {
            if (options.FillGaps)
            {
                throw new ArgumentException("Adjusted candles cannot be gap-filled yet; ask for adjusted candles without gap filling, or fill the gaps of unadjusted ones.", nameof(options));
            }

            await RequireRawRowsAsync([(start, end)]);
            return await FromRawRowsAsync(zoneId, ReadAdjustedCandlesAsync(normalized, interval, zoneId, start, end, cancellationToken));
        }

        // Which aggregate can serve whole sub-buckets: the daily one for UTC days and coarser, the hourly one for hours,
        // and for days in a zone whose offsets are whole hours; none for minute candles or half-hour zones.
        var (view, subWidth) = options.Source == CandleSource.Raw || interval.Duration is { TotalHours: < 1 } && interval.Months == 0
            ? ((string?)null, TimeSpan.Zero)
            : interval.IsDayOrLonger && zoneId == "UTC" ? (Aggregates.Daily, TimeSpan.FromDays(1))
            : !interval.IsDayOrLonger || HasWholeHourOffsets(zone, start, end) ? (Aggregates.Hourly, TimeSpan.FromHours(1))
            : (null, TimeSpan.Zero);

        var (aggFrom, aggTo) = (start, start);
        string? materialized = null;
        if (view is not null)
        {
            // No watermark: nothing is materialized yet, and every candle comes from raw rows.
            var aggregate = (await GetWatermarksAsync(cancellationToken)).FirstOrDefault(a => a.View == view);
            materialized = aggregate?.MaterializedTable;
            var watermark = aggregate?.MaterializedThrough ?? start;
            aggFrom = Ceiling(start, subWidth);
            aggTo = Floor(watermark < end ? watermark : end, subWidth);
            if (aggTo <= aggFrom)
            {
                (view, aggFrom, aggTo) = (null, start, start);
            }
        }

        // The parts read from raw rows must still be in the database; the aggregate keeps candles of archived and dropped rows.
        await RequireRawRowsAsync(view is null ? [(start, end)] : [(start, aggFrom), (aggTo, end)]);

        // Gap filling: TimescaleDB's time_bucket_gapfill and locf where the edition has them, the same result built from
        // generate_series over the zone's calendar where it does not.
        var nativeGapfill = options.FillGaps && await timescale.GetEditionAsync(cancellationToken) == TimescaleEdition.Community;

        // The candle ladder: 4-hour, weekly and monthly UTC candles have a rung of their own over the aggregate chosen
        // above; it serves the whole candles it has materialized, the parent and the raw rows the rest.
        if (view is not null && !nativeGapfill && zoneId == "UTC"
            && Aggregates.Ladder.FirstOrDefault(r => r.Width == interval && r.Parent == view) is { } rung
            && (await GetWatermarksAsync(cancellationToken)).FirstOrDefault(a => a.View == rung.View) is { MaterializedThrough: { } rungWatermark } rungInfo)
        {
            var ladderFrom = PriceAggregateRefresher.Ceiling(start, interval);
            var ladderTo = PriceAggregateRefresher.Floor(rungWatermark < aggTo ? rungWatermark : aggTo, interval);
            if (ladderFrom < ladderTo)
            {
                var parentTable = (await GetWatermarksAsync(cancellationToken)).FirstOrDefault(a => a.View == view)?.MaterializedTable ?? view;
                var ladder = await ReadLadderCandlesAsync(normalized, interval, start, end, (parentTable, aggFrom, aggTo),
                    (rungInfo.MaterializedTable ?? rung.View, ladderFrom, ladderTo), cancellationToken);
                if (options.FillGaps)
                {
                    ladder = await FillGapsAsync(await GetAssetIdAsync(symbol, cancellationToken), interval, zoneId, start, end, ladder, cancellationToken);
                }
                else if (ladder.Count == 0)
                {
                    await GetAssetIdAsync(symbol, cancellationToken);
                }

                return new OhlcvResult(symbol, interval, zoneId, start, end, ladder, rung.View);
            }
        }

        // Candles as wide as the aggregate's buckets are its rows as they are, read by its (asset_id, bucket) index; only
        // the raw edges outside its whole buckets are grouped here.
        var direct = view is not null && !nativeGapfill && interval.Months == 0 && interval.Duration == subWidth;
        // Below the watermark a real-time continuous aggregate returns exactly its materialized rows: read them where they
        // are stored, without planning the view's raw-row half.
        var candles = await ReadCandlesAsync(normalized, interval, zoneId, start, end, direct ? materialized ?? view : view, aggFrom, aggTo,
            nativeGapfill, direct, cancellationToken);
        if (candles.Count == 0 || options.FillGaps)
        {
            var assetId = await GetAssetIdAsync(symbol, cancellationToken);
            if (options.FillGaps && !nativeGapfill)
            {
                candles = await FillGapsAsync(assetId, interval, zoneId, start, end, candles, cancellationToken);
            }
        }

        return new OhlcvResult(symbol, interval, zoneId, start, end, candles, view);

        Task RequireRawRowsAsync((DateTimeOffset, DateTimeOffset)[] raw)
            => ColdTier.RequireInDatabaseAsync(dataSource, Hypertables.AssetPrices, raw, $"Candles of {normalized}", cancellationToken);

        // Candles read from raw rows alone; none at all may mean an unknown symbol, which throws.
        async Task<OhlcvResult> FromRawRowsAsync(string resultZone, Task<List<Candle>> reading)
        {
            var read = await reading;
            if (read.Count == 0)
            {
                await GetAssetIdAsync(symbol, cancellationToken);
            }

            return new OhlcvResult(symbol, interval, resultZone, start, end, read, null);
        }
    }

    private async Task<IReadOnlyList<AggregateInfo>> GetWatermarksAsync(CancellationToken cancellationToken)
    {
        if (_watermarks is { } cached && DateTime.UtcNow - cached.ReadAt < WatermarkTtl)
        {
            return cached.Aggregates;
        }

        var fresh = new Watermarks(DateTime.UtcNow, await timescale.GetAggregatesAsync(cancellationToken));
        _watermarks = fresh;
        return fresh.Aggregates;
    }

    private async Task<List<Candle>> ReadCandlesAsync(
        string symbol, BucketWidth interval, string zone, DateTimeOffset start, DateTimeOffset end, string? view,
        DateTimeOffset aggFrom, DateTimeOffset aggTo, bool gapfill, bool direct, CancellationToken cancellationToken)
    {
        // Three disjoint parts: raw rows before the first whole sub-bucket, the aggregate's whole materialized sub-buckets,
        // raw rows after them. Each part's t orders it correctly against the others, so first/last over t roll them up exactly.
        var aggregatePart = view is null
            ? ""
            : $"""
              UNION ALL
              SELECT bucket, open, high, low, close, volume, trade_count FROM {view}
              WHERE asset_id = (SELECT id FROM asset) AND bucket >= $4 AND bucket < $5
              """;
        // The asset is looked up inside the query: one round trip; an unknown symbol simply gives no rows (checked after).
        var sql = $"""
            WITH asset AS MATERIALIZED (SELECT id FROM assets WHERE symbol = $1),
            parts (t, open, high, low, close, volume, trade_count) AS (
              SELECT date, open, high, low, close, volume, coalesce(trade_count, 1)::bigint FROM asset_prices_historic
              WHERE asset_id = (SELECT id FROM asset) AND date >= $2 AND date < $4
              {aggregatePart}
              UNION ALL
              SELECT date, open, high, low, close, volume, coalesce(trade_count, 1)::bigint FROM asset_prices_historic
              WHERE asset_id = (SELECT id FROM asset) AND date >= $5 AND date < $3
            )
            {(gapfill
                ? """
                  SELECT time_bucket_gapfill($6, t, $7, $2, $3) AS b, first(open, t), max(high), min(low),
                         locf(last(close, t), prev => (SELECT close FROM asset_prices_historic WHERE asset_id = (SELECT id FROM asset) AND date < $2 ORDER BY date DESC LIMIT 1)),
                         sum(volume), sum(trade_count)::bigint
                  FROM parts WHERE t >= $2 AND t < $3 GROUP BY 1 ORDER BY 1
                  """
                : """
                  SELECT time_bucket($6, t, $7) AS b, first(open, t), max(high), min(low), last(close, t), sum(volume), sum(trade_count)::bigint
                  FROM parts GROUP BY 1 ORDER BY 1
                  """)}
            """;
        if (direct)
        {
            const string rawCandles =
                """
                SELECT time_bucket($6, date, $7), first(open, date), max(high), min(low), last(close, date), sum(volume), sum(coalesce(trade_count, 1))::bigint
                FROM asset_prices_historic WHERE asset_id = (SELECT id FROM asset) AND date >= {0} AND date < {1} GROUP BY 1
                """;
            // An edge that is empty (the range is bucket-aligned, the aggregate current) is left out of the statement:
            // the planner then never expands the hypertable's chunks.
            var parts = new List<string>(3);
            if (start < aggFrom)
            {
                parts.Add(string.Format(CultureInfo.InvariantCulture, rawCandles, "$2", "$4"));
            }

            parts.Add($"SELECT bucket, open, high, low, close, volume, trade_count FROM {view} WHERE asset_id = (SELECT id FROM asset) AND bucket >= $4 AND bucket < $5");
            if (aggTo < end)
            {
                parts.Add(string.Format(CultureInfo.InvariantCulture, rawCandles, "$5", "$3"));
            }

            sql = $"""
                WITH asset AS MATERIALIZED (SELECT id FROM assets WHERE symbol = $1)
                {string.Join("\nUNION ALL\n", parts)}
                ORDER BY 1
                """;
        }

        // A statement over the aggregate's rows alone is prepared on the pooled connection (Npgsql keeps it there, so later
        // requests skip parsing and planning; behind PgBouncer in transaction mode that needs PgBouncer 1.21+ with
        // max_prepared_statements set). One that groups raw rows is not: from its sixth execution PostgreSQL would run a
        // prepared statement's generic plan, which cannot exclude the hypertable's chunks when planning and took twice as
        // long as the custom plan (measured: 36 ms, then 72-87 ms, for a month of hourly candles from raw rows).
        var prepare = direct && start >= aggFrom && aggTo >= end;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new() { Value = symbol, NpgsqlDbType = NpgsqlDbType.Varchar });
        command.Parameters.Add(new() { Value = start.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = end.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = aggFrom.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = aggTo.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = interval.ToInterval(), NpgsqlDbType = NpgsqlDbType.Interval });
        command.Parameters.Add(new() { Value = zone, NpgsqlDbType = NpgsqlDbType.Text });
        if (prepare)
        {
            await command.PrepareAsync(cancellationToken);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var candles = new List<Candle>();
        var numerics = new NumericReader();
        while (await reader.ReadAsync(cancellationToken))
        {
            if (!reader.IsDBNull(1))
            {
                candles.Add(ReadCandle(reader, numerics));
            }
            else if (!reader.IsDBNull(4))
            {
                // An empty bucket from time_bucket_gapfill; leading ones before any known close have none and are left out.
                var bucket = reader.GetFieldValue<DateTimeOffset>(0);
                var close = numerics.Read(reader, 4);
                candles.Add(new Candle(bucket, close, close, close, close, 0m, 0, IsFilled: true));
            }
        }

        return candles;
    }

    /// <summary>
    /// Candles from the candle ladder (UTC): five disjoint parts, raw rows before the parent aggregate's first whole bucket,
    /// the parent's buckets before the rung's first whole candle, the rung's materialized candles, the parent's buckets
    /// after them up to its watermark, and raw rows after that. Rolled up by first/last over each part's time, as
    /// <see cref="ReadCandlesAsync"/> does; empty parts are left out of the statement. Materialized rows are read where
    /// they are stored (below the watermarks, a real-time continuous aggregate returns exactly those).
    /// </summary>
    private async Task<List<Candle>> ReadLadderCandlesAsync(
        string symbol, BucketWidth interval, DateTimeOffset start, DateTimeOffset end,
        (string Table, DateTimeOffset From, DateTimeOffset To) parent, (string Table, DateTimeOffset From, DateTimeOffset To) rung,
        CancellationToken cancellationToken)
    {
        const string raw = "SELECT date, open, high, low, close, volume, coalesce(trade_count, 1)::bigint FROM asset_prices_historic WHERE asset_id = (SELECT id FROM asset) AND date >= {0} AND date < {1}";
        const string aggregate = "SELECT bucket, open, high, low, close, volume, trade_count FROM {2} WHERE asset_id = (SELECT id FROM asset) AND bucket >= {0} AND bucket < {1}";
        // $2 start, $3 end, $4 parent from, $5 rung from, $6 rung to, $7 parent to.
        var parts = new List<string>(5);
        void Part(string template, string from, string to, DateTimeOffset fromValue, DateTimeOffset toValue, string? table = null)
        {
            if (fromValue < toValue)
            {
                parts.Add(string.Format(CultureInfo.InvariantCulture, template, from, to, table));
            }
        }

        Part(raw, "$2", "$4", start, parent.From);
        Part(aggregate, "$4", "$5", parent.From, rung.From, parent.Table);
        Part(aggregate, "$5", "$6", rung.From, rung.To, rung.Table);
        Part(aggregate, "$6", "$7", rung.To, parent.To, parent.Table);
        Part(raw, "$7", "$3", parent.To, end);
        var sql = $"""
            WITH asset AS MATERIALIZED (SELECT id FROM assets WHERE symbol = $1),
            parts (t, open, high, low, close, volume, trade_count) AS (
              {string.Join("\n  UNION ALL\n  ", parts)})
            SELECT time_bucket($8, t) AS b, first(open, t), max(high), min(low), last(close, t), sum(volume), sum(trade_count)::bigint
            FROM parts GROUP BY 1 ORDER BY 1
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new() { Value = symbol, NpgsqlDbType = NpgsqlDbType.Varchar });
        foreach (var t in new[] { start, end, parent.From, rung.From, rung.To, parent.To })
        {
            command.Parameters.Add(new() { Value = t.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        }

        command.Parameters.Add(new() { Value = interval.ToInterval(), NpgsqlDbType = NpgsqlDbType.Interval });
        // Prepared only when no raw rows are read (see ReadCandlesAsync: a generic plan cannot exclude chunks).
        if (start >= parent.From && parent.To >= end)
        {
            await command.PrepareAsync(cancellationToken);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var candles = new List<Candle>();
        var numerics = new NumericReader();
        while (await reader.ReadAsync(cancellationToken))
        {
            candles.Add(ReadCandle(reader, numerics));
        }

        return candles;
    }

    /// <summary>
    /// Candles of rows adjusted one by one for the corporate actions after them (backward). The factors are products over
    /// the asset's actions, newest first: a split multiplies prices by old / new shares and volumes by new / old, a cash
    /// dividend multiplies the adjusted close by 1 - amount / the last close before it (as traded: the amount is per share
    /// of that time, also when a split takes effect at the same instant). Prices and volumes are rounded to 8 decimals
    /// per row (the columns' scale), so the candles' extremes are the rounded extremes and their volumes the sums of rounded ones.
    /// </summary>
    private async Task<List<Candle>> ReadAdjustedCandlesAsync(
        string symbol, BucketWidth interval, string zone, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            WITH RECURSIVE asset AS MATERIALIZED (SELECT id FROM assets WHERE symbol = $1),
            actions AS (
              SELECT ca.effective_at,
                     coalesce(ca.new_shares, 1) AS new_shares, coalesce(ca.old_shares, 1) AS old_shares,
                     CASE WHEN ca.kind = 'dividend' AND prev.close > 0 THEN 1 - ca.amount / prev.close ELSE 1 END AS dividend,
                     row_number() OVER (ORDER BY ca.effective_at DESC, ca.kind) AS n
              FROM corporate_actions ca
              LEFT JOIN LATERAL (
                SELECT p.close FROM asset_prices_historic p WHERE p.asset_id = ca.asset_id AND p.date < ca.effective_at ORDER BY p.date DESC LIMIT 1) prev ON true
              WHERE ca.asset_id = (SELECT id FROM asset)),
            -- factors[n]: the products over the n newest actions, what applies to a row before the n-th newest and none
            -- older. Share counts multiply exactly; the dividend factor keeps 20 decimals.
            factors (n, effective_at, new_shares, old_shares, dividend) AS (
              SELECT n, effective_at, new_shares, old_shares, round(dividend, 20) FROM actions WHERE n = 1
              UNION ALL
              SELECT a.n, a.effective_at, trim_scale(f.new_shares * a.new_shares), trim_scale(f.old_shares * a.old_shares), round(f.dividend * a.dividend, 20)
              FROM factors f JOIN actions a ON a.n = f.n + 1),
            adjusted AS (
              SELECT p.date,
                     round(p.open * f.old_shares / f.new_shares, 8) AS open, round(p.high * f.old_shares / f.new_shares, 8) AS high,
                     round(p.low * f.old_shares / f.new_shares, 8) AS low, round(p.close * f.old_shares / f.new_shares, 8) AS close,
                     round(p.volume * f.new_shares / f.old_shares, 8) AS volume,
                     round(p.close * f.dividend * f.old_shares / f.new_shares, 8) AS adjusted_close, coalesce(p.trade_count, 1)::bigint AS trade_count
              FROM asset_prices_historic p
              CROSS JOIN LATERAL (
                -- The largest n after the row: the product over every action after it (ties at one instant included).
                SELECT coalesce(x.new_shares, 1) AS new_shares, coalesce(x.old_shares, 1) AS old_shares, coalesce(x.dividend, 1) AS dividend
                FROM (SELECT 1) one LEFT JOIN LATERAL (
                  SELECT new_shares, old_shares, dividend FROM factors WHERE factors.effective_at > p.date ORDER BY factors.n DESC LIMIT 1) x ON true) f
              WHERE p.asset_id = (SELECT id FROM asset) AND p.date >= $2 AND p.date < $3)
            SELECT time_bucket($4, date, $5) AS b, first(open, date), max(high), min(low), last(close, date), sum(volume), sum(trade_count)::bigint,
                   last(adjusted_close, date)
            FROM adjusted GROUP BY 1 ORDER BY 1
            """);
        command.Parameters.Add(new() { Value = symbol, NpgsqlDbType = NpgsqlDbType.Varchar });
        command.Parameters.Add(new() { Value = start.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = end.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = interval.ToInterval(), NpgsqlDbType = NpgsqlDbType.Interval });
        command.Parameters.Add(new() { Value = zone, NpgsqlDbType = NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var candles = new List<Candle>();
        var numerics = new NumericReader();
        while (await reader.ReadAsync(cancellationToken))
        {
            candles.Add(ReadCandle(reader, numerics) with { AdjustedClose = numerics.Read(reader, 7) });
        }

        return candles;
    }

    /// <summary>
    /// Candles of trading sessions: each candle is one or more segments of time (a session, part of one, or the sessions
    /// of a week or month), computed here from the calendar; the rows of each segment are read by the (asset_id, date) key.
    /// </summary>
    private async Task<List<Candle>> ReadSessionCandlesAsync(
        string symbol, BucketWidth interval, Sessions.ExchangeCalendar calendar, DateTimeOffset start, DateTimeOffset end, bool fillGaps,
        CancellationToken cancellationToken)
    {
        var segments = SessionSegments(interval, calendar, start, end);
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            """
            WITH asset AS MATERIALIZED (SELECT id FROM assets WHERE symbol = $1)
            SELECT s.bucket, first(p.open, p.date), max(p.high), min(p.low), last(p.close, p.date), sum(p.volume), sum(coalesce(p.trade_count, 1))::bigint
            FROM unnest($2::timestamptz[], $3::timestamptz[], $4::timestamptz[]) AS s (bucket, segment_start, segment_end)
            JOIN asset_prices_historic p ON p.asset_id = (SELECT id FROM asset) AND p.date >= s.segment_start AND p.date < s.segment_end
            GROUP BY s.bucket ORDER BY s.bucket
            """)
        {
            Parameters =
            {
                new() { Value = symbol, NpgsqlDbType = NpgsqlDbType.Varchar },
                new() { Value = segments.Select(s => s.Bucket.UtcDateTime).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz },
                new() { Value = segments.Select(s => s.Start.UtcDateTime).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz },
                new() { Value = segments.Select(s => s.End.UtcDateTime).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz },
            },
        });
        if (fillGaps)
        {
            // The close the first empty buckets carry: the last row inside a session (of the month before) before the
            // first segment; rows outside sessions never count.
            var first = segments.Count > 0 ? segments[0].Start : start;
            var before = calendar.Sessions(first.AddDays(-31), first).ToList();
            batch.BatchCommands.Add(new NpgsqlBatchCommand(
                """
                SELECT p.close FROM unnest($2::timestamptz[], $3::timestamptz[]) AS s (open, close)
                JOIN asset_prices_historic p ON p.asset_id = (SELECT id FROM assets WHERE symbol = $1) AND p.date >= s.open AND p.date < least(s.close, $4)
                ORDER BY p.date DESC LIMIT 1
                """)
            {
                Parameters =
                {
                    new() { Value = symbol, NpgsqlDbType = NpgsqlDbType.Varchar },
                    new() { Value = before.Select(b => b.Open.UtcDateTime).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz },
                    new() { Value = before.Select(b => b.Close.UtcDateTime).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz },
                    new() { Value = first.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz },
                },
            });
        }

        var candles = new List<Candle>();
        decimal? previous = null;
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            var numerics = new NumericReader();
            while (await reader.ReadAsync(cancellationToken))
            {
                candles.Add(ReadCandle(reader, numerics));
            }

            if (fillGaps && await reader.NextResultAsync(cancellationToken) && await reader.ReadAsync(cancellationToken))
            {
                previous = reader.GetDecimal(0);
            }
        }

        // Every session (or week, month, part of a session) gets a candle; empty ones carry the previous close.
        return fillGaps ? Filled(segments.Select(s => s.Bucket).Distinct(), candles, previous) : candles;
    }

    /// <summary>The (bucket, start, end) segments of session candles over [start, end), in time order.</summary>
    internal static List<(DateTimeOffset Bucket, DateTimeOffset Start, DateTimeOffset End)> SessionSegments(
        BucketWidth interval, Sessions.ExchangeCalendar calendar, DateTimeOffset start, DateTimeOffset end)
    {
        var sessions = calendar.Sessions(start, end).ToList();
        var segments = new List<(DateTimeOffset Bucket, DateTimeOffset Start, DateTimeOffset End)>();
        if (!interval.IsDayOrLonger)
        {
            foreach (var session in sessions)
            {
                for (var from = session.Open; from < session.Close; from += interval.Duration)
                {
                    var to = from + interval.Duration < session.Close ? from + interval.Duration : session.Close;
                    Add(from, from, to);
                }
            }

            return segments;
        }

        // A period's candle is labelled with its first session's open, whatever part of the period the range covers.
        Func<DateOnly, (DateOnly First, DateOnly Next)> period = (interval.Months, interval.Duration.TotalDays) switch
        {
            (0, 1) => d => (d, d.AddDays(1)),
            (0, 7) => d => d.AddDays(-(((int)d.DayOfWeek + 6) % 7)) is var monday ? (monday, monday.AddDays(7)) : default, // ISO weeks
            (1, _) => d => new DateOnly(d.Year, d.Month, 1) is var day1 ? (day1, day1.AddMonths(1)) : default,
            _ => throw new ArgumentException($"Session candles are 1day, 1week or 1month wide, or narrower than a day; not {interval.Name}.", nameof(interval)),
        };
        foreach (var group in sessions.GroupBy(s => period(s.Date)))
        {
            var label = Enumerable.Range(0, group.Key.Next.DayNumber - group.Key.First.DayNumber)
                .Select(i => calendar.Session(group.Key.First.AddDays(i))).First(s => s is not null)!.Open;
            foreach (var session in group)
            {
                Add(label, session.Open, session.Close);
            }
        }

        return segments;

        void Add(DateTimeOffset bucket, DateTimeOffset from, DateTimeOffset to)
        {
            (from, to) = (from < start ? start : from, to > end ? end : to);
            if (from < to)
            {
                segments.Add((bucket, from, to));
            }
        }
    }

    private async Task<List<Candle>> FillGapsAsync(
        int assetId, BucketWidth interval, string zone, DateTimeOffset start, DateTimeOffset end, List<Candle> candles, CancellationToken cancellationToken)
    {
        // Every bucket of the range, in the zone's calendar (days, weeks from Monday, months), and the last close before it.
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            """
            SELECT (g AT TIME ZONE $3)::timestamptz FROM generate_series(
              time_bucket($4, $1::timestamptz, $3) AT TIME ZONE $3, $2::timestamptz AT TIME ZONE $3, $4) g
            WHERE (g AT TIME ZONE $3) < $2
            """)
        {
            Parameters =
            {
                new() { Value = start.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz },
                new() { Value = end.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz },
                new() { Value = zone, NpgsqlDbType = NpgsqlDbType.Text },
                new() { Value = interval.ToInterval(), NpgsqlDbType = NpgsqlDbType.Interval },
            },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT close FROM asset_prices_historic WHERE asset_id = $1 AND date < $2 ORDER BY date DESC LIMIT 1")
        {
            Parameters =
            {
                new() { Value = assetId, NpgsqlDbType = NpgsqlDbType.Integer },
                new() { Value = start.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz },
            },
        });
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var buckets = new List<DateTimeOffset>();
        while (await reader.ReadAsync(cancellationToken))
        {
            buckets.Add(reader.GetFieldValue<DateTimeOffset>(0));
        }

        await reader.NextResultAsync(cancellationToken);
        decimal? previous = await reader.ReadAsync(cancellationToken) ? reader.GetDecimal(0) : null;

        return Filled(buckets, candles, previous);
    }

    /// <summary>
    /// A candle for every bucket, in order: the one read, or a filled one carrying the previous close (the last close
    /// before the first bucket, then each candle's); leading buckets before any known close are left out.
    /// </summary>
    private static List<Candle> Filled(IEnumerable<DateTimeOffset> buckets, List<Candle> candles, decimal? previous)
    {
        var byBucket = candles.ToDictionary(c => c.Bucket);
        var filled = new List<Candle>();
        foreach (var bucket in buckets)
        {
            if (byBucket.TryGetValue(bucket, out var candle))
            {
                filled.Add(candle);
                previous = candle.Close;
            }
            else if (previous is { } close)
            {
                filled.Add(new Candle(bucket, close, close, close, close, 0m, 0, IsFilled: true));
            }
        }

        return filled;
    }

    private async Task<int> GetAssetIdAsync(string symbol, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id FROM assets WHERE symbol = $1");
        command.Parameters.Add(new() { Value = symbol.Trim().ToUpperInvariant() });
        return await command.ExecuteScalarAsync(cancellationToken) is int id
            ? id
            : throw new UnknownSymbolException(symbol, "Check the spelling, or load its prices with UnknownSymbolMode.Create.");
    }

    private static TimeZoneInfo ResolveZone(string zone)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(zone);
        try
        {
            return zone is "UTC" or "Etc/UTC" ? TimeZoneInfo.Utc : TimeZoneInfo.FindSystemTimeZoneById(zone);
        }
        catch (TimeZoneNotFoundException)
        {
            throw new ArgumentException($"Unknown time zone '{zone}'; use an IANA name such as 'America/New_York' or 'Europe/London'.", nameof(zone));
        }
    }

    // Offsets only change at transitions, which are days apart: sampling every 12 hours of the range finds every offset in it.
    private static bool HasWholeHourOffsets(TimeZoneInfo zone, DateTimeOffset start, DateTimeOffset end)
    {
        for (var t = start; t < end + TimeSpan.FromHours(12); t += TimeSpan.FromHours(12))
        {
            if (zone.GetUtcOffset(t).Ticks % TimeSpan.TicksPerHour != 0)
            {
                return false;
            }
        }

        return true;
    }

    private static void RequireRange(DateTimeOffset start, DateTimeOffset end)
    {
        if (start >= end)
        {
            throw new ArgumentException($"The range start ({start:O}) must be before its end ({end:O}); ranges are [start, end).", nameof(start));
        }
    }

    private static DateTimeOffset Floor(DateTimeOffset t, TimeSpan width) => new(t.UtcTicks - (t.UtcTicks % width.Ticks), TimeSpan.Zero);

    private static DateTimeOffset Ceiling(DateTimeOffset t, TimeSpan width)
    {
        var floor = Floor(t, width);
        return floor == t ? floor : floor + width;
    }

    /// <summary>A candle from columns 0-6 (bucket, open, high, low, close, volume, trade count) of the current row.</summary>
    private static Candle ReadCandle(NpgsqlDataReader reader, NumericReader numerics)
        => new(reader.GetFieldValue<DateTimeOffset>(0), numerics.Read(reader, 1), numerics.Read(reader, 2), numerics.Read(reader, 3),
            numerics.Read(reader, 4), numerics.Read(reader, 5), reader.GetInt64(6));

    private static decimal? Nullable(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetDecimal(ordinal);
}
