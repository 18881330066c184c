using Npgsql;

namespace FinanceHub.Data.Tests.Infrastructure;

/// <summary>Small helpers for reading and writing the test databases with parameters.</summary>
public static class Sql
{
    public static async Task<List<object?[]>> QueryAsync(this NpgsqlDataSource dataSource, string sql, params object?[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        foreach (var p in parameters)
        {
            command.Parameters.Add(p as NpgsqlParameter ?? new NpgsqlParameter { Value = p ?? DBNull.Value });
        }

        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        var rows = new List<object?[]>();
        while (await reader.ReadAsync(TestContext.Current.CancellationToken))
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    public static async Task<T> ScalarAsync<T>(this NpgsqlDataSource dataSource, string sql, params object?[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        foreach (var p in parameters)
        {
            command.Parameters.Add(p as NpgsqlParameter ?? new NpgsqlParameter { Value = p ?? DBNull.Value });
        }

        var value = await command.ExecuteScalarAsync(TestContext.Current.CancellationToken);
        return (T)value!;
    }

    public static async Task<int> ExecuteAsync(this NpgsqlDataSource dataSource, string sql, params object?[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        foreach (var p in parameters)
        {
            command.Parameters.Add(p as NpgsqlParameter ?? new NpgsqlParameter { Value = p ?? DBNull.Value });
        }

        return await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }

    /// <summary>Creates <paramref name="symbol"/> and returns its id.</summary>
    public static Task<int> InsertAssetAsync(this NpgsqlDataSource dataSource, string symbol)
        => dataSource.ScalarAsync<int>(
            "INSERT INTO assets (symbol, asset_type, quote_currency, is_active) VALUES ($1, 'Crypto', 'USD', true) RETURNING id", symbol);

    /// <summary>
    /// One price row per <paramref name="step"/> from <paramref name="from"/> (inclusive) to <paramref name="to"/> (exclusive),
    /// with close = the row's index, high = close + 1, low = close - 1, volume 10.
    /// </summary>
    public static Task<int> InsertPricesAsync(this NpgsqlDataSource dataSource, int assetId, DateTimeOffset from, DateTimeOffset to, TimeSpan step)
        => dataSource.ExecuteAsync(
            """
            INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume)
            SELECT $1, t, n, n + 1, n - 1, n, 10
            FROM generate_series($2::timestamptz, $3::timestamptz - interval '1 microsecond', $4::interval) WITH ORDINALITY AS g(t, n)
            """, assetId, from, to, step);

    /// <summary>Tables, views, sequences, functions, schemas and extensions that a migration could have left behind.</summary>
    public static async Task<List<string>> ProjectObjectsAsync(this NpgsqlDataSource dataSource)
        => [.. (await dataSource.QueryAsync(
            """
            SELECT n.nspname || '.' || c.relname || ' (' || c.relkind::text || ')'
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND c.relname NOT IN ('__EFMigrationsHistory', 'pk___ef_migrations_history')
            UNION ALL SELECT 'extension ' || extname FROM pg_extension WHERE extname <> 'plpgsql'
            UNION ALL SELECT 'schema ' || nspname FROM pg_namespace
                      WHERE nspname NOT LIKE 'pg\_%' AND nspname NOT IN ('information_schema', 'public')
            UNION ALL SELECT 'function ' || n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
            ORDER BY 1
            """)).Select(r => (string)r[0]!)];
}
