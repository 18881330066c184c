namespace FinanceHub.Data.Entities;

/// <summary>
/// One price bar of one asset (<c>asset_prices_historic</c>, a hypertable on <c>date</c>).
/// Keyed by (<see cref="AssetId"/>, <see cref="Date"/>): hypertables need the time column in every key.
/// </summary>
public class AssetPrice
{
    /// <summary>The asset.</summary>
    public int AssetId { get; set; }

    /// <summary>Start of the bar, an instant (stored as <c>timestamptz</c>; written in UTC).</summary>
    public DateTimeOffset Date { get; set; }

    /// <summary>Opening price.</summary>
    public decimal Open { get; set; }

    /// <summary>Highest price.</summary>
    public decimal High { get; set; }

    /// <summary>Lowest price.</summary>
    public decimal Low { get; set; }

    /// <summary>Closing price.</summary>
    public decimal Close { get; set; }

    /// <summary>Close adjusted for splits and dividends, where the source provides it.</summary>
    public decimal? AdjustedClose { get; set; }

    /// <summary>Traded volume in units of the asset.</summary>
    public decimal Volume { get; set; }

    /// <summary>Number of trades in the bar, where the source provides it.</summary>
    public int? TradeCount { get; set; }

    /// <summary>Where the row came from (a data vendor, an exchange feed, an import).</summary>
    public string? Source { get; set; }

    /// <summary>The asset.</summary>
    public Asset? Asset { get; set; }
}
