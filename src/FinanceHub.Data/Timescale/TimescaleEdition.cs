namespace FinanceHub.Data.Timescale;

/// <summary>Which TimescaleDB a database runs, from <c>timescaledb.license</c>.</summary>
public enum TimescaleEdition
{
    /// <summary>The extension is not installed in this database.</summary>
    None = 0,

    /// <summary>Apache-2 edition (<c>timescaledb.license = apache</c>): hypertables, time_bucket, drop_chunks.</summary>
    Apache = 1,

    /// <summary>Community edition (<c>timescaledb.license = timescale</c>): everything, including compression,
    /// policies, continuous aggregates and jobs.</summary>
    Community = 2,
}

/// <summary>How a feature is provided on the connected server.</summary>
public enum FeatureSupportLevel
{
    /// <summary>TimescaleDB does it.</summary>
    Native,

    /// <summary>The project does it (project-run policies, materialized views).</summary>
    Emulated,

    /// <summary>Not possible on this server.</summary>
    Unavailable,
}

/// <summary>One row of the feature report.</summary>
/// <param name="Feature">Feature name, e.g. <c>compression</c>.</param>
/// <param name="Support">How it is provided.</param>
/// <param name="Detail">What provides it, or what to do.</param>
public sealed record FeatureSupport(string Feature, FeatureSupportLevel Support, string Detail);

/// <summary>Thrown when an operation needs a TimescaleDB feature the connected server does not offer.</summary>
public sealed class TimescaleFeatureUnavailableException : InvalidOperationException
{
    /// <summary>Creates the exception for <paramref name="feature"/> on <paramref name="edition"/>.</summary>
    public TimescaleFeatureUnavailableException(string feature, TimescaleEdition edition)
        : base($"{feature} needs the TimescaleDB community edition (timescaledb.license = timescale), but this server runs " +
               $"{Describe(edition)}. Use a server with the community edition (self-hosted TimescaleDB or Timescale Cloud), " +
               "or do without this feature: run 'financehub-data status' to see what is native, emulated or unavailable here.")
    {
        Feature = feature;
        Edition = edition;
    }

    /// <summary>The feature asked for.</summary>
    public string Feature { get; }

    /// <summary>The edition found.</summary>
    public TimescaleEdition Edition { get; }

    private static string Describe(TimescaleEdition edition) => edition switch
    {
        TimescaleEdition.Apache => "the Apache-2 edition (timescaledb.license = apache)",
        TimescaleEdition.Community => "the community edition",
        _ => "no TimescaleDB at all",
    };
}
