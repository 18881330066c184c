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

    /// <summary>Splits: the new shares for <see cref="OldShares"/> old ones (2 for 1 in a 2-for-1 split, 1 for 10 in a 1-for-10 reverse split).</summary>
    public decimal? NewShares { get; set; }

    /// <summary>Splits: the old shares that become <see cref="NewShares"/> (kept apart, so that 1-for-3 is exact).</summary>
    public decimal? OldShares { get; set; }

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
    /// <summary>A stock split (or reverse split): prices before it divided and volumes multiplied by new shares / old shares.</summary>
    Split,

    /// <summary>A cash dividend: closes before it multiplied by 1 - amount / the last close before it.</summary>
    Dividend,
}
