namespace FinanceHub.Data.Ingest;

/// <summary>A price bar to load, by symbol.</summary>
/// <param name="Symbol">Asset symbol (upper case, e.g. <c>BTC</c>).</param>
/// <param name="Date">Start of the bar; any offset, stored in UTC.</param>
/// <param name="Open">Opening price.</param>
/// <param name="High">Highest price (at least <paramref name="Low"/>).</param>
/// <param name="Low">Lowest price.</param>
/// <param name="Close">Closing price.</param>
/// <param name="Volume">Traded volume (not negative).</param>
/// <param name="AdjustedClose">Adjusted close, if known.</param>
/// <param name="TradeCount">Number of trades, if known.</param>
/// <param name="Source">Where the row came from.</param>
public sealed record PriceRow(
    string Symbol, DateTimeOffset Date, decimal Open, decimal High, decimal Low, decimal Close, decimal Volume,
    decimal? AdjustedClose = null, int? TradeCount = null, string? Source = null);

/// <summary>What to do with a row whose (asset, date) is already in the table.</summary>
public enum ConflictMode
{
    /// <summary>Plain insert (fastest: binary COPY straight into the hypertable); a duplicate fails the whole load.</summary>
    Error,

    /// <summary>Keep the row that is there; load the others (through a staging table).</summary>
    Skip,

    /// <summary>Replace the row that is there with the loaded one (through a staging table); within one load, the last row wins.</summary>
    Update,
}

/// <summary>What to do with a symbol that is not in <c>assets</c> yet.</summary>
public enum UnknownSymbolMode
{
    /// <summary>Fail the load with an error naming the symbol.</summary>
    Reject,

    /// <summary>Create the asset (type <c>Other</c>, quote currency <c>USD</c>) and load its rows.</summary>
    Create,
}

/// <summary>How a bulk load behaves.</summary>
public sealed record IngestOptions
{
    /// <summary>Rows whose key is already present: error (default), skip, or update.</summary>
    public ConflictMode OnConflict { get; init; } = ConflictMode.Error;

    /// <summary>Symbols not yet in <c>assets</c>: reject (default) or create.</summary>
    public UnknownSymbolMode OnUnknownSymbol { get; init; } = UnknownSymbolMode.Reject;

    /// <summary>
    /// After the load commits, refresh the price aggregates over the time range it touched, so that candles served
    /// from them include backfilled rows (default on). Turn off for loads of only new data followed by your own refresh.
    /// </summary>
    public bool RefreshAggregates { get; init; } = true;

    /// <summary>
    /// How many binary COPY streams load prices at once, each on its own connection (default 1). With 1 the load is one
    /// transaction: all rows or none. Above 1, rows are routed by asset and chunk to the streams, whose transactions all
    /// stay open until every stream has written its rows, and are then committed one after another: a bad row, an
    /// unknown symbol or a duplicate anywhere still leaves nothing, but a connection lost during those final commits
    /// (milliseconds) can leave the streams committed before it; loading the same rows again with
    /// <see cref="ConflictMode.Skip"/> completes such a load. Also above 1: symbols created by
    /// <see cref="UnknownSymbolMode.Create"/> and chunks created for the load are committed at once and stay even when the
    /// load fails. Worth it on a server with cores to spare: on 2 cores, 2 streams load about 1.5 times as fast as 1.
    /// </summary>
    public int Parallelism { get; init; } = 1;

    /// <summary>Called every <see cref="ProgressInterval"/> rows with the number written so far.</summary>
    public IProgress<long>? Progress { get; init; }

    /// <summary>How often <see cref="Progress"/> is told, in rows.</summary>
    public int ProgressInterval { get; init; } = 100_000;

    /// <summary>Defaults.</summary>
    public static IngestOptions Default { get; } = new();
}

/// <summary>What a load did.</summary>
/// <param name="RowsRead">Rows read from the source.</param>
/// <param name="RowsWritten">Rows inserted or updated.</param>
/// <param name="RowsSkipped">Rows left out because their key was present (<see cref="ConflictMode.Skip"/>).</param>
/// <param name="AssetsCreated">Symbols created (<see cref="UnknownSymbolMode.Create"/>).</param>
/// <param name="MinDate">Earliest row time.</param>
/// <param name="MaxDate">Latest row time.</param>
/// <param name="Elapsed">Wall time of the load.</param>
/// <param name="AggregateRefreshes">The price aggregates refreshed over the loaded range (rows written below their
/// watermark); a <see cref="Timescale.AggregateRefreshStatus.Pending"/> one waits for its refresh policy, the rows are committed.</param>
public sealed record IngestResult(
    long RowsRead, long RowsWritten, long RowsSkipped, IReadOnlyList<string> AssetsCreated, DateTimeOffset? MinDate, DateTimeOffset? MaxDate,
    TimeSpan Elapsed, IReadOnlyList<Timescale.AggregateRefreshResult>? AggregateRefreshes = null)
{
    /// <summary>Rows read per second.</summary>
    public double RowsPerSecond => Elapsed > TimeSpan.Zero ? RowsRead / Elapsed.TotalSeconds : 0;
}

/// <summary>A row that cannot be loaded; nothing of the load was written.</summary>
public sealed class InvalidRowException : ArgumentException
{
    /// <summary>Creates the exception for row <paramref name="rowNumber"/> (1-based).</summary>
    public InvalidRowException(long rowNumber, string row, string problem)
        : base($"Row {rowNumber} ({row}): {problem}. Nothing was written; fix or drop the row and load again.")
    {
        RowNumber = rowNumber;
        Problem = problem;
    }

    /// <summary>1-based position of the row in the source.</summary>
    public long RowNumber { get; }

    /// <summary>What is wrong with it.</summary>
    public string Problem { get; }
}

/// <summary>A symbol that is not in <c>assets</c>.</summary>
public sealed class UnknownSymbolException(string symbol, string? detail = null) : ArgumentException(
    $"Unknown symbol '{symbol}': there is no asset with that symbol.{(detail is null ? "" : " " + detail)}")
{
    /// <summary>The symbol.</summary>
    public string Symbol { get; } = symbol;
}

/// <summary>A load that hit rows already present with <see cref="ConflictMode.Error"/>; nothing was written.</summary>
public sealed class DuplicateRowException(string detail, Exception inner) : InvalidOperationException(
    $"The load contains a row that is already in the table ({detail}). Nothing was written. Load with ConflictMode.Skip " +
    "to keep the rows that are there, or ConflictMode.Update to replace them.", inner);
