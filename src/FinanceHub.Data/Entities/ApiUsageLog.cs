using System.Net;

namespace FinanceHub.Data.Entities;

/// <summary>One API request served (<c>api_usage_logs</c>, a hypertable on <c>created_at</c>).</summary>
public class ApiUsageLog
{
    /// <summary>Row id; the key is (<see cref="CreatedAt"/>, <see cref="Id"/>).</summary>
    public long Id { get; set; }

    /// <summary>When the request was received.</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Route template or path, e.g. <c>/api/v1/assets/{symbol}/prices</c>.</summary>
    public required string Endpoint { get; set; }

    /// <summary>HTTP method.</summary>
    public required string Method { get; set; }

    /// <summary>HTTP status code returned.</summary>
    public short StatusCode { get; set; }

    /// <summary>Time to serve the request, in milliseconds.</summary>
    public double DurationMs { get; set; }

    /// <summary>Authenticated user or API key id of the caller.</summary>
    public string? CallerId { get; set; }

    /// <summary>Client address.</summary>
    public IPAddress? ClientIp { get; set; }

    /// <summary>Client user agent.</summary>
    public string? UserAgent { get; set; }

    /// <summary>Request body size in bytes.</summary>
    public long? RequestBytes { get; set; }

    /// <summary>Response body size in bytes.</summary>
    public long? ResponseBytes { get; set; }
}
