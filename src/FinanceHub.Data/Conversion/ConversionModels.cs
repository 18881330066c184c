namespace FinanceHub.Data.Conversion;

/// <summary>How a conversion copies history: a number of rows per batch, or a span of time per batch.</summary>
public sealed record BatchSize
{
    private BatchSize(long? rows, TimeSpan? span)
    {
        Rows = rows;
        Span = span;
    }

    /// <summary>Rows per batch.</summary>
    public long? Rows { get; }

    /// <summary>Time span per batch.</summary>
    public TimeSpan? Span { get; }

    /// <summary>Batches of about <paramref name="rows"/> rows (rows sharing a timestamp stay together).</summary>
    public static BatchSize OfRows(long rows)
        => rows > 0 ? new BatchSize(rows, null) : throw new ArgumentOutOfRangeException(nameof(rows), rows, "A batch must hold at least one row.");

    /// <summary>Batches covering <paramref name="span"/> of time each.</summary>
    public static BatchSize OfTime(TimeSpan span)
        => span > TimeSpan.Zero ? new BatchSize(null, span) : throw new ArgumentOutOfRangeException(nameof(span), span, "A batch must cover a positive span of time.");

    /// <inheritdoc />
    public override string ToString() => Rows is { } r ? $"{r} rows" : Timescale.Durations.Describe(Span!.Value);
}

/// <summary>Options of a conversion.</summary>
public sealed record ConversionOptions
{
    /// <summary>Batch size (default 50,000 rows).</summary>
    public BatchSize BatchSize { get; init; } = BatchSize.OfRows(50_000);

    /// <summary>Tables with fewer rows than this are converted in place with <c>migrate_data</c> (one short lock) instead.</summary>
    public long InPlaceThresholdRows { get; init; } = 100_000;

    /// <summary>Told after each batch.</summary>
    public IProgress<ConversionProgress>? Progress { get; init; }
}

/// <summary>Progress of the copy.</summary>
public sealed record ConversionProgress(string Table, long RowsCopied, long RowsTotal, DateTimeOffset CopiedThrough, double RowsPerSecond)
{
    /// <summary>Estimated time left at the current rate.</summary>
    public TimeSpan? Remaining => RowsPerSecond > 0 && RowsTotal > RowsCopied ? TimeSpan.FromSeconds((RowsTotal - RowsCopied) / RowsPerSecond) : null;
}

/// <summary>Where a table's conversion stands.</summary>
public enum ConversionPhase
{
    /// <summary>Nothing done.</summary>
    NotStarted,
    /// <summary>Copying history into the new hypertable; the old table is live and mirrored.</summary>
    Copying,
    /// <summary>Copied and validated; ready to swap.</summary>
    Copied,
    /// <summary>The hypertable has the table's name; the old table is kept (and mirrored) until finalized.</summary>
    Swapped,
    /// <summary>The old table is dropped.</summary>
    Finalized,
    /// <summary>Rolled back to the old table.</summary>
    RolledBack,
    /// <summary>Converted in place (create_hypertable with migrate_data).</summary>
    ConvertedInPlace,
}

/// <summary>State of one table's conversion.</summary>
public sealed record ConversionStatus(
    string Table, ConversionPhase Phase, string Path, long RowsCopied, DateTimeOffset? CopiedThrough, string? OldTable, DateTimeOffset? UpdatedAt);

/// <summary>One finding of the prerequisites check.</summary>
/// <param name="Check">What was checked.</param>
/// <param name="Ok">Whether it passed.</param>
/// <param name="Blocking">Whether a failure blocks the conversion.</param>
/// <param name="Detail">What was found, and the fix when it failed.</param>
public sealed record PrerequisiteResult(string Check, bool Ok, bool Blocking, string Detail);

/// <summary>Validation of one time range: rows and checksums of the old and new tables.</summary>
public sealed record RangeValidation(DateTimeOffset Start, DateTimeOffset End, long OldRows, long NewRows, bool ChecksumsMatch)
{
    /// <summary>Same rows, same contents.</summary>
    public bool Matches => OldRows == NewRows && ChecksumsMatch;
}

/// <summary>A second conversion of a table that is already being converted.</summary>
public sealed class ConversionInProgressException(string table) : InvalidOperationException(
    $"{table} is already being converted by another process (or one that is still running). Wait for it, or check 'financehub-data convert status'.");
