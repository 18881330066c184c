using System.Diagnostics;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Configuration;
using FinanceHub.Data.Infrastructure;
using FinanceHub.Data.Timescale.Catalog;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FinanceHub.Data.Timescale.Maintenance;

/// <summary>
/// Runs the maintenance policies that the project owns: on the Apache edition, retention
/// (<c>financehub.apply_retention</c>, which keeps the aggregates of what it drops) and the refresh of the
/// <c>asset_prices_hourly</c>/<c>asset_prices_daily</c> materialized views. On the community edition TimescaleDB's
/// own jobs do this; running with <c>force</c> runs them now through <c>run_job</c>.
/// </summary>
public interface IMaintenanceRunner
{
    /// <summary>Runs every enabled policy that is due (or every enabled one with <paramref name="force"/>): retention first, then refresh.</summary>
    Task<IReadOnlyList<MaintenanceRunResult>> RunDueAsync(bool force = false, CancellationToken cancellationToken = default);

    /// <summary>The project-run policies and their last runs.</summary>
    Task<IReadOnlyList<MaintenancePolicy>> ListPoliciesAsync(CancellationToken cancellationToken = default);
}

/// <inheritdoc />
public sealed partial class MaintenanceRunner(
    NpgsqlDataSource dataSource, TimeProvider timeProvider, ILogger<MaintenanceRunner> logger, IOptions<DatabaseOptions>? options = null)
    : IMaintenanceRunner
{
    private readonly TimescaleCatalog _catalog = new(dataSource);
    private readonly ConcurrentRefreshRetry _refreshRetry = new(options?.Value.AggregateRefreshRetry ?? new(), logger);
    private TimescaleManager? _manager;

    private const string SelectPoliciesSql = """
        SELECT name, kind, target, drop_after, schedule_interval, enabled, next_run_at,
               last_run_started_at, last_run_finished_at, last_run_status, last_error, materialized_through
        FROM financehub.maintenance_policies
        ORDER BY CASE kind WHEN 'Retention' THEN 0 ELSE 1 END, name
        """;

    private const string LicenseSql = "SELECT financehub.timescale_license()";

    /// <inheritdoc />
    public async Task<IReadOnlyList<MaintenancePolicy>> ListPoliciesAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(SelectPoliciesSql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var policies = new List<MaintenancePolicy>();
        while (await reader.ReadAsync(cancellationToken))
        {
            policies.Add(new MaintenancePolicy
            {
                Name = reader.GetString(0),
                Kind = Enum.Parse<MaintenancePolicyKind>(reader.GetString(1)),
                Target = reader.GetString(2),
                DropAfter = reader.IsDBNull(3) ? null : reader.GetFieldValue<TimeSpan>(3),
                ScheduleInterval = reader.GetFieldValue<TimeSpan>(4),
                Enabled = reader.GetBoolean(5),
                NextRunAt = reader.GetFieldValue<DateTimeOffset>(6),
                LastRunStartedAt = reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7),
                LastRunFinishedAt = reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
                LastRunStatus = reader.IsDBNull(9) ? null : reader.GetString(9),
                LastError = reader.IsDBNull(10) ? null : reader.GetString(10),
                MaterializedThrough = reader.IsDBNull(11) ? null : reader.GetFieldValue<DateTimeOffset>(11),
            });
        }

        return policies;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<MaintenanceRunResult>> RunDueAsync(bool force = false, CancellationToken cancellationToken = default)
    {
        var results = new List<MaintenanceRunResult>();
        results.AddRange(await RunPendingRefreshesAsync(cancellationToken));
        var now = timeProvider.GetUtcNow();
        foreach (var policy in await ListPoliciesAsync(cancellationToken))
        {
            if (policy.Enabled && (force || policy.NextRunAt <= now))
            {
                results.Add(await RunPolicyAsync(policy, cancellationToken));
            }
        }

        if (force && await GetLicenseAsync(cancellationToken) == "timescale")
        {
            results.AddRange(await RunNativeJobsAsync(cancellationToken));
        }

        foreach (var result in results)
        {
            Telemetry.FinanceHubTelemetry.Maintained(result.Kind.ToLowerInvariant(), result.Outcome.ToString());
        }

        return results;
    }

    /// <summary>Refreshes the windows that an earlier refresh left pending behind a concurrent one (financehub.pending_refreshes).</summary>
    private async Task<List<MaintenanceRunResult>> RunPendingRefreshesAsync(CancellationToken cancellationToken)
    {
        var results = new List<MaintenanceRunResult>();
        if (!await dataSource.ScalarAsync<bool>("SELECT to_regclass('financehub.pending_refreshes') IS NOT NULL", [], cancellationToken))
        {
            return results;
        }

        // 'rows' (since LoadLedger): the time span of rows a load wrote, whose refresh it still owes.
        var hasKind = await dataSource.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'financehub.pending_refreshes'::regclass AND attname = 'kind' AND NOT attisdropped)",
            [], cancellationToken);
        var pending = await dataSource.QueryAsync(
            $"SELECT id, view_name, range_start, range_end, {(hasKind ? "kind" : "'window'")} FROM financehub.pending_refreshes ORDER BY id", [],
            r => (Id: r.GetInt64(0), View: r.GetString(1), Start: r.IsDBNull(2) ? (DateTimeOffset?)null : r.GetFieldValue<DateTimeOffset>(2),
                End: r.IsDBNull(3) ? (DateTimeOffset?)null : r.GetFieldValue<DateTimeOffset>(3), Kind: r.GetString(4)), cancellationToken);
        foreach (var (id, view, start, end, kind) in pending)
        {
            var stopwatch = Stopwatch.StartNew();
            var policy = $"pending refresh {id}";
            try
            {
                if (kind == "rows" && start is { } from && end is { } to)
                {
                    results.Add(await CompleteOwedAsync(id, policy, view, from, to, stopwatch, cancellationToken));
                    continue;
                }

                var (attempts, stillPending) = await _refreshRetry.ExecuteAsync(ct => dataSource.ExecuteAsync(
                    "CALL refresh_continuous_aggregate($1::regclass, $2, $3)",
                    [view, NpgsqlCommands.TimestampTz(start), NpgsqlCommands.TimestampTz(end)], ct), cancellationToken);
                if (stillPending is null)
                {
                    // The ladder's rungs over this aggregate roll up what it holds now: refresh them over the window as
                    // well (their policies may never reach it), or leave them pending in their turn.
                    await PriceAggregateRefresher.RefreshRungsAsync(dataSource, _catalog, _refreshRetry, view, start, end, cancellationToken);
                    await dataSource.ExecuteAsync("DELETE FROM financehub.pending_refreshes WHERE id = $1", [id], cancellationToken);
                    results.Add(new(policy, "refresh", view, MaintenanceOutcome.Succeeded, $"refreshed [{start:O}, {end:O})", stopwatch.Elapsed, Native: true));
                }
                else
                {
                    results.Add(new(policy, "refresh", view, MaintenanceOutcome.Pending,
                        $"still held by a concurrent refresh after {attempts} attempt(s) ({stillPending}); kept for the next run", stopwatch.Elapsed, Native: true));
                }
            }
            catch (PostgresException ex)
            {
                LogFailed(ex, policy);
                results.Add(new(policy, "refresh", view, MaintenanceOutcome.Failed, ex.MessageText, stopwatch.Elapsed, Native: true));
            }
        }

        return results;
    }

    /// <summary>
    /// A load's owed refresh: what rows written in [<paramref name="from"/>, <paramref name="to"/>] need from
    /// <paramref name="view"/>, decided now against its watermark (as the load would have right after its commit).
    /// </summary>
    private async Task<MaintenanceRunResult> CompleteOwedAsync(
        long id, string policy, string view, DateTimeOffset from, DateTimeOffset to, Stopwatch stopwatch, CancellationToken cancellationToken)
    {
        // Done, or handed on as a window of its own that a concurrent refresh keeps busy (recorded by the refresh).
        _manager ??= new TimescaleManager(dataSource, this, NullLogger<TimescaleManager>.Instance, options);
        var refreshes = await OwedRefreshes.CompleteRecordAsync(_manager, dataSource, id, view, from, to, cancellationToken);
        return refreshes.FirstOrDefault(r => r.Status == AggregateRefreshStatus.Pending) is { } busy
            ? new(policy, "refresh", view, MaintenanceOutcome.Pending,
                $"rows loaded in [{from:O}, {to:O}]: [{busy.Start:O}, {busy.End:O}) held by a concurrent refresh ({busy.Detail}); kept for the next run",
                stopwatch.Elapsed, Native: true)
            : new(policy, "refresh", view, MaintenanceOutcome.Succeeded,
                refreshes.Count == 0 ? $"rows loaded in [{from:O}, {to:O}]: nothing to refresh (their buckets are the refresh policy's)"
                    : $"rows loaded in [{from:O}, {to:O}]: refreshed [{refreshes[0].Start:O}, {refreshes[0].End:O})",
                stopwatch.Elapsed, Native: true);
    }

    private async Task<string> GetLicenseAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(LicenseSql);
        return (string?)await command.ExecuteScalarAsync(cancellationToken) ?? "none";
    }

    private async Task<MaintenanceRunResult> RunPolicyAsync(MaintenancePolicy policy, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            // One runner per policy at a time; a second one skips instead of queueing behind a long refresh.
            await using var lockCommand = new NpgsqlCommand("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))", connection, transaction)
            {
                Parameters = { new() { Value = "financehub.maintenance:" + policy.Name } },
            };
            if (!(bool)(await lockCommand.ExecuteScalarAsync(cancellationToken))!)
            {
                LogBusy(policy.Name);
                return new(policy.Name, policy.Kind.ToString(), policy.Target, MaintenanceOutcome.SkippedBusy, "another runner holds this policy",
                    stopwatch.Elapsed, Native: false);
            }

            try
            {
                var (detail, watermark) = policy.Kind switch
                {
                    MaintenancePolicyKind.Retention => (await ApplyRetentionAsync(connection, transaction, policy, cancellationToken), null),
                    MaintenancePolicyKind.Refresh => await RefreshAsync(connection, transaction, policy, cancellationToken),
                    _ => throw new InvalidOperationException($"Unknown maintenance policy kind '{policy.Kind}' on '{policy.Name}'."),
                };
                await RecordAsync(connection, transaction, policy, "Success", null, watermark, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                LogRan(policy.Name, detail, stopwatch.ElapsedMilliseconds);
                return new(policy.Name, policy.Kind.ToString(), policy.Target, MaintenanceOutcome.Succeeded, detail, stopwatch.Elapsed, Native: false);
            }
            catch (PostgresException ex)
            {
                await transaction.RollbackAsync(cancellationToken);
                LogFailed(ex, policy.Name);
                await using var failTransaction = await connection.BeginTransactionAsync(cancellationToken);
                await RecordAsync(connection, failTransaction, policy, "Failed", ex.MessageText, null, cancellationToken);
                await failTransaction.CommitAsync(cancellationToken);
                return new(policy.Name, policy.Kind.ToString(), policy.Target, MaintenanceOutcome.Failed, ex.MessageText, stopwatch.Elapsed, Native: false);
            }
        }
    }

    private static async Task<string> ApplyRetentionAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, MaintenancePolicy policy, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT financehub.apply_retention($1::regclass, $2)", connection, transaction)
        {
            Parameters = { new() { Value = policy.Target }, new() { Value = policy.DropAfter ?? throw new InvalidOperationException($"Retention policy '{policy.Name}' has no drop_after.") } },
        };
        var dropped = (int)(await command.ExecuteScalarAsync(cancellationToken))!;
        return $"{dropped} chunk(s) older than {Durations.Describe(policy.DropAfter.Value)} dropped";
    }

    private static async Task<(string Detail, DateTimeOffset? Watermark)> RefreshAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, MaintenancePolicy policy, CancellationToken cancellationToken)
    {
        var watermark = await PriceWatermark.ReadAsync(connection, transaction, cancellationToken);
        await using var command = new NpgsqlCommand("SELECT financehub.refresh_materialized_view($1::regclass, true)", connection, transaction)
        {
            Parameters = { new() { Value = policy.Target } },
        };
        await command.ExecuteNonQueryAsync(cancellationToken);
        return ("refreshed", watermark);
    }

    private static async Task RecordAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, MaintenancePolicy policy, string status, string? error,
        DateTimeOffset? watermark, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """
            UPDATE financehub.maintenance_policies
            SET last_run_started_at = now(), last_run_finished_at = clock_timestamp(), last_run_status = $2, last_error = $3,
                next_run_at = now() + schedule_interval,
                materialized_through = CASE WHEN $4 THEN $5 ELSE materialized_through END
            WHERE name = $1
            """, connection, transaction)
        {
            Parameters =
            {
                new() { Value = policy.Name }, new() { Value = status },
                new() { Value = (object?)error ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text },
                new() { Value = status == "Success" && policy.Kind == MaintenancePolicyKind.Refresh },
                new() { Value = (object?)watermark?.UtcDateTime ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz },
            },
        };
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<IReadOnlyList<MaintenanceRunResult>> RunNativeJobsAsync(CancellationToken cancellationToken)
    {
        var jobs = await _catalog.GetProjectJobsAsync(cancellationToken);
        var results = new List<MaintenanceRunResult>();
        foreach (var (id, proc, target) in jobs)
        {
            var stopwatch = Stopwatch.StartNew();
            var kind = proc.Replace("policy_", "", StringComparison.Ordinal);
            try
            {
                // run_job commits as it goes: it must run outside a transaction block. A refresh job that the scheduler is
                // running at this moment makes it fail with 55P03 (2.27+): wait and retry, then leave it to that run.
                // Only a refresh job can meet a concurrent refresh; any other job's 55P03 is a failure like any other.
                var (attempts, pending) = (1, (string?)null);
                if (proc == "policy_refresh_continuous_aggregate")
                {
                    (attempts, pending) = await _refreshRetry.ExecuteAsync(ct => dataSource.ExecuteAsync("CALL run_job($1)", [id], ct), cancellationToken);
                }
                else
                {
                    await dataSource.ExecuteAsync("CALL run_job($1)", [id], cancellationToken);
                }

                results.Add(pending is null
                    ? new($"job {id}", kind, target, MaintenanceOutcome.Succeeded, "ran now via run_job", stopwatch.Elapsed, Native: true)
                    : new($"job {id}", kind, target, MaintenanceOutcome.Pending,
                        $"a concurrent refresh kept the window busy through {attempts} attempt(s) ({pending}); its own run covers it",
                        stopwatch.Elapsed, Native: true));
            }
            catch (PostgresException ex)
            {
                LogFailed(ex, $"job {id}");
                results.Add(new($"job {id}", kind, target, MaintenanceOutcome.Failed, ex.MessageText, stopwatch.Elapsed, Native: true));
            }
        }

        return results;
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Maintenance policy {Policy}: {Detail} in {ElapsedMs} ms")]
    private partial void LogRan(string policy, string detail, long elapsedMs);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Error, Message = "Maintenance policy {Policy} failed")]
    private partial void LogFailed(Exception exception, string policy);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Information, Message = "Maintenance policy {Policy} is being run by another runner; skipped")]
    private partial void LogBusy(string policy);
}
