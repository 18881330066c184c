using FinanceHub.Data.Entities;
using FinanceHub.Data.Infrastructure;
using Npgsql;

namespace FinanceHub.Data.Timescale;

/// <summary>
/// The refresh that writing price rows owes the aggregates, made durable: recorded in
/// <c>financehub.pending_refreshes</c> (<c>kind = 'rows'</c>: the time span of the rows written) in the transaction that
/// writes the rows, and deleted only once the refresh is done. A load interrupted after its commit (a lost connection, a
/// killed process) thus leaves a record that <c>financehub-data maintain</c>, or the same load run again, completes.
/// </summary>
internal static class OwedRefreshes
{
    /// <summary>
    /// Records, in <paramref name="transaction"/>, that rows in [<paramref name="from"/>, <paramref name="to"/>] were written
    /// to the price table: one row per price aggregate that exists. The ids, to clear once refreshed; none on a database
    /// migrated before LoadLedger (nothing to record in).
    /// </summary>
    public static async Task<long[]> RecordAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, DateTimeOffset from, DateTimeOffset to, string reason, CancellationToken cancellationToken)
    {
        if (!await connection.ScalarAsync<bool>(transaction,
                "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('financehub.pending_refreshes') AND attname = 'kind' AND NOT attisdropped)",
                [], cancellationToken))
        {
            return [];
        }

        var ids = await connection.QueryAsync(transaction,
            """
            INSERT INTO financehub.pending_refreshes (view_name, range_start, range_end, reason, kind)
            SELECT v, $2, $3, $4, 'rows' FROM unnest($1::text[]) v WHERE to_regclass(v) IS NOT NULL
            RETURNING id
            """, [Aggregates.All.ToArray(), NpgsqlCommands.TimestampTz(from), NpgsqlCommands.TimestampTz(to), reason], r => r.GetInt64(0), cancellationToken);
        return [.. ids];
    }

    /// <summary>
    /// After the rows committed: refreshes what they need (<see cref="PriceAggregateRefresher.RefreshTouchedAsync"/>) and
    /// clears their records. Never throws for a failure of the refresh itself: the rows are committed and the record stays,
    /// so the results say <see cref="AggregateRefreshStatus.Pending"/> with the reason and who completes it.
    /// </summary>
    public static async Task<IReadOnlyList<AggregateRefreshResult>> CompleteAsync(
        ITimescaleManager timescale, NpgsqlDataSource dataSource, IReadOnlyCollection<long> ids, DateTimeOffset from, DateTimeOffset to,
        CancellationToken cancellationToken)
    {
        try
        {
            var results = await PriceAggregateRefresher.RefreshTouchedAsync(timescale, from, to, cancellationToken);

            // A window a concurrent refresh kept busy was recorded as a window of its own (kind 'window'): this one is done.
            if (ids.Count > 0)
            {
                await dataSource.ExecuteAsync("DELETE FROM financehub.pending_refreshes WHERE id = ANY($1)", [ids.ToArray()], cancellationToken);
            }

            return results;
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or TimeoutException or InvalidOperationException)
        {
            var why = ex is OperationCanceledException ? "cancelled"
                : (ex.InnerException is { } inner ? $"{ex.Message} ({inner.Message})" : ex.Message).ReplaceLineEndings(" ");
            var detail = ids.Count > 0
                ? $"refreshing after the commit failed: {why}; it stays recorded in financehub.pending_refreshes"
                : $"refreshing after the commit failed: {why}; nothing records it on this database (migrated before LoadLedger): run maintain --force";
            return [.. Aggregates.All.Select(view => new AggregateRefreshResult(view, from, to, AggregateRefreshStatus.Pending, 1, detail))];
        }
    }

    /// <summary>
    /// Completes the owed refreshes recorded by loads whose rows overlap [<paramref name="from"/>, <paramref name="to"/>]
    /// (all of them when both are null): for each, what its rows need, decided against the watermark now, then its record
    /// is deleted. A refresh a concurrent one keeps busy is recorded as a window of its own by the refresh.
    /// </summary>
    public static async Task<IReadOnlyList<AggregateRefreshResult>> CompleteRecordedAsync(
        ITimescaleManager timescale, NpgsqlDataSource dataSource, DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken)
    {
        var records = await dataSource.QueryAsync(
            """
            SELECT id, view_name, range_start, range_end FROM financehub.pending_refreshes
            WHERE kind = 'rows' AND ($1 IS NULL OR range_end >= $1) AND ($2 IS NULL OR range_start <= $2) ORDER BY id
            """, [NpgsqlCommands.TimestampTz(from), NpgsqlCommands.TimestampTz(to)],
            r => (Id: r.GetInt64(0), View: r.GetString(1), Start: r.GetFieldValue<DateTimeOffset>(2), End: r.GetFieldValue<DateTimeOffset>(3)), cancellationToken);
        var results = new List<AggregateRefreshResult>();
        foreach (var (id, view, start, end) in records)
        {
            results.AddRange(await CompleteRecordAsync(timescale, dataSource, id, view, start, end, cancellationToken));
        }

        return results;
    }

    /// <summary>One recorded owed refresh: what rows in [<paramref name="from"/>, <paramref name="to"/>] need from <paramref name="view"/>, now.</summary>
    public static async Task<IReadOnlyList<AggregateRefreshResult>> CompleteRecordAsync(
        ITimescaleManager timescale, NpgsqlDataSource dataSource, long id, string view, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var refreshes = await PriceAggregateRefresher.RefreshTouchedAsync(timescale, from, to, cancellationToken, only: view);
        await dataSource.ExecuteAsync("DELETE FROM financehub.pending_refreshes WHERE id = $1", [id], cancellationToken);
        return refreshes;
    }
}
