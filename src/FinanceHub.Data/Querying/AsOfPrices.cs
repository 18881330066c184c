using FinanceHub.Data.Entities;
using FinanceHub.Data.Ingest;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Querying;

/// <summary>One price row.</summary>
public sealed record PricePoint(
    DateTimeOffset Date, decimal Open, decimal High, decimal Low, decimal Close, decimal? AdjustedClose, decimal Volume, int? TradeCount);

/// <summary>What an as-of lookup found.</summary>
public enum AsOfStatus
{
    /// <summary>A price at or before the instant, within the staleness limit.</summary>
    Found,

    /// <summary>The latest price at or before the instant is older than the staleness limit: it counts as missing.</summary>
    Stale,

    /// <summary>The asset has no price at or before the instant.</summary>
    NoPrice,

    /// <summary>
    /// Rows between the latest price in the database and the instant were archived and dropped and are not all back:
    /// the true latest price may be among them. <see cref="AsOfPrice.Archived"/> names them; restore them to answer.
    /// Takes precedence over <see cref="Stale"/>: a fresher price may be among those rows.
    /// </summary>
    Archived,
}

/// <summary>The latest price of <paramref name="Symbol"/> at or before <paramref name="At"/>.</summary>
/// <param name="Symbol">The asset.</param>
/// <param name="At">The instant asked about.</param>
/// <param name="Status">Found, stale or none.</param>
/// <param name="Price">The row; null unless <see cref="AsOfStatus.Found"/>.</param>
/// <param name="LatestDate">Time of the latest row at or before <paramref name="At"/> in the database, also when it is stale
/// or archived rows may supersede it.</param>
/// <param name="Archived">With <see cref="AsOfStatus.Archived"/>: the archived and dropped rows after
/// <paramref name="LatestDate"/> (or before <paramref name="At"/> when there is none) that may hold the answer.</param>
public sealed record AsOfPrice(
    string Symbol, DateTimeOffset At, AsOfStatus Status, PricePoint? Price, DateTimeOffset? LatestDate, ColdRange? Archived = null)
{
    /// <summary>How old the latest price was at <see cref="At"/>.</summary>
    public TimeSpan? Age => LatestDate is { } latest ? At - latest : null;
}

/// <summary>One symbol at one instant, for an as-of join.</summary>
public sealed record AsOfRequest(string Symbol, DateTimeOffset At);

/// <summary>Options of an as-of lookup.</summary>
public sealed record AsOfOptions
{
    /// <summary>How old a price may be and still count (null: any age). An older one is reported <see cref="AsOfStatus.Stale"/>.</summary>
    public TimeSpan? MaxAge { get; init; }

    /// <summary>With a read endpoint: the most replay lag the answer may have (see <see cref="OhlcvOptions.MaxStaleness"/>).</summary>
    public TimeSpan? MaxStaleness { get; init; }

    /// <summary>No staleness limit.</summary>
    public static AsOfOptions Default { get; } = new();
}

/// <summary>
/// As-of prices: the last price at or before an instant, for one asset or a portfolio, and as-of joins of series of
/// instants (trade times, metric timestamps) to prices. A lookup reads about two rows per asset, never a scan: chunks
/// newest first, a portfolio from the chunk's last rows before its instant, anything else by one probe of the
/// (asset_id, date) key (<c>financehub.prices_as_of_join</c>, migrations 0800 and 1100; in LINQ, the same functions are
/// <see cref="FinanceHubDbContext.PricesAsOf"/> and <see cref="FinanceHubDbContext.PricesAsOfJoin"/>). An answer that rows
/// archived and dropped after it could supersede is <see cref="AsOfStatus.Archived"/>, never an older price given as
/// the latest.
/// </summary>
public interface IAsOfPriceRepository
{
    /// <summary>The latest price of <paramref name="symbol"/> at or before <paramref name="at"/>.</summary>
    /// <exception cref="UnknownSymbolException">There is no asset with that symbol.</exception>
    Task<AsOfPrice> GetPriceAsOfAsync(string symbol, DateTimeOffset at, AsOfOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>The latest price of each of <paramref name="symbols"/> at or before <paramref name="at"/>, in the order given.</summary>
    /// <exception cref="UnknownSymbolException">Some symbols name no asset (the message lists them all).</exception>
    Task<IReadOnlyList<AsOfPrice>> GetPricesAsOfAsync(
        IEnumerable<string> symbols, DateTimeOffset at, AsOfOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>As-of join: for each request, the latest price of its symbol at or before its instant; results in request order.</summary>
    /// <exception cref="UnknownSymbolException">Some symbols name no asset (the message lists them all).</exception>
    Task<IReadOnlyList<AsOfPrice>> GetPricesAsOfAsync(
        IEnumerable<AsOfRequest> requests, AsOfOptions? options = null, CancellationToken cancellationToken = default);
}

/// <inheritdoc />
public sealed class AsOfPriceRepository(NpgsqlDataSource dataSource) : IAsOfPriceRepository
{
    /// <inheritdoc />
    public async Task<AsOfPrice> GetPriceAsOfAsync(string symbol, DateTimeOffset at, AsOfOptions? options = null, CancellationToken cancellationToken = default)
        => (await GetPricesAsOfAsync([new AsOfRequest(symbol, at)], options, cancellationToken))[0];

    /// <inheritdoc />
    public Task<IReadOnlyList<AsOfPrice>> GetPricesAsOfAsync(
        IEnumerable<string> symbols, DateTimeOffset at, AsOfOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(symbols);
        return GetPricesAsOfAsync(symbols.Select(s => new AsOfRequest(s, at)), options, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<AsOfPrice>> GetPricesAsOfAsync(
        IEnumerable<AsOfRequest> requests, AsOfOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        options ??= AsOfOptions.Default;
        if (options.MaxAge is { } maxAge && maxAge < TimeSpan.Zero)
        {
            throw new ArgumentException($"The staleness limit ({maxAge}) must not be negative.", nameof(options));
        }

        var list = requests.ToList();
        var symbols = new string[list.Count];
        var instants = new DateTime[list.Count];
        for (var i = 0; i < list.Count; i++)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(list[i].Symbol, nameof(requests));
            symbols[i] = list[i].Symbol.Trim().ToUpperInvariant();
            instants[i] = list[i].At.UtcDateTime;
        }

        if (list.Count == 0)
        {
            return [];
        }

        // Prepared, for the function's sake more than the statement's: Npgsql resets a pooled connection with DISCARD ALL,
        // which also throws away the plans PL/pgSQL cached for the function's own statements, unless the connection holds
        // prepared statements (then it resets everything but plans). Replanning them on every call cost 2.5-4 ms of a
        // 500-asset lookup's 3 ms (measured with pgbench, DISCARD ALL before each call).
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            """
            SELECT asset_id, latest_date, date, open, high, low, close, adjusted_close, volume, trade_count, archived_from, archived_to, archive_ids
            FROM financehub.prices_as_of_join($1, $2, $3) ORDER BY ordinal
            """, connection);
        command.Parameters.Add(new() { Value = symbols, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = instants, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = options.MaxAge is { } age ? age : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Interval });
        await command.PrepareAsync(cancellationToken);
        var results = new List<AsOfPrice>(list.Count);
        var unknown = new SortedSet<string>(StringComparer.Ordinal);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var i = results.Count;
                if (reader.IsDBNull(0))
                {
                    unknown.Add(symbols[i]);
                }

                DateTimeOffset? latest = reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1);
                var price = reader.IsDBNull(2)
                    ? null
                    : new PricePoint(reader.GetFieldValue<DateTimeOffset>(2), reader.GetDecimal(3), reader.GetDecimal(4), reader.GetDecimal(5), reader.GetDecimal(6),
                        reader.IsDBNull(7) ? null : reader.GetDecimal(7), reader.GetDecimal(8), reader.IsDBNull(9) ? null : reader.GetInt32(9));
                var archived = reader.IsDBNull(10)
                    ? null
                    : new ColdRange(Hypertables.AssetPrices.Table, reader.GetFieldValue<DateTimeOffset>(10), reader.GetFieldValue<DateTimeOffset>(11),
                        reader.GetFieldValue<Guid[]>(12));
                var status = archived is not null ? AsOfStatus.Archived
                    : price is not null ? AsOfStatus.Found
                    : latest is not null ? AsOfStatus.Stale
                    : AsOfStatus.NoPrice;
                results.Add(new AsOfPrice(symbols[i], list[i].At, status, price, latest, archived));
            }
        }

        if (unknown.Count > 0)
        {
            throw new UnknownSymbolException(string.Join(", ", unknown),
                unknown.Count == 1 ? null : $"None of these {unknown.Count} symbols names an asset; check their spelling or create the assets first.");
        }

        return results;
    }
}
