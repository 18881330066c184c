using FinanceHub.Data.Timescale.Maintenance;

namespace FinanceHub.Data.Timescale;

/// <summary>
/// TimescaleDB administration: the seed's <c>TimescaleDBManager</c>. Table, column and view names are resolved against
/// the catalog (a name that does not exist is an <see cref="ArgumentException"/>), values are parameters. Operations that
/// need the community edition throw <see cref="TimescaleFeatureUnavailableException"/> on the Apache edition; retention
/// and the price views' refresh, emulated there, work on both.
/// </summary>
public interface ITimescaleManager
{
    /// <summary>Ensures the extension, schema <c>financehub</c> and the project's SQL helper functions exist (idempotent).</summary>
    Task SetupAsync(CancellationToken cancellationToken = default);

    /// <summary>Whether TimescaleDB can be used: reachable and installed.</summary>
    Task<bool> IsAvailableAsync(CancellationToken cancellationToken = default);

    /// <summary>Server, extension, edition, background workers, toolkit. Never throws for an unreachable server.</summary>
    Task<TimescaleHealth> GetHealthAsync(CancellationToken cancellationToken = default);

    /// <summary>The edition of the connected server.</summary>
    Task<TimescaleEdition> GetEditionAsync(CancellationToken cancellationToken = default);

    /// <summary>Per feature: native, emulated or unavailable on this server.</summary>
    Task<IReadOnlyList<FeatureSupport>> GetFeatureSupportAsync(CancellationToken cancellationToken = default);

    /// <summary>Turns an existing table into a hypertable on <paramref name="timeColumn"/>.</summary>
    Task CreateHypertableAsync(string table, string timeColumn, TimeSpan chunkInterval, bool migrateData = false, CancellationToken cancellationToken = default);

    /// <summary>Adds a hash-partitioned space dimension.</summary>
    Task AddDimensionAsync(string table, string column, int partitions, CancellationToken cancellationToken = default);

    /// <summary>Sets the chunk interval for chunks created from now on.</summary>
    Task SetChunkTimeIntervalAsync(string table, TimeSpan chunkInterval, CancellationToken cancellationToken = default);

    /// <summary>The hypertables (not the aggregates' internal ones), with chunk counts and sizes.</summary>
    Task<IReadOnlyList<HypertableInfo>> GetHypertablesAsync(CancellationToken cancellationToken = default);

    /// <summary>Chunks of <paramref name="table"/>, oldest first.</summary>
    Task<IReadOnlyList<ChunkInfo>> GetChunksAsync(string table, CancellationToken cancellationToken = default);

    /// <summary>Sets (or replaces) the retention of <paramref name="table"/>: a job on community, a project policy on Apache.
    /// Refuses a retention shorter than the refresh window of a continuous aggregate over the table.</summary>
    Task SetRetentionPolicyAsync(string table, TimeSpan dropAfter, CancellationToken cancellationToken = default);

    /// <summary>The retention of <paramref name="table"/> (a native job or the project's policy), or null without one.</summary>
    Task<TimeSpan?> GetRetentionPolicyAsync(string table, CancellationToken cancellationToken = default);

    /// <summary>Removes the retention of <paramref name="table"/>; returns whether there was one.</summary>
    Task<bool> RemoveRetentionPolicyAsync(string table, CancellationToken cancellationToken = default);

    /// <summary>Drops the chunks of <paramref name="table"/> whose rows are all older than <paramref name="olderThan"/>
    /// (keeping the price aggregates' rows for them); returns how many.</summary>
    Task<int> DropChunksOlderThanAsync(string table, TimeSpan olderThan, CancellationToken cancellationToken = default);

    /// <summary>Enables compression (community). <paramref name="orderBy"/> items are <c>column</c>, <c>column ASC</c> or <c>column DESC</c>.</summary>
    Task EnableCompressionAsync(string table, IReadOnlyList<string> segmentBy, IReadOnlyList<string> orderBy, TimeSpan? compressAfter,
        CancellationToken cancellationToken = default);

    /// <summary>Compresses the chunks older than <paramref name="olderThan"/> now (community); returns how many.</summary>
    Task<int> CompressChunksAsync(string table, TimeSpan olderThan, CancellationToken cancellationToken = default);

    /// <summary>Decompresses compressed chunks (all, or those newer than <paramref name="newerThan"/>) now (community); returns how many.</summary>
    Task<int> DecompressChunksAsync(string table, TimeSpan? newerThan = null, CancellationToken cancellationToken = default);

    /// <summary>Compression statistics of <paramref name="table"/> (community).</summary>
    Task<CompressionStats> GetCompressionStatsAsync(string table, CancellationToken cancellationToken = default);

    /// <summary>Creates a continuous aggregate with its refresh policy (community).</summary>
    Task CreateContinuousAggregateAsync(ContinuousAggregateDefinition definition, CancellationToken cancellationToken = default);

    /// <summary>
    /// Refreshes an aggregate over [<paramref name="windowStart"/>, <paramref name="windowEnd"/>) (null = unbounded). The window never
    /// reaches before the oldest chunk of the source: buckets whose raw rows retention dropped would be recomputed from
    /// nothing and deleted. On Apache the emulated price views are refreshed whole. When a concurrent refresh (a refresh
    /// policy) holds an overlapping window, waits and retries (<see cref="Configuration.DatabaseOptions.AggregateRefreshRetry"/>),
    /// then returns <see cref="AggregateRefreshStatus.Pending"/> instead of failing. Returns the window used.
    /// </summary>
    Task<AggregateRefreshResult> RefreshContinuousAggregateAsync(
        string view, DateTimeOffset? windowStart = null, DateTimeOffset? windowEnd = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Drops a continuous aggregate (and its policies). One that other views read (the candle ladder's rungs over the
    /// hourly and daily aggregates) is refused with an error naming them: drop those first.
    /// </summary>
    Task DropContinuousAggregateAsync(string view, CancellationToken cancellationToken = default);

    /// <summary>Freshness of the price aggregates.</summary>
    Task<IReadOnlyList<AggregateInfo>> GetAggregatesAsync(CancellationToken cancellationToken = default);

    /// <summary>Jobs with their last runs and errors: TimescaleDB's on community, the project's policies on Apache.</summary>
    Task<IReadOnlyList<JobInfo>> GetJobsAsync(CancellationToken cancellationToken = default);

    /// <summary>Size of the database and of each hypertable.</summary>
    Task<StorageInfo> GetStorageAsync(CancellationToken cancellationToken = default);

    /// <summary>Runs the maintenance that is due (see <see cref="IMaintenanceRunner"/>).</summary>
    Task<IReadOnlyList<MaintenanceRunResult>> RunMaintenanceAsync(bool force = false, CancellationToken cancellationToken = default);
}
