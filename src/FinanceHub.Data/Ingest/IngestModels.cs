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

    /// <summary>
    /// Names the load so that running it again is safe (the command line uses the SHA-256 of the file). Each committed
    /// transaction of the load records itself under this key (<c>financehub.loads</c>), in itself. Run again with the same
    /// key, a load that committed loads nothing and says so (<see cref="IngestLoadState.AlreadyLoaded"/>), completing any
    /// aggregate refresh it still owes; one whose parallel streams committed only in part (an interruption between their
    /// commits) loads the rest, keeping the rows that are there (<see cref="IngestLoadState.Completed"/>). Null (the
    /// default): not recorded, and a second run is a second load.
    /// </summary>
    public string? LoadKey { get; init; }

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
/// watermark). A <see cref="Timescale.AggregateRefreshStatus.Pending"/> one is owed, not lost: the rows are committed, the refresh
/// is recorded in <c>financehub.pending_refreshes</c>, and <c>financehub-data maintain</c> completes it (its detail says why).</param>
/// <param name="State">Loaded now, already loaded by an earlier run with the same <see cref="IngestOptions.LoadKey"/>, or
/// completed after an earlier run committed part of it.</param>
/// <param name="Earlier">With <see cref="IngestLoadState.AlreadyLoaded"/>: what the earlier run committed.</param>
public sealed record IngestResult(
    long RowsRead, long RowsWritten, long RowsSkipped, IReadOnlyList<string> AssetsCreated, DateTimeOffset? MinDate, DateTimeOffset? MaxDate,
    TimeSpan Elapsed, IReadOnlyList<Timescale.AggregateRefreshResult>? AggregateRefreshes = null, IngestLoadState State = IngestLoadState.Loaded,
    EarlierLoad? Earlier = null)
{
    /// <summary>Rows read per second.</summary>
    public double RowsPerSecond => Elapsed > TimeSpan.Zero ? RowsRead / Elapsed.TotalSeconds : 0;
}

/// <summary>A run of the same load (same <see cref="IngestOptions.LoadKey"/>) that committed before.</summary>
/// <param name="Rows">Rows it wrote.</param>
/// <param name="LoadedAt">When it committed.</param>
/// <param name="PartsCommitted">Its transactions that committed (all of them: <paramref name="Parts"/>).</param>
/// <param name="Parts">Its transactions (its parallel streams).</param>
public sealed record EarlierLoad(long Rows, DateTimeOffset LoadedAt, int PartsCommitted, int Parts);

/// <summary>What a load found of earlier runs with its <see cref="IngestOptions.LoadKey"/>.</summary>
public enum IngestLoadState
{
    /// <summary>Loaded by this run (no earlier run committed it).</summary>
    Loaded,

    /// <summary>An earlier run committed all of it: nothing was read or written now.</summary>
    AlreadyLoaded,

    /// <summary>An earlier run committed part of it (some of its parallel streams); this run loaded the rest, keeping the rows there.</summary>
    Completed,
}

/// <summary>
/// The connection was lost while a load committed, so whether (all of) its rows are in is unknown until the database is
/// back. Running the same load again with the same <see cref="IngestOptions.LoadKey"/> finds out and finishes it.
/// </summary>
public sealed class LoadInterruptedException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// A parallel load's streams and another session waited on each other (through the client, where PostgreSQL's deadlock
/// detector cannot see it), and the other session is not a TimescaleDB job that could be cancelled instead: the load was
/// rolled back, nothing of it kept.
/// </summary>
public sealed class LoadLockCycleException(string message) : InvalidOperationException(message);

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
    $"The load contains a row whose key is already in the table, or twice in the load ({detail}). Nothing was written. Load with ConflictMode.Skip " +
    "to keep the rows that are there, or ConflictMode.Update to replace them.", inner);
