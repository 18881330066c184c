namespace FinanceHub.Data.Timescale.Maintenance;

/// <summary>What one maintenance policy run did.</summary>
/// <param name="Policy">Policy name (<c>retention:asset_prices_historic</c>), or the TimescaleDB job (<c>job 1003</c>).</param>
/// <param name="Kind">Retention, Refresh, Compression, ...</param>
/// <param name="Target">Hypertable or view.</param>
/// <param name="Outcome">What happened.</param>
/// <param name="Detail">Chunks dropped, rows in the view, or the error.</param>
/// <param name="Duration">How long it took.</param>
/// <param name="Native">Whether TimescaleDB's own job ran (community edition) rather than the project's emulation.</param>
public sealed record MaintenanceRunResult(
    string Policy, string Kind, string Target, MaintenanceOutcome Outcome, string Detail, TimeSpan Duration, bool Native);

/// <summary>Outcome of a policy run.</summary>
public enum MaintenanceOutcome
{
    /// <summary>Ran and succeeded.</summary>
    Succeeded,

    /// <summary>Ran and failed; the error is recorded on the policy and in <see cref="MaintenanceRunResult.Detail"/>.</summary>
    Failed,

    /// <summary>Another runner holds the policy right now; nothing was done.</summary>
    SkippedBusy,

    /// <summary>A concurrent refresh (the job's own scheduled run) held the window through every retry; that run covers it.</summary>
    Pending,
}
