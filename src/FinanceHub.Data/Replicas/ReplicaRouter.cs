using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace FinanceHub.Data.Replicas;

/// <summary>Where one read went, and why.</summary>
/// <param name="DataSource">The data source to read from.</param>
/// <param name="IsReplica">True for the read endpoint, false for the primary.</param>
/// <param name="Reason">Why the primary was chosen (no replica, down, too far behind); null for the replica.</param>
public sealed record ReadRoute(NpgsqlDataSource DataSource, bool IsReplica, string? Reason);

/// <summary>What the read endpoint reports about itself (for <c>status</c> and health checks).</summary>
/// <param name="Endpoint">Host, port and database, without the password.</param>
/// <param name="Reachable">It answered.</param>
/// <param name="InRecovery">It is a standby (<c>pg_is_in_recovery()</c>); false means it is a primary itself.</param>
/// <param name="ReplayLag">
/// How far its data is behind the primary's: zero when it has replayed everything the primary had written when asked,
/// else the age of the last transaction it replayed.
/// </param>
/// <param name="ReplayPaused">Replay is paused (<c>pg_wal_replay_pause()</c>).</param>
/// <param name="Error">Why it did not answer.</param>
public sealed record ReplicaStatus(string Endpoint, bool Reachable, bool InRecovery, TimeSpan? ReplayLag, bool ReplayPaused, string? Error);

/// <summary>
/// Sends reads to the read endpoint when there is one, it answers, and it is no further behind than a read allows; else to
/// the primary. A replica that failed is skipped for <c>ReplicaRetryAfter</c>, so a stopped standby costs one failed
/// attempt, not one per query.
/// </summary>
public sealed partial class ReplicaRouter(
    NpgsqlDataSource primary, NpgsqlDataSource? replica, TimeSpan? defaultMaxLag, TimeSpan retryAfter, TimeProvider timeProvider, ILogger<ReplicaRouter> logger)
    : IAsyncDisposable
{
    private long _downUntilTicks;

    /// <summary>The primary.</summary>
    public NpgsqlDataSource Primary { get; } = primary;

    /// <summary>The read endpoint, if one is configured.</summary>
    public NpgsqlDataSource? Replica { get; } = replica;

    /// <summary>
    /// Chooses where a read goes. <paramref name="maxStaleness"/> (else the configured default) is the most replay lag
    /// the read accepts; checking it costs one short query on the replica.
    /// </summary>
    public async Task<ReadRoute> ChooseAsync(TimeSpan? maxStaleness, CancellationToken cancellationToken)
    {
        if (Replica is null)
        {
            return new ReadRoute(Primary, false, "no read endpoint is configured");
        }

        if (timeProvider.GetUtcNow().UtcTicks < Interlocked.Read(ref _downUntilTicks))
        {
            return new ReadRoute(Primary, false, "the read endpoint failed recently");
        }

        var limit = maxStaleness ?? defaultMaxLag;
        if (limit is null)
        {
            return new ReadRoute(Replica, true, null);
        }

        var status = await GetStatusAsync(cancellationToken);
        if (!status.Reachable)
        {
            return new ReadRoute(Primary, false, $"the read endpoint is down ({status.Error})");
        }

        return status.ReplayLag is { } lag && lag <= limit
            ? new ReadRoute(Replica, true, null)
            : new ReadRoute(Primary, false, $"the read endpoint is {Describe(status.ReplayLag)} behind, more than the {limit.Value.TotalSeconds:0.###} s allowed");
    }

    /// <summary>
    /// Runs <paramref name="read"/> where <see cref="ChooseAsync"/> says; if the replica fails to answer (down, restarting,
    /// a query cancelled by recovery), runs it again on the primary.
    /// </summary>
    public async Task<T> ReadAsync<T>(TimeSpan? maxStaleness, Func<ReadRoute, Task<T>> read, CancellationToken cancellationToken)
    {
        var route = await ChooseAsync(maxStaleness, cancellationToken);
        if (!route.IsReplica)
        {
            return await read(route);
        }

        try
        {
            return await read(route);
        }
        catch (Exception ex) when (IsUnavailable(ex) && !cancellationToken.IsCancellationRequested)
        {
            ReportFailure(ex);
            return await read(new ReadRoute(Primary, false, $"the read endpoint failed ({ex.Message})"));
        }
    }

    /// <summary>Marks the replica down for the retry period.</summary>
    public void ReportFailure(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        Interlocked.Exchange(ref _downUntilTicks, (timeProvider.GetUtcNow() + retryAfter).UtcTicks);
        // Idle connections to a server that went away are broken too: open new ones when it is tried again.
        Replica?.Clear();
        LogReplicaDown(exception.Message, retryAfter.TotalSeconds);
    }

    /// <summary>Asks the read endpoint how it is: reachable, a standby, its replay lag. Null without a read endpoint.</summary>
    public async Task<ReplicaStatus> GetStatusAsync(CancellationToken cancellationToken)
    {
        var endpoint = Replica is null ? "(none)" : Describe(Replica);
        if (Replica is null)
        {
            return new ReplicaStatus(endpoint, false, false, null, false, "no read endpoint is configured");
        }

        // Fresh means replayed up to what the primary had written when asked (read first); the receiver's own view can
        // say "streaming, all replayed" for a minute after the link to the primary stalled. Without the primary's
        // position (it is down), the receiver's view it is.
        string? primaryLsn = null;
        try
        {
            await using var position = Primary.CreateCommand("SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END");
            primaryLsn = await position.ExecuteScalarAsync(cancellationToken) as string;
        }
        catch (Exception ex) when (IsUnavailable(ex) && !cancellationToken.IsCancellationRequested)
        {
            // The primary is down: judge the replica on its own.
        }

        try
        {
            await using var command = Replica.CreateCommand(
                """
                SELECT pg_is_in_recovery(),
                       CASE WHEN NOT pg_is_in_recovery() THEN 0
                            WHEN $1::pg_lsn IS NOT NULL AND pg_last_wal_replay_lsn() >= $1::pg_lsn THEN 0
                            WHEN $1::pg_lsn IS NULL AND pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()
                                 AND coalesce((SELECT status FROM pg_stat_wal_receiver), '') = 'streaming' THEN 0
                            ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 END,
                       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END
                """);
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)primaryLsn ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            TimeSpan? lag = reader.IsDBNull(1) ? null : TimeSpan.FromSeconds(Math.Max(0, reader.GetDouble(1)));
            return new ReplicaStatus(endpoint, true, reader.GetBoolean(0), lag, reader.GetBoolean(2), null);
        }
        catch (Exception ex) when (IsUnavailable(ex) && !cancellationToken.IsCancellationRequested)
        {
            ReportFailure(ex);
            return new ReplicaStatus(endpoint, false, false, null, false, ex.Message);
        }
    }

    /// <summary>Whether a failure means the endpoint cannot serve now (so the primary should), rather than a bad query.</summary>
    public static bool IsUnavailable(Exception exception) => exception switch
    {
        PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal) // connection exceptions
                                || pg.SqlState.StartsWith("57P", StringComparison.Ordinal) // shutting down, cannot connect now
                                || pg.SqlState == "40001" && pg.MessageText.Contains("recovery", StringComparison.Ordinal) // cancelled by replay
                                || pg.SqlState == "3D000", // the database is not on the replica (yet)
        NpgsqlException npgsql => npgsql.InnerException is SocketException or IOException or TimeoutException || npgsql.IsTransient,
        SocketException or TimeoutException => true,
        _ => false,
    };

    private static string Describe(NpgsqlDataSource dataSource)
    {
        var builder = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        return $"{builder.Host}:{builder.Port}/{builder.Database}";
    }

    private static string Describe(TimeSpan? lag) => lag is { } l ? $"{l.TotalSeconds:0.###} s" : "an unknown time";

    /// <summary>Disposes the read endpoint's data source (the primary's belongs to whoever made it).</summary>
    public ValueTask DisposeAsync() => Replica?.DisposeAsync() ?? ValueTask.CompletedTask;

    [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "The read endpoint failed ({Reason}); reads go to the primary for {Seconds} s")]
    private partial void LogReplicaDown(string reason, double seconds);
}
