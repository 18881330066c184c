using System.Globalization;

namespace FinanceHub.Data.Timescale.Catalog;

/// <summary>
/// A TimescaleDB release as installed in a database (<c>pg_extension.extversion</c>), and the differences in its catalog
/// and API that the project depends on. The project supports 2.19 and later; every version test lives here.
/// </summary>
/// <param name="Version">Major, minor and patch, without a pre-release suffix.</param>
public sealed record TimescaleRelease(Version Version)
{
    /// <summary>Oldest release the project is tested on.</summary>
    public static readonly Version Oldest = new(2, 19, 0);

    /// <summary>
    /// Since 2.20, <c>timescaledb_information.jobs.hypertable_name</c> names a continuous aggregate itself for its refresh
    /// policy; before, it named the aggregate's materialization hypertable.
    /// </summary>
    public bool JobsNameContinuousAggregates => Version >= new Version(2, 20);

    /// <summary>
    /// Since 2.18 the columnstore names (<c>timescaledb.enable_columnstore</c>, <c>add_columnstore_policy</c>,
    /// <c>convert_to_columnstore</c>, <c>*_columnstore_stats</c>) are the current API; the compression names remain as aliases.
    /// </summary>
    public bool HasColumnstore => Version >= new Version(2, 18);

    /// <summary>
    /// Since 2.27 a refresh whose window overlaps one already running fails at once with 55P03
    /// ("could not refresh continuous aggregate ... due to a concurrent refresh"); before, it waited for the other.
    /// </summary>
    public bool ConcurrentRefreshFails => Version >= new Version(2, 27);

    /// <summary>Known defects of this release in what the project uses (see <see cref="KnownDefect"/>).</summary>
    public IReadOnlyList<KnownDefect> KnownDefects => [.. KnownDefect.All.Where(d => d.Affects(Version))];

    /// <summary>The release in <paramref name="extensionVersion"/> (<c>2.29.2</c>, <c>2.30.0-dev</c>), or null when it is not a version.</summary>
    public static TimescaleRelease? Parse(string? extensionVersion)
    {
        if (string.IsNullOrWhiteSpace(extensionVersion))
        {
            return null;
        }

        var core = extensionVersion.Split('-', 2)[0];
        var parts = core.Split('.');
        if (parts.Length is < 2 or > 3 || !parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            return null;
        }

        var numbers = parts.Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        return new TimescaleRelease(new Version(numbers[0], numbers[1], numbers.Length > 2 ? numbers[2] : 0));
    }

    /// <inheritdoc />
    public override string ToString() => Version.ToString(3);
}

/// <summary>
/// A defect of some TimescaleDB releases that touches what the project uses, from TimescaleDB's own changelog.
/// </summary>
/// <param name="AffectedFrom">First affected release.</param>
/// <param name="FixedIn">First release with the fix.</param>
/// <param name="Area">What it touches (continuous aggregates, compression, ...).</param>
/// <param name="Description">What goes wrong.</param>
/// <param name="Reference">The upstream pull request that fixed it.</param>
public sealed record KnownDefect(string AffectedFrom, string FixedIn, string Area, string Description, string Reference)
{
    /// <summary>The list the project checks (extend it as releases are found wanting).</summary>
    public static readonly IReadOnlyList<KnownDefect> All =
    [
        new("2.22.0", "2.22.1", "continuous aggregates",
            "an interrupted refresh leaves pending materialization ranges behind",
            "https://github.com/timescale/timescaledb/pull/8607"),
        new("2.21.0", "2.22.1", "continuous aggregates",
            "concurrent refresh policies on hierarchical continuous aggregates can deadlock",
            "https://github.com/timescale/timescaledb/pull/8707"),
    ];

    /// <summary>Whether <paramref name="version"/> has this defect.</summary>
    public bool Affects(Version version)
    {
        ArgumentNullException.ThrowIfNull(version);
        return version >= Version.Parse(AffectedFrom) && version < Version.Parse(FixedIn);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Area}: {Description} ({AffectedFrom} up to {FixedIn}, fixed by {Reference}); upgrade to {FixedIn} or later";
}
