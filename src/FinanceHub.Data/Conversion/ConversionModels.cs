namespace FinanceHub.Data.Conversion;

/// <summary>How a conversion copies history: adaptive batches held to a duration, a number of rows, or a span of time.</summary>
public sealed record BatchSize
{
    private BatchSize(long? rows, TimeSpan? span, TimeSpan? target)
    {
        Rows = rows;
        Span = span;
        Target = target;
    }

    /// <summary>Rows per batch (fixed).</summary>
    public long? Rows { get; }

    /// <summary>Time span per batch (fixed).</summary>
    public TimeSpan? Span { get; }

    /// <summary>Adaptive batches: sized after each batch so that one takes about this long.</summary>
    public TimeSpan? Target { get; }

    /// <summary>
    /// Batches sized to take about <paramref name="target"/> each. A batch holds writers of the table for its duration
    /// at most (their mirrored change waits for the batch to commit), so this bounds the application's longest wait.
    /// </summary>
    public static BatchSize Adaptive(TimeSpan target)
        => target > TimeSpan.Zero ? new BatchSize(null, null, target) : throw new ArgumentOutOfRangeException(nameof(target), target, "A batch must take a positive time.");

    /// <summary>Batches of about <paramref name="rows"/> rows (rows sharing a batch key stay together).</summary>
    public static BatchSize OfRows(long rows)
        => rows > 0 ? new BatchSize(rows, null, null) : throw new ArgumentOutOfRangeException(nameof(rows), rows, "A batch must hold at least one row.");

    /// <summary>Batches covering <paramref name="span"/> of time each (batches by the time column).</summary>
    public static BatchSize OfTime(TimeSpan span)
        => span > TimeSpan.Zero ? new BatchSize(null, span, null) : throw new ArgumentOutOfRangeException(nameof(span), span, "A batch must cover a positive span of time.");

    /// <inheritdoc />
    public override string ToString() => Rows is { } r ? $"{r} rows" : Span is { } s ? Timescale.Durations.Describe(s) : $"adaptive ({Target!.Value.TotalMilliseconds:0} ms per batch)";
}

/// <summary>Options of a conversion.</summary>
public sealed record ConversionOptions
{
    /// <summary>Batch size (default: adaptive, about 400 ms per batch, so a writer waits well under a second).</summary>
    public BatchSize BatchSize { get; init; } = BatchSize.Adaptive(TimeSpan.FromMilliseconds(400));

    /// <summary>Tables with fewer rows than this are converted in place with <c>migrate_data</c> (one short lock) instead.</summary>
    public long InPlaceThresholdRows { get; init; } = 100_000;

    /// <summary>Columns the old application named differently from the model (<c>api_usage_logs.duration_ms=response_time_ms</c>).</summary>
    public IReadOnlyList<ColumnMap> ColumnMaps { get; init; } = [];

    /// <summary>
    /// The time zone that a time column of type <c>timestamp without time zone</c> or <c>date</c> is in (an IANA name the
    /// server knows, such as <c>UTC</c> or <c>Europe/Paris</c>). Required for such a column; it becomes <c>timestamptz</c>.
    /// </summary>
    public string? TimeZone { get; init; }

    /// <summary>Which primary key the hypertable gets.</summary>
    public ConversionKey Key { get; init; } = ConversionKey.Model;

    /// <summary>Told after each batch.</summary>
    public IProgress<ConversionProgress>? Progress { get; init; }
}

/// <summary>Progress of the copy.</summary>
/// <param name="Table">The table.</param>
/// <param name="RowsCopied">Rows copied so far (over every run).</param>
/// <param name="RowsTotal">Rows to copy, counted when the copy started.</param>
/// <param name="Position">The batch key value copied through (an id or a time), as text.</param>
/// <param name="RowsPerSecond">Rate of this run.</param>
/// <param name="BatchRows">Rows in the last batch.</param>
/// <param name="BatchDuration">How long the last batch took (writers waited at most this long).</param>
public sealed record ConversionProgress(string Table, long RowsCopied, long RowsTotal, string Position, double RowsPerSecond, long BatchRows, TimeSpan BatchDuration)
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
/// <param name="Table">The table.</param>
/// <param name="Phase">Where it stands.</param>
/// <param name="Path">How it is converted (batched copy, in place).</param>
/// <param name="RowsCopied">Rows copied so far.</param>
/// <param name="CopiedThrough">The batch key value copied through (an id or a time), as text.</param>
/// <param name="OldTable">The old table's name after a swap.</param>
/// <param name="UpdatedAt">When the state last changed.</param>
public sealed record ConversionStatus(
    string Table, ConversionPhase Phase, string Path, long RowsCopied, string? CopiedThrough, string? OldTable, DateTimeOffset? UpdatedAt);

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

/// <summary>A step of a conversion changed the phase concurrently (another process swapped, rolled back or finalized).</summary>
public sealed class ConversionPhaseChangedException(string table, ConversionPhase expected, ConversionPhase actual) : InvalidOperationException(
    $"{table} changed from phase {expected} to {actual} while this step ran (another process); nothing was changed by this step. Check 'financehub-data convert status'.");
