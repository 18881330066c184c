namespace FinanceHub.Data.Entities;

/// <summary>
/// A split or a cash dividend of an asset, from the instant it takes effect (the ex-date's first moment). Prices are
/// stored as traded; adjusted candles apply these on request, backward (<c>OhlcvOptions.Adjusted</c>).
/// </summary>
public class CorporateAction
{
    /// <summary>Surrogate key.</summary>
    public long Id { get; set; }

    /// <summary>The asset.</summary>
    public int AssetId { get; set; }

    /// <summary>Split or cash dividend.</summary>
    public CorporateActionKind Kind { get; set; }

    /// <summary>The first instant the action is in effect: rows before it are adjusted, rows from it on are not.</summary>
    public DateTimeOffset EffectiveAt { get; set; }

    /// <summary>Splits: new shares per old share (2 for a 2-for-1 split, 0.1 for a 1-for-10 reverse split).</summary>
    public decimal? Ratio { get; set; }

    /// <summary>Cash dividends: the amount per share, in the asset's quote currency.</summary>
    public decimal? Amount { get; set; }

    /// <summary>Where the action came from.</summary>
    public string? Source { get; set; }

    /// <summary>When the row was written.</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The asset.</summary>
    public Asset? Asset { get; set; }
}

/// <summary>The kinds of corporate action that adjust prices.</summary>
public enum CorporateActionKind
{
    /// <summary>A stock split (or reverse split): prices divided and volumes multiplied by the ratio before it.</summary>
    Split,

    /// <summary>A cash dividend: closes before it multiplied by 1 - amount / the last close before it.</summary>
    Dividend,
}
