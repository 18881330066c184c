namespace FinanceHub.Data.Timescale;

/// <summary>Availability and health of the server and its TimescaleDB.</summary>
/// <param name="Reachable">The server answered.</param>
/// <param name="ServerVersion">PostgreSQL version.</param>
/// <param name="ExtensionInstalled">TimescaleDB is installed in this database.</param>
/// <param name="ExtensionVersion">Installed TimescaleDB version.</param>
/// <param name="AvailableVersion">Version the server could install.</param>
/// <param name="Edition">Edition, from <c>timescaledb.license</c>.</param>
/// <param name="MaxBackgroundWorkers"><c>timescaledb.max_background_workers</c>.</param>
/// <param name="RunningBackgroundWorkers">TimescaleDB background workers running now.</param>
/// <param name="ToolkitInstalled">Whether <c>timescaledb_toolkit</c> is installed.</param>
/// <param name="Error">Why the server is not healthy, when it is not.</param>
public sealed record TimescaleHealth(
    bool Reachable, string? ServerVersion, bool ExtensionInstalled, string? ExtensionVersion, string? AvailableVersion,
    TimescaleEdition Edition, int? MaxBackgroundWorkers, int RunningBackgroundWorkers, bool ToolkitInstalled, string? Error)
{
    /// <summary>Reachable, with TimescaleDB installed.</summary>
    public bool Healthy => Reachable && ExtensionInstalled && Error is null;

    /// <summary>The release installed in this database, parsed (null without the extension).</summary>
    public Catalog.TimescaleRelease? Release => Catalog.TimescaleRelease.Parse(ExtensionVersion);

    /// <summary>
    /// The server's TimescaleDB (<see cref="AvailableVersion"/>, the library its binaries carry) is newer than the extension
    /// installed in this database: the server was upgraded and <c>ALTER EXTENSION timescaledb UPDATE</c> is due.
    /// </summary>
    public bool UpdateDue => Release is { } installed && Catalog.TimescaleRelease.Parse(AvailableVersion) is { } available
                             && available.Version > installed.Version;

    /// <summary>Known defects of the installed release in what the project uses.</summary>
    public IReadOnlyList<Catalog.KnownDefect> KnownDefects => Release?.KnownDefects ?? [];

    /// <summary>What to do about the installed release, one line each (an update that is due, known defects, an unsupported release).</summary>
    public IReadOnlyList<string> Advice
    {
        get
        {
            var advice = new List<string>();
            if (UpdateDue)
            {
                advice.Add($"The server has TimescaleDB {AvailableVersion} but this database still runs {ExtensionVersion}: run " +
                           "ALTER EXTENSION timescaledb UPDATE as the first command of a new session " +
                           "(psql -X -d DATABASE -c 'ALTER EXTENSION timescaledb UPDATE'), then reconnect.");
            }

            if (Release is { } release && release.Version < Catalog.TimescaleRelease.Oldest)
            {
                advice.Add($"TimescaleDB {release} is older than {Catalog.TimescaleRelease.Oldest.ToString(2)}, the oldest release this project is tested on.");
            }

            advice.AddRange(KnownDefects.Select(d => $"TimescaleDB {ExtensionVersion} has a known defect in {d}."));
            return advice;
        }
    }
}

/// <summary>A hypertable and its size.</summary>
public sealed record HypertableInfo(
    string Schema, string Name, string TimeColumn, string ChunkInterval, long ChunkCount, long CompressedChunkCount,
    bool CompressionEnabled, long TotalBytes, long? BytesBeforeCompression, long? BytesAfterCompression)
{
    /// <summary>Uncompressed size over compressed size of the compressed chunks, if any are compressed.</summary>
    public double? CompressionRatio => BytesAfterCompression is > 0 && BytesBeforeCompression is { } before
        ? (double)before / BytesAfterCompression.Value
        : null;
}

/// <summary>One chunk of a hypertable.</summary>
public sealed record ChunkInfo(
    string Schema, string Name, DateTimeOffset? RangeStart, DateTimeOffset? RangeEnd, bool IsCompressed, long TotalBytes,
    long? BytesBeforeCompression, long? BytesAfterCompression);

/// <summary>Compression statistics of a hypertable.</summary>
public sealed record CompressionStats(
    string Hypertable, long TotalChunks, long CompressedChunks, long? BytesBeforeCompression, long? BytesAfterCompression)
{
    /// <summary>Before / after, for the compressed chunks.</summary>
    public double? Ratio => BytesAfterCompression is > 0 && BytesBeforeCompression is { } b ? (double)b / BytesAfterCompression.Value : null;
}

/// <summary>A scheduled job: a TimescaleDB job (community) or a project-run maintenance policy (Apache).</summary>
public sealed record JobInfo(
    string Id, string Kind, string Target, string Schedule, bool Enabled, bool Native, DateTimeOffset? LastRunAt,
    string? LastRunStatus, DateTimeOffset? NextRunAt, long TotalFailures, string? LastError, string? Config);

/// <summary>Freshness of a price aggregate.</summary>
/// <param name="View">View name.</param>
/// <param name="Kind">continuous aggregate or materialized view.</param>
/// <param name="MaterializedThrough">Up to where it holds materialized rows (its watermark).</param>
/// <param name="RealTime">Whether queries also see rows newer than the watermark.</param>
/// <param name="RefreshReach">How far back its refresh policy reaches (the widest <c>start_offset</c>; <see cref="TimeSpan.MaxValue"/>
/// for a policy without one); null without a native policy. Rows older than that are materialized only by an explicit refresh.</param>
/// <param name="MaterializedTable">Where a continuous aggregate keeps its materialized rows (its materialization hypertable,
/// schema-qualified and quoted); null for a materialized view, which is its own storage.</param>
public sealed record AggregateInfo(
    string View, string Kind, DateTimeOffset? MaterializedThrough, bool RealTime, TimeSpan? RefreshReach = null, string? MaterializedTable = null);

/// <summary>Storage of the database and of each hypertable.</summary>
public sealed record StorageInfo(string Database, long DatabaseBytes, IReadOnlyList<HypertableStorage> Hypertables);

/// <summary>Storage of one hypertable.</summary>
public sealed record HypertableStorage(string Name, long TableBytes, long IndexBytes, long ToastBytes, long TotalBytes);

/// <summary>An aggregate column of a continuous aggregate: <c>{Function}({Column}) AS {Alias}</c>.</summary>
/// <param name="Function">first, last, min, max, sum, avg or count.</param>
/// <param name="Column">Source column (<c>*</c> with count).</param>
/// <param name="Alias">Output column name.</param>
public sealed record AggregateColumn(string Function, string Column, string Alias);

/// <summary>A continuous aggregate to create.</summary>
/// <param name="Name">View name.</param>
/// <param name="SourceTable">Hypertable it reads.</param>
/// <param name="Bucket">Bucket width.</param>
/// <param name="Columns">Aggregates to compute.</param>
/// <param name="GroupBy">Columns to group by besides the bucket.</param>
/// <param name="RefreshStartOffset">Refresh policy window start (older edge), or null for no policy.</param>
/// <param name="RefreshEndOffset">Refresh policy window end (newer edge).</param>
/// <param name="RefreshSchedule">How often the policy runs.</param>
public sealed record ContinuousAggregateDefinition(
    string Name, string SourceTable, TimeSpan Bucket, IReadOnlyList<AggregateColumn> Columns, IReadOnlyList<string> GroupBy,
    TimeSpan? RefreshStartOffset = null, TimeSpan? RefreshEndOffset = null, TimeSpan? RefreshSchedule = null);
