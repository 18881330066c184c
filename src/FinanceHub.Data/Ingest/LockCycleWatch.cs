using System.Globalization;
using System.Text;
using FinanceHub.Data.Infrastructure;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace FinanceHub.Data.Ingest;

/// <summary>
/// Finds the lock waits of a parallel load that PostgreSQL's deadlock detector cannot see, and ends them within seconds.
/// </summary>
/// <remarks>
/// <para>The load's streams keep their transactions open until every stream has written, so a stream that waits for a
/// lock is also waited for, through the client, by every sibling. When the lock's holder (or a session it waits for) in
/// turn waits for a sibling's transaction, the cycle can never end, and the server cannot see it: one of its edges runs
/// through this process. A compression policy that queues for a chunk one stream holds, ahead of another stream that
/// needs the same chunk, is such a cycle.</para>
/// <para>Every second, while the load runs, this asks the server which sessions block the load's own
/// (<c>pg_blocking_pids</c>, followed through the sessions they wait for, for locks held to the end of a transaction).
/// A path from one of the load's sessions back to another of its sessions, seen twice in a row, is a cycle. If a TimescaleDB job is on it (a compression, retention or refresh policy run by
/// the job scheduler), the job is the victim, as PostgreSQL's own detector picks one: its statement is cancelled and the
/// scheduler runs it again after its retry period. Otherwise (a session of a person or another application, or two of
/// the load's own streams) the load is the victim: its sessions are ended, which rolls it back, and the error names the
/// sessions and what to do.</para>
/// </remarks>
internal sealed partial class LockCycleWatch : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>Cancelling the same job this many times without the cycle going away means it does not yield: the load gives way.</summary>
    private const int MaxCancellations = 20;

    private readonly NpgsqlDataSource _dataSource;
    private readonly IReadOnlyDictionary<int, string> _ours;
    private readonly CancellationTokenSource _failed;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _cancellations;
    private int _disposed;
    private string? _lastSeen;

    private LockCycleWatch(NpgsqlDataSource dataSource, IReadOnlyDictionary<int, string> ours, CancellationTokenSource failed, ILogger logger)
    {
        _dataSource = dataSource;
        _ours = ours;
        _failed = failed;
        _logger = logger;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Why the load was stopped, when it was.</summary>
    public LoadLockCycleException? Failure { get; private set; }

    /// <summary>
    /// Starts watching the sessions in <paramref name="ours"/> (backend pid to what it is, e.g. "stream 2"); on a cycle
    /// without a job to cancel, sets <see cref="Failure"/> and cancels <paramref name="failed"/>.
    /// </summary>
    public static LockCycleWatch Start(NpgsqlDataSource dataSource, IReadOnlyDictionary<int, string> ours, CancellationTokenSource failed, ILogger logger)
        => new(dataSource, ours, failed, logger);

    private async Task LoopAsync()
    {
        try
        {
            await using var connection = await _dataSource.OpenConnectionAsync(_stop.Token);
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(Interval, _stop.Token);
                // Seen twice in a row, a second apart: a wait that ends by itself (another stream extending the same
                // index) cannot look like a cycle twice.
                var path = await FindCycleAsync(connection);
                var seen = path is null ? null : string.Join(",", path);
                if (path is not null && seen == _lastSeen && !await ResolveAsync(connection, path))
                {
                    return;
                }

                _lastSeen = seen;
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (NpgsqlException ex)
        {
            // The server went away (the load's own streams will say so): nothing left to watch.
            LogWatchStopped(ex.Message);
        }
    }

    /// <summary>A path of blocking from one of the load's sessions through others back to one of the load's, or null.</summary>
    private async Task<int[]?> FindCycleAsync(NpgsqlConnection connection)
    {
        var paths = await connection.QueryAsync(null,
            """
            WITH RECURSIVE held (pid) AS (
              -- Sessions waiting for a lock that is held to the end of its holder's transaction (not a relation
              -- extension or page lock, released in microseconds).
              SELECT pid FROM pg_locks WHERE NOT granted AND locktype NOT IN ('extend', 'page', 'spectoken', 'frozenid')),
            waits (blocker, path) AS (
              SELECT b, ARRAY[s, b] FROM unnest($1::int[]) s, unnest(pg_blocking_pids(s)) b WHERE s IN (SELECT pid FROM held)
              UNION ALL
              SELECT b, w.path || b FROM waits w, unnest(pg_blocking_pids(w.blocker)) b
              WHERE NOT w.blocker = ANY($1) AND w.blocker IN (SELECT pid FROM held) AND NOT b = ANY(w.path) AND cardinality(w.path) < 8)
            SELECT path FROM waits WHERE blocker = ANY($1) LIMIT 1
            """, [_ours.Keys.ToArray()], r => r.GetFieldValue<int[]>(0), _stop.Token);
        return paths.Count == 0 ? null : paths[0];
    }

    /// <summary>Cancels the jobs on the cycle; false when there is none, or they do not yield (the load is then stopped).</summary>
    private async Task<bool> ResolveAsync(NpgsqlConnection connection, int[] path)
    {
        var sessions = (await connection.QueryAsync(null,
                """
                SELECT pid, backend_type, coalesce(application_name, ''), coalesce(state, ''),
                       left(regexp_replace(coalesce(query, ''), '\s+', ' ', 'g'), 160),
                       backend_type <> 'client backend' AND application_name ~ '\[[0-9]+\]$'
                FROM pg_stat_activity WHERE pid = ANY($1)
                """, [path], r => new Session(r.GetInt32(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetBoolean(5)), _stop.Token))
            .ToDictionary(s => s.Pid);
        var jobs = path.Where(p => !_ours.ContainsKey(p) && sessions.TryGetValue(p, out var s) && s.IsJob).Distinct().ToList();
        var description = Describe(path, sessions);
        if (jobs.Count > 0 && _cancellations < MaxCancellations)
        {
            try
            {
                foreach (var pid in jobs)
                {
                    await connection.ExecuteAsync(null, "SELECT pg_cancel_backend($1)", [pid], _stop.Token);
                    _cancellations++;
                    LogJobCancelled(sessions[pid].Application, pid, description);
                }

                return true;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
            {
                description += $" This role may not cancel the job's statement ({ex.MessageText}): GRANT pg_signal_backend TO it to let parallel loads do so.";
            }
        }
        else if (jobs.Count > 0)
        {
            description += $" The job's statement was cancelled {MaxCancellations} times and it came back each time.";
        }

        Failure = new LoadLockCycleException(
            $"{description} PostgreSQL cannot see this wait (it runs through the loading process), so it would never end. The load was rolled back: " +
            "nothing of the load was kept. Run it again once that session is done, or load with one stream (Parallelism = 1), whose waits the server resolves itself.");
        LogCycle(description);

        // Ending the load's own sessions rolls their transactions back and releases their locks at once, whatever their
        // client threads are blocked in (a COPY write the server stopped reading). Ours: the same role, always allowed.
        foreach (var pid in _ours.Keys)
        {
            await connection.ExecuteAsync(null, "SELECT pg_terminate_backend($1)", [pid], CancellationToken.None);
        }

        await _failed.CancelAsync();
        return false;
    }

    private string Describe(int[] path, Dictionary<int, Session> sessions)
    {
        var text = new StringBuilder();
        for (var i = 0; i < path.Length; i++)
        {
            text.Append(i == 0 ? "The load's " : i == path.Length - 1 ? ", which waited for the load's " : ", which waited for ");
            text.Append(Name(path[i], sessions));
        }

        text.Append(", whose transaction stays open until every stream of the load has written.");
        return text.ToString();
    }

    private string Name(int pid, Dictionary<int, Session> sessions)
    {
        if (_ours.TryGetValue(pid, out var ours))
        {
            return string.Create(CultureInfo.InvariantCulture, $"{ours} (pid {pid})");
        }

        return sessions.TryGetValue(pid, out var s)
            ? string.Create(CultureInfo.InvariantCulture,
                $"pid {pid} ({(s.Application.Length > 0 ? s.Application : s.BackendType)}, {s.State}{(s.Query.Length > 0 ? $": {s.Query}" : "")})")
            : string.Create(CultureInfo.InvariantCulture, $"pid {pid} (gone)");
    }

    /// <summary>Stops watching (and waits for the watch to stop); may be called more than once.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _stop.CancelAsync();
        }

        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private sealed record Session(int Pid, string BackendType, string Application, string State, string Query, bool IsJob);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning,
        Message = "Cancelled the statement of {Job} (pid {Pid}), which waited in a cycle with a parallel load; the scheduler runs it again after its retry period. {Cycle}")]
    private partial void LogJobCancelled(string job, int pid, string cycle);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Error, Message = "A parallel load was rolled back: {Cycle}")]
    private partial void LogCycle(string cycle);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Debug, Message = "The lock watch of a parallel load stopped: {Reason}")]
    private partial void LogWatchStopped(string reason);
}
