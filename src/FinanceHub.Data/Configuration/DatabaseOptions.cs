using Npgsql;

namespace FinanceHub.Data.Configuration;

/// <summary>
/// Where the database is. Bound from configuration section <c>FinanceHub:Database</c>, and from the seed's
/// environment variables (<c>TIMESCALE_DB_HOST</c>, <c>TIMESCALE_DB_PORT</c>, <c>TIMESCALE_DB_NAME</c>,
/// <c>TIMESCALE_DB_USER</c>, <c>TIMESCALE_DB_PASSWORD</c>); <c>FINANCEHUB_CONNECTION_STRING</c> overrides them all.
/// </summary>
public sealed class DatabaseOptions
{
    /// <summary>Configuration section.</summary>
    public const string SectionName = "FinanceHub:Database";

    /// <summary>Environment variable with a full Npgsql connection string; wins over the other settings.</summary>
    public const string ConnectionStringVariable = "FINANCEHUB_CONNECTION_STRING";

    /// <summary>A full connection string; when set, the other properties are ignored.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Host name (<c>TIMESCALE_DB_HOST</c>).</summary>
    public string? Host { get; set; }

    /// <summary>Port (<c>TIMESCALE_DB_PORT</c>), 5432 by default.</summary>
    public int Port { get; set; } = 5432;

    /// <summary>Database name (<c>TIMESCALE_DB_NAME</c>), <c>financehub</c> by default.</summary>
    public string Database { get; set; } = "financehub";

    /// <summary>User (<c>TIMESCALE_DB_USER</c>), <c>postgres</c> by default.</summary>
    public string Username { get; set; } = "postgres";

    /// <summary>Password (<c>TIMESCALE_DB_PASSWORD</c>).</summary>
    public string? Password { get; set; }

    /// <summary>Variable of <see cref="ReadConnectionString"/>.</summary>
    public const string ReadConnectionStringVariable = "FINANCEHUB_READ_CONNECTION_STRING";

    /// <summary>
    /// A read endpoint beside the primary (<c>FINANCEHUB_READ_CONNECTION_STRING</c>): a streaming replica, or several hosts
    /// with Npgsql's <c>Target Session Attributes=prefer-standby</c>. Candle, bucket and as-of queries and
    /// <c>IFinanceHubReadContextFactory</c> contexts read there; writes, ingest, maintenance, archiving and migrations
    /// always use the primary. None: everything uses the primary. Without a password it takes the primary's.
    /// </summary>
    public string? ReadConnectionString { get; set; }

    /// <summary>
    /// The most replay lag a replica read may have by default (<c>FINANCEHUB_MAX_REPLICA_LAG</c>, seconds); a read whose
    /// replica is further behind, or down, goes to the primary. None: any lag (a query can still ask for a limit).
    /// </summary>
    public TimeSpan? MaxReplicaLag { get; set; }

    /// <summary>After a replica failed to answer, reads skip it for this long before trying it again.</summary>
    public TimeSpan ReplicaRetryAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How refreshes that the project starts (after an ingest or a restore, by <c>maintain</c> or the manager) wait behind a
    /// concurrent refresh of the same aggregate before reporting the window as pending (section <c>AggregateRefreshRetry</c>).
    /// </summary>
    public Timescale.RefreshRetryOptions AggregateRefreshRetry { get; set; } = new();

    /// <summary>Whether anything says where the database is.</summary>
    public bool IsConfigured => !string.IsNullOrWhiteSpace(ConnectionString) || !string.IsNullOrWhiteSpace(Host);

    /// <summary>Reads the seed's variables and <c>FINANCEHUB_CONNECTION_STRING</c>.</summary>
    public static DatabaseOptions FromEnvironment(Func<string, string?>? getVariable = null)
    {
        getVariable ??= Environment.GetEnvironmentVariable;
        var options = new DatabaseOptions();
        options.ApplyEnvironment(getVariable);
        return options;
    }

    /// <summary>Overlays the environment variables that are set onto these options.</summary>
    public void ApplyEnvironment(Func<string, string?> getVariable)
    {
        ArgumentNullException.ThrowIfNull(getVariable);
        if (getVariable(ConnectionStringVariable) is { Length: > 0 } cs)
        {
            ConnectionString = cs;
        }

        if (getVariable("TIMESCALE_DB_HOST") is { Length: > 0 } host)
        {
            Host = host;
        }

        if (getVariable("TIMESCALE_DB_PORT") is { Length: > 0 } port)
        {
            Port = int.TryParse(port, System.Globalization.CultureInfo.InvariantCulture, out var p) && p is > 0 and < 65536
                ? p
                : throw new InvalidOperationException($"TIMESCALE_DB_PORT must be a port number (1-65535); got '{port}'.");
        }

        if (getVariable("TIMESCALE_DB_NAME") is { Length: > 0 } name)
        {
            Database = name;
        }

        if (getVariable("TIMESCALE_DB_USER") is { Length: > 0 } user)
        {
            Username = user;
        }

        if (getVariable("TIMESCALE_DB_PASSWORD") is { } password)
        {
            Password = password;
        }

        if (getVariable(ReadConnectionStringVariable) is { Length: > 0 } read)
        {
            ReadConnectionString = read;
        }

        if (getVariable("FINANCEHUB_MAX_REPLICA_LAG") is { Length: > 0 } lag)
        {
            MaxReplicaLag = double.TryParse(lag, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds >= 0
                ? TimeSpan.FromSeconds(seconds)
                : throw new InvalidOperationException($"FINANCEHUB_MAX_REPLICA_LAG must be a number of seconds (0 or more); got '{lag}'.");
        }
    }

    /// <summary>The read endpoint's connection string (password and application name as the primary's), or null without one.</summary>
    public string? BuildReadConnectionString(string? applicationName = "FinanceHub.Data (reads)")
    {
        if (string.IsNullOrWhiteSpace(ReadConnectionString))
        {
            return null;
        }

        var builder = new NpgsqlConnectionStringBuilder(ReadConnectionString);
        if (string.IsNullOrEmpty(builder.Password) && (Password ?? new NpgsqlConnectionStringBuilder(BuildConnectionString(null)).Password) is { Length: > 0 } password)
        {
            builder.Password = password;
        }

        if (string.IsNullOrEmpty(builder.ApplicationName) && applicationName is not null)
        {
            builder.ApplicationName = applicationName;
        }

        return builder.ConnectionString;
    }

    /// <summary>The Npgsql connection string these options describe.</summary>
    /// <exception cref="InvalidOperationException">Nothing says where the database is.</exception>
    public string BuildConnectionString(string? applicationName = "FinanceHub.Data")
    {
        if (!IsConfigured)
        {
            throw new InvalidOperationException(NotConfiguredMessage);
        }

        var builder = string.IsNullOrWhiteSpace(ConnectionString)
            ? new NpgsqlConnectionStringBuilder { Host = Host, Port = Port, Database = Database, Username = Username, Password = Password }
            : new NpgsqlConnectionStringBuilder(ConnectionString);
        // A connection string without a password takes it from the options (TIMESCALE_DB_PASSWORD, --password-stdin), so
        // it never has to be written where the process list and shell history keep it. Else Npgsql reads PGPASSWORD/PGPASSFILE.
        if (string.IsNullOrEmpty(builder.Password) && !string.IsNullOrEmpty(Password))
        {
            builder.Password = Password;
        }

        if (string.IsNullOrEmpty(builder.ApplicationName) && applicationName is not null)
        {
            builder.ApplicationName = applicationName;
        }

        return builder.ConnectionString;
    }

    /// <summary>The connection string without its password, for messages and status output.</summary>
    public string Describe()
    {
        if (!IsConfigured)
        {
            return "(not configured)";
        }

        var builder = new NpgsqlConnectionStringBuilder(BuildConnectionString(null));
        return $"{builder.Host}:{builder.Port}/{builder.Database} as {builder.Username}";
    }

    /// <summary>What to do when no database is configured.</summary>
    public const string NotConfiguredMessage =
        "No database is configured. Set FINANCEHUB_CONNECTION_STRING (a full Npgsql connection string) or TIMESCALE_DB_HOST " +
        "(with TIMESCALE_DB_PORT, TIMESCALE_DB_NAME, TIMESCALE_DB_USER, TIMESCALE_DB_PASSWORD), or the configuration section " +
        "FinanceHub:Database. For the local stack: sudo eng/devstack.sh up && eval \"$(eng/devstack.sh env)\".";
}
