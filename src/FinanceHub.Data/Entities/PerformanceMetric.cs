namespace FinanceHub.Data.Entities;

/// <summary>One measurement of the application (<c>performance_metrics</c>, a hypertable on <c>created_at</c>).</summary>
public class PerformanceMetric
{
    /// <summary>Row id; the key is (<see cref="CreatedAt"/>, <see cref="Id"/>).</summary>
    public long Id { get; set; }

    /// <summary>When the measurement was taken.</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Metric name, e.g. <c>portfolio.valuation.ms</c>.</summary>
    public required string MetricName { get; set; }

    /// <summary>Measured value.</summary>
    public double Value { get; set; }

    /// <summary>Unit of <see cref="Value"/> (<c>ms</c>, <c>bytes</c>, <c>count</c>).</summary>
    public string? Unit { get; set; }

    /// <summary>Service or component that reported it.</summary>
    public string? Service { get; set; }

    /// <summary>Host or instance that reported it.</summary>
    public string? Host { get; set; }

    /// <summary>Asset the measurement concerns, if any.</summary>
    public int? AssetId { get; set; }
}
