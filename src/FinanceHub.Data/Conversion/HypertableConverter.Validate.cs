using FinanceHub.Data.Entities;
using FinanceHub.Data.Infrastructure;
using NpgsqlTypes;

namespace FinanceHub.Data.Conversion;

/// <summary>Validation: the old table, as the hypertable would hold it, against the hypertable, per time range.</summary>
public sealed partial class HypertableConverter
{
    /// <inheritdoc />
    public async Task<IReadOnlyList<RangeValidation>> ValidateAsync(string table, CancellationToken cancellationToken = default)
    {
        var definition = Hypertables.Get(table);
        var status = await GetStatusAsync(table, cancellationToken);
        var (oldTable, newTable) = status.Phase switch
        {
            ConversionPhase.Copying or ConversionPhase.Copied => (table, Names.WithSuffix(table, "_hypertable_new")),
            ConversionPhase.Swapped => (status.OldTable!, table),
            _ => throw new InvalidOperationException($"{table} has no conversion to validate (phase {status.Phase}); run 'convert run' first."),
        };
        var parts = await StoredDesignAsync(table, cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // One snapshot for both sides; the mirror keeps them equal, so any difference is real.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var interval = Querying.BucketWidth.Parse(definition.ChunkInterval).Duration;
        async Task<Dictionary<DateTime, (long Rows, decimal Sum)>> RangesAsync(string source, bool old)
        {
            var rows = await connection.QueryLongAsync(transaction, TableDesign.ChecksumSql(source, parts, old),
                [new Npgsql.NpgsqlParameter { Value = interval, NpgsqlDbType = NpgsqlDbType.Interval }],
                r => (Start: r.GetDateTime(0), Rows: r.GetInt64(1), Sum: r.GetDecimal(2)), cancellationToken);
            return rows.ToDictionary(r => r.Start, r => (r.Rows, r.Sum));
        }

        var left = await RangesAsync(oldTable, old: true);
        var right = await RangesAsync(newTable, old: false);
        return [.. left.Keys.Union(right.Keys).Order().Select(start =>
        {
            var (oldRows, oldSum) = left.GetValueOrDefault(start);
            var (newRows, newSum) = right.GetValueOrDefault(start);
            var from = new DateTimeOffset(DateTime.SpecifyKind(start, DateTimeKind.Utc));
            return new RangeValidation(from, from + interval, oldRows, newRows, oldSum == newSum);
        })];
    }
}
