namespace FinanceHub.Data.Entities;

/// <summary>
/// A row of the price aggregates: <c>asset_prices_hourly</c> and <c>asset_prices_daily</c> over the price rows, and the
/// candle ladder over them, <c>asset_prices_4hour</c>, <c>asset_prices_weekly</c>, <c>asset_prices_monthly</c>
/// (continuous aggregates on the community edition, materialized views on the Apache edition). Read-only.
/// </summary>
public abstract class PriceCandle
{
    /// <summary>The asset.</summary>
    public int AssetId { get; set; }

    /// <summary>Start of the bucket (UTC).</summary>
    public DateTimeOffset Bucket { get; set; }

    /// <summary>First open of the bucket.</summary>
    public decimal Open { get; set; }

    /// <summary>Highest high of the bucket.</summary>
    public decimal High { get; set; }

    /// <summary>Lowest low of the bucket.</summary>
    public decimal Low { get; set; }

    /// <summary>Last close of the bucket.</summary>
    public decimal Close { get; set; }

    /// <summary>Sum of volume.</summary>
    public decimal Volume { get; set; }

    /// <summary>Number of price rows in the bucket.</summary>
    public long TradeCount { get; set; }
}

/// <summary>A row of <c>asset_prices_hourly</c>.</summary>
public sealed class HourlyPriceCandle : PriceCandle;

/// <summary>A row of <c>asset_prices_daily</c>.</summary>
public sealed class DailyPriceCandle : PriceCandle;

/// <summary>A row of <c>asset_prices_4hour</c> (from the hourly aggregate; buckets from 00:00 UTC).</summary>
public sealed class FourHourPriceCandle : PriceCandle;

/// <summary>A row of <c>asset_prices_weekly</c> (from the daily aggregate; ISO weeks, Monday 00:00 UTC).</summary>
public sealed class WeeklyPriceCandle : PriceCandle;

/// <summary>A row of <c>asset_prices_monthly</c> (from the daily aggregate; calendar months, UTC).</summary>
public sealed class MonthlyPriceCandle : PriceCandle;
