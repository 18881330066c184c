using System.Globalization;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Infrastructure;

/// <summary>
/// The few ways the project runs a statement over Npgsql: rows mapped to a list, one scalar, or a row count, each on the
/// data source (a pooled connection per statement) or on an open connection inside a transaction. Values are parameters
/// (<c>$1</c>, <c>$2</c>, ...); an <see cref="NpgsqlParameter"/> passes through as given, so a caller can fix its type.
/// </summary>
internal static class NpgsqlCommands
{
    public static async Task<List<T>> QueryAsync<T>(
        this NpgsqlDataSource dataSource, string sql, object?[] parameters, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken)
    {
        await using var command = Create(dataSource.CreateCommand(sql), parameters);
        return await ReadAsync(command, map, cancellationToken);
    }

    public static async Task<List<T>> QueryAsync<T>(
        this NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, object?[] parameters, Func<NpgsqlDataReader, T> map,
        CancellationToken cancellationToken)
    {
        await using var command = Create(new NpgsqlCommand(sql, connection, transaction), parameters);
        return await ReadAsync(command, map, cancellationToken);
    }

    /// <summary>Like <see cref="QueryAsync{T}(NpgsqlConnection, NpgsqlTransaction?, string, object?[], Func{NpgsqlDataReader, T}, CancellationToken)"/>,
    /// without a command timeout: for reads whose length grows with the data (validations over whole tables).</summary>
    public static async Task<List<T>> QueryLongAsync<T>(
        this NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, object?[] parameters, Func<NpgsqlDataReader, T> map,
        CancellationToken cancellationToken)
    {
        await using var command = Create(new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = 0 }, parameters);
        return await ReadAsync(command, map, cancellationToken);
    }

    /// <summary>The first column of the first row; <c>default</c> for no row or NULL. A <c>timestamptz</c> reads as
    /// <see cref="DateTimeOffset"/> when asked for one.</summary>
    public static async Task<T?> ScalarAsync<T>(this NpgsqlDataSource dataSource, string sql, object?[] parameters, CancellationToken cancellationToken)
    {
        await using var command = Create(dataSource.CreateCommand(sql), parameters);
        return Convert<T>(await command.ExecuteScalarAsync(cancellationToken));
    }

    /// <inheritdoc cref="ScalarAsync{T}(NpgsqlDataSource, string, object?[], CancellationToken)"/>
    public static async Task<T?> ScalarAsync<T>(
        this NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, object?[] parameters, CancellationToken cancellationToken)
    {
        await using var command = Create(new NpgsqlCommand(sql, connection, transaction), parameters);
        return Convert<T>(await command.ExecuteScalarAsync(cancellationToken));
    }

    public static async Task<int> ExecuteAsync(this NpgsqlDataSource dataSource, string sql, object?[] parameters, CancellationToken cancellationToken)
    {
        await using var command = Create(dataSource.CreateCommand(sql), parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<int> ExecuteAsync(
        this NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, object?[] parameters, CancellationToken cancellationToken)
    {
        await using var command = Create(new NpgsqlCommand(sql, connection, transaction), parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Like <see cref="ExecuteAsync(NpgsqlConnection, NpgsqlTransaction?, string, object?[], CancellationToken)"/>, without a
    /// command timeout: for statements whose length grows with the data (copies, index builds, validations).</summary>
    public static async Task<int> ExecuteLongAsync(
        this NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, object?[] parameters, CancellationToken cancellationToken)
    {
        await using var command = Create(new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = 0 }, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>A <c>timestamptz</c> parameter (NULL for null), typed so that NULL and <c>$n IS NULL</c> need no cast.</summary>
    public static NpgsqlParameter TimestampTz(DateTimeOffset? value)
        => new() { Value = (object?)value?.UtcDateTime ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz };

    /// <summary>A <c>text</c> parameter (NULL for null).</summary>
    public static NpgsqlParameter Text(string? value) => new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text };

    private static NpgsqlCommand Create(NpgsqlCommand command, object?[] parameters)
    {
        foreach (var value in parameters)
        {
            command.Parameters.Add(value as NpgsqlParameter ?? new NpgsqlParameter { Value = value ?? DBNull.Value });
        }

        return command;
    }

    private static async Task<List<T>> ReadAsync<T>(NpgsqlCommand command, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(map(reader));
        }

        return rows;
    }

    private static T? Convert<T>(object? value)
    {
        var target = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        return value switch
        {
            null or DBNull => default,
            T typed => typed,
            DateTime t when target == typeof(DateTimeOffset) => (T)(object)new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)),
            _ => (T)System.Convert.ChangeType(value, target, CultureInfo.InvariantCulture),
        };
    }
}
