namespace FinanceHub.Data.Entities;

/// <summary>
/// A row of <c>financehub.prices_as_of</c> / <c>prices_as_of_join</c> (<see cref="FinanceHubDbContext.PricesAsOf"/>, <see cref="FinanceHubDbContext.PricesAsOfJoin"/>):
/// one requested symbol and instant, and the latest price at or before it. Read-only, composable in LINQ.
/// </summary>
public sealed class PriceAsOf
{
    /// <summary>Position of the request, from 1.</summary>
    public long Ordinal { get; set; }

    /// <summary>The symbol as requested.</summary>
    public string Symbol { get; set; } = "";

    /// <summary>The instant asked about.</summary>
    public DateTimeOffset RequestedAt { get; set; }

    /// <summary>The asset; null when there is no asset with <see cref="Symbol"/>.</summary>
    public int? AssetId { get; set; }

    /// <summary>Time of the latest row at or before <see cref="RequestedAt"/>, even when it is older than the staleness limit.</summary>
    public DateTimeOffset? LatestDate { get; set; }

    /// <summary>Time of the row returned; null when there is none, or it is older than the staleness limit.</summary>
    public DateTimeOffset? Date { get; set; }

    /// <summary>Open of the row.</summary>
    public decimal? Open { get; set; }

    /// <summary>High of the row.</summary>
    public decimal? High { get; set; }

    /// <summary>Low of the row.</summary>
    public decimal? Low { get; set; }

    /// <summary>Close of the row.</summary>
    public decimal? Close { get; set; }

    /// <summary>Adjusted close of the row, where it carries one.</summary>
    public decimal? AdjustedClose { get; set; }

    /// <summary>Volume of the row.</summary>
    public decimal? Volume { get; set; }

    /// <summary>Trade count of the row.</summary>
    public int? TradeCount { get; set; }

    /// <summary>
    /// Start of the archived and dropped rows (not all restored) between <see cref="LatestDate"/> and
    /// <see cref="RequestedAt"/>: the true latest price may be among them, so the price columns are null. Null otherwise.
    /// </summary>
    public DateTimeOffset? ArchivedFrom { get; set; }

    /// <summary>End (exclusive) of those archived and dropped rows.</summary>
    public DateTimeOffset? ArchivedTo { get; set; }

    /// <summary>The archives that hold them: restore these to answer.</summary>
    public Guid[]? ArchiveIds { get; set; }
}
