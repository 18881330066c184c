using FinanceHub.Data.Querying;

namespace FinanceHub.Data.Replicas;

/// <summary>
/// Candles and buckets from the read endpoint (see <see cref="ReplicaRouter"/>), each request on one server: its aggregate
/// watermarks, aggregate rows and raw rows are read where the request runs, so a replica's answer is that of the primary
/// at the replica's point in time.
/// </summary>
public sealed class RoutedTimeSeriesRepository(ReplicaRouter router, ITimeSeriesRepository primary, ITimeSeriesRepository replica) : ITimeSeriesRepository
{
    /// <inheritdoc />
    public Task<IReadOnlyList<TimeBucketRow>> GetTimeBucketedDataAsync(TimeBucketQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return router.ReadAsync(query.MaxStaleness, route => On(route).GetTimeBucketedDataAsync(query, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<TimeBucketRow>> GetTimeBucketedDataAsync(
        string table, string bucket, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken = default)
        => GetTimeBucketedDataAsync(new TimeBucketQuery(table, BucketWidth.Parse(bucket), start, end), cancellationToken);

    /// <inheritdoc />
    public Task<OhlcvResult> GetOhlcvAsync(
        string symbol, BucketWidth interval, DateTimeOffset start, DateTimeOffset end, OhlcvOptions? options = null, CancellationToken cancellationToken = default)
        => router.ReadAsync(options?.MaxStaleness, async route =>
            (await On(route).GetOhlcvAsync(symbol, interval, start, end, options, cancellationToken)) with { ServedBy = Served(route) }, cancellationToken);

    /// <inheritdoc />
    public Task<OhlcvResult> GetOhlcvAsync(
        string symbol, string interval, DateTimeOffset start, DateTimeOffset end, OhlcvOptions? options = null, CancellationToken cancellationToken = default)
        => GetOhlcvAsync(symbol, BucketWidth.Parse(interval), start, end, options, cancellationToken);

    private ITimeSeriesRepository On(ReadRoute route) => route.IsReplica ? replica : primary;

    internal static string Served(ReadRoute route) => route.IsReplica ? "replica" : $"primary ({route.Reason})";
}

/// <summary>As-of prices from the read endpoint, falling back to the primary as <see cref="ReplicaRouter"/> decides.</summary>
public sealed class RoutedAsOfPriceRepository(ReplicaRouter router, IAsOfPriceRepository primary, IAsOfPriceRepository replica) : IAsOfPriceRepository
{
    /// <inheritdoc />
    public Task<AsOfPrice> GetPriceAsOfAsync(string symbol, DateTimeOffset at, AsOfOptions? options = null, CancellationToken cancellationToken = default)
        => router.ReadAsync(options?.MaxStaleness, route => On(route).GetPriceAsOfAsync(symbol, at, options, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<AsOfPrice>> GetPricesAsOfAsync(
        IEnumerable<string> symbols, DateTimeOffset at, AsOfOptions? options = null, CancellationToken cancellationToken = default)
        => router.ReadAsync(options?.MaxStaleness, route => On(route).GetPricesAsOfAsync(symbols, at, options, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<AsOfPrice>> GetPricesAsOfAsync(
        IEnumerable<AsOfRequest> requests, AsOfOptions? options = null, CancellationToken cancellationToken = default)
        => router.ReadAsync(options?.MaxStaleness, route => On(route).GetPricesAsOfAsync(requests, options, cancellationToken), cancellationToken);

    private IAsOfPriceRepository On(ReadRoute route) => route.IsReplica ? replica : primary;
}
