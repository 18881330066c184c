namespace FinanceHub.Data.Entities;

/// <summary>
/// A maintenance policy run by the project rather than by TimescaleDB's job scheduler
/// (<c>financehub.maintenance_policies</c>). On the Apache edition retention and aggregate refresh live here;
/// <c>financehub-data maintain</c> (or <c>ITimescaleManager.RunDueMaintenanceAsync</c>) executes what is due.
/// </summary>
public class MaintenancePolicy
{
    /// <summary>Unique name, <c>{kind}:{target}</c>.</summary>
    public required string Name { get; set; }

    /// <summary>What the policy does.</summary>
    public MaintenancePolicyKind Kind { get; set; }

    /// <summary>The hypertable (retention) or view (refresh) it acts on.</summary>
    public required string Target { get; set; }

    /// <summary>Retention: chunks whose data is entirely older than this are dropped.</summary>
    public TimeSpan? DropAfter { get; set; }

    /// <summary>How often the policy is due.</summary>
    public TimeSpan ScheduleInterval { get; set; }

    /// <summary>Disabled policies are listed but never run.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>When the policy is next due.</summary>
    public DateTimeOffset NextRunAt { get; set; }

    /// <summary>When the last run started.</summary>
    public DateTimeOffset? LastRunStartedAt { get; set; }

    /// <summary>When the last run finished.</summary>
    public DateTimeOffset? LastRunFinishedAt { get; set; }

    /// <summary><c>Success</c> or <c>Failed</c>; null before the first run.</summary>
    public string? LastRunStatus { get; set; }

    /// <summary>Error of the last failed run.</summary>
    public string? LastError { get; set; }

    /// <summary>Refresh: the upper bound of what the view holds after the last refresh (its watermark).</summary>
    public DateTimeOffset? MaterializedThrough { get; set; }
}

/// <summary>Kinds of project-run maintenance policy.</summary>
public enum MaintenancePolicyKind
{
    /// <summary>Drop chunks older than <see cref="MaintenancePolicy.DropAfter"/>.</summary>
    Retention = 1,
    /// <summary>Refresh a materialized view.</summary>
    Refresh = 2,
}
