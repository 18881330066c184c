using FinanceHub.Data.Infrastructure;
using Npgsql;

namespace FinanceHub.Data.Ingest;

/// <summary>
/// The loads that committed, by the key their caller gave (<see cref="IngestOptions.LoadKey"/>), in
/// <c>financehub.loads</c>: each transaction of a load records its part of the attempt in itself, so the ledger says
/// exactly what committed, even when the process or the server died right after.
/// </summary>
internal static class LoadLedger
{
    /// <summary>What earlier attempts of a load committed.</summary>
    /// <param name="Complete">An attempt with every part: the load is in.</param>
    /// <param name="PartsCommitted">Parts of the most complete attempt that committed (when none is complete).</param>
    /// <param name="Parts">Parts that attempt had.</param>
    /// <param name="Rows">Rows the complete attempt (or the committed parts) wrote.</param>
    /// <param name="First">Earliest row time.</param>
    /// <param name="Last">Latest row time.</param>
    /// <param name="LoadedAt">When the (last part of the) attempt committed.</param>
    public sealed record Earlier(bool Complete, int PartsCommitted, int Parts, long Rows, DateTimeOffset? First, DateTimeOffset? Last, DateTimeOffset LoadedAt);

    /// <summary>Whether the ledger exists (a database migrated before LoadLedger has none: loads there are not recorded).</summary>
    public static Task<bool> ExistsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
        => connection.ScalarAsync<bool>(null, "SELECT to_regclass('financehub.loads') IS NOT NULL", [], cancellationToken);

    /// <summary>The most complete earlier attempt of <paramref name="key"/> into <paramref name="table"/>, or null.</summary>
    public static async Task<Earlier?> FindAsync(NpgsqlConnection connection, string key, string table, CancellationToken cancellationToken)
    {
        var attempts = await connection.QueryAsync(null,
            """
            SELECT count(*) = max(parts), count(*)::int, max(parts), sum(rows_written)::bigint, min(first_time), max(last_time), max(loaded_at)
            FROM financehub.loads WHERE load_key = $1 AND table_name = $2
            GROUP BY attempt ORDER BY 1 DESC, 2 DESC, 7 DESC LIMIT 1
            """, [key, table],
            r => new Earlier(r.GetBoolean(0), r.GetInt32(1), r.GetInt32(2), r.GetInt64(3),
                r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4), r.IsDBNull(5) ? null : r.GetFieldValue<DateTimeOffset>(5),
                r.GetFieldValue<DateTimeOffset>(6)), cancellationToken);
        return attempts.Count == 0 ? null : attempts[0];
    }

    /// <summary>Records, in <paramref name="transaction"/>, part <paramref name="part"/> of <paramref name="parts"/> of an attempt.</summary>
    public static Task RecordAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string key, Guid attempt, int part, int parts, string table, long rows,
        DateTimeOffset? first, DateTimeOffset? last, CancellationToken cancellationToken)
        => connection.ExecuteAsync(transaction,
            """
            INSERT INTO financehub.loads (load_key, attempt, part, parts, table_name, rows_written, first_time, last_time)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """, [key, attempt, part, parts, table, rows, NpgsqlCommands.TimestampTz(first), NpgsqlCommands.TimestampTz(last)], cancellationToken);
}
