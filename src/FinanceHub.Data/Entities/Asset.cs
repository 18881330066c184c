namespace FinanceHub.Data.Entities;

/// <summary>A tradable instrument (a coin, a share, a fund) that prices refer to.</summary>
public class Asset
{
    /// <summary>Surrogate key.</summary>
    public int Id { get; set; }

    /// <summary>Ticker symbol, unique, upper case (e.g. <c>BTC</c>, <c>AAPL</c>).</summary>
    public required string Symbol { get; set; }

    /// <summary>Display name.</summary>
    public string? Name { get; set; }

    /// <summary>What kind of instrument this is.</summary>
    public AssetType AssetType { get; set; } = AssetType.Other;

    /// <summary>Venue the prices come from (e.g. <c>NASDAQ</c>, <c>BINANCE</c>).</summary>
    public string? Exchange { get; set; }

    /// <summary>ISO 4217 code of the quote currency (e.g. <c>USD</c>).</summary>
    public string QuoteCurrency { get; set; } = "USD";

    /// <summary>Whether the application still tracks this asset.</summary>
    public bool IsActive { get; set; } = true;

    /// <summary>When the row was created.</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Price history of this asset.</summary>
    public ICollection<AssetPrice> Prices { get; } = [];
}

/// <summary>Kinds of instrument.</summary>
public enum AssetType
{
    /// <summary>Anything not listed.</summary>
    Other = 0,
    /// <summary>Crypto currency.</summary>
    Crypto = 1,
    /// <summary>Listed share.</summary>
    Stock = 2,
    /// <summary>Exchange-traded fund.</summary>
    Etf = 3,
    /// <summary>Currency pair.</summary>
    Forex = 4,
    /// <summary>Commodity.</summary>
    Commodity = 5,
    /// <summary>Market index.</summary>
    Index = 6,
}
