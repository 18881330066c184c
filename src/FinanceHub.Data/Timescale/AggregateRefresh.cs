using Microsoft.Extensions.Logging;
using Npgsql;
using Polly;
using Polly.Retry;

namespace FinanceHub.Data.Timescale;

/// <summary>What became of a refresh of an aggregate.</summary>
public enum AggregateRefreshStatus
{
    /// <summary>The window was materialized.</summary>
    Refreshed,

    /// <summary>
    /// Another refresh of an overlapping window (usually the aggregate's refresh policy) kept it busy for longer than the
    /// retries waited. The rows are committed, and the window is recorded in <c>financehub.pending_refreshes</c>: the next
    /// <c>financehub-data maintain</c> (<see cref="Maintenance.IMaintenanceRunner.RunDueAsync"/>) refreshes it. Until then
    /// candles of that window that lie below the aggregate's watermark may lack the new rows.
    /// </summary>
    Pending,
}

/// <summary>A refresh of an aggregate over [<see cref="Start"/>, <see cref="End"/>) (null = unbounded).</summary>
/// <param name="View">The aggregate.</param>
/// <param name="Start">Window start used.</param>
/// <param name="End">Window end used.</param>
/// <param name="Status">Refreshed, or pending behind a concurrent refresh.</param>
/// <param name="Attempts">How many times the refresh was tried.</param>
/// <param name="Detail">Why it is pending (the server's message), else null.</param>
public sealed record AggregateRefreshResult(
    string View, DateTimeOffset? Start, DateTimeOffset? End, AggregateRefreshStatus Status, int Attempts, string? Detail);

/// <summary>How long a refresh started by the project waits behind a concurrent refresh before it reports the window pending.</summary>
public sealed class RefreshRetryOptions
{
    /// <summary>Retries after the first attempt (0 = report pending at once).</summary>
    public int MaxRetries { get; set; } = 6;

    /// <summary>Delay before the first retry; each next one doubles, with jitter.</summary>
    public TimeSpan FirstDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Longest delay between two attempts.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Retries a refresh that failed because a concurrent refresh holds an overlapping window: TimescaleDB 2.27 and later fail
/// such a refresh at once with 55P03 where earlier releases waited. Bounded exponential backoff with jitter (Polly).
/// </summary>
internal sealed partial class ConcurrentRefreshRetry
{
    private readonly ResiliencePipeline _pipeline;
    private readonly ILogger _logger;

    public ConcurrentRefreshRetry(RefreshRetryOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger;
        var builder = new ResiliencePipelineBuilder();
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<PostgresException>(IsConcurrentRefresh),
                MaxRetryAttempts = options.MaxRetries,
                Delay = options.FirstDelay,
                MaxDelay = options.MaxDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = args =>
                {
                    LogRetry(args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds, args.Outcome.Exception?.Message);
                    return default;
                },
            });
        }

        _pipeline = builder.Build();
    }

    /// <summary>
    /// Runs <paramref name="refresh"/>; returns the number of attempts and, when every attempt met a concurrent refresh, the
    /// server's last message (the window is then pending). Any other error propagates.
    /// </summary>
    public async Task<(int Attempts, string? Pending)> ExecuteAsync(Func<CancellationToken, Task> refresh, CancellationToken cancellationToken)
    {
        var attempts = 0;
        try
        {
            await _pipeline.ExecuteAsync(async ct =>
            {
                attempts++;
                await refresh(ct);
            }, cancellationToken);
            return (attempts, null);
        }
        catch (PostgresException ex) when (IsConcurrentRefresh(ex))
        {
            return (attempts, ex.Detail is { Length: > 0 } detail ? $"{ex.MessageText} ({detail})" : ex.MessageText);
        }
    }

    /// <summary>55P03 (lock_not_available): a concurrent refresh, or a lock timeout on the aggregate.</summary>
    internal static bool IsConcurrentRefresh(PostgresException exception) => exception.SqlState == PostgresErrorCodes.LockNotAvailable;

    [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "Refresh met a concurrent refresh; attempt {Attempt} in {DelayMs:0} ms ({Reason})")]
    private partial void LogRetry(int attempt, double delayMs, string? reason);
}
