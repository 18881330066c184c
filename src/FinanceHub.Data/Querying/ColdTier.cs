using System.Globalization;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Timescale;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Querying;

/// <summary>A range of a table whose rows were archived and dropped and are not back: they live only in the archives.</summary>
/// <param name="Table">The table.</param>
/// <param name="Start">Inclusive start of the archived range.</param>
/// <param name="End">Exclusive end.</param>
/// <param name="ArchiveIds">The archives that hold its rows.</param>
public sealed record ColdRange(string Table, DateTimeOffset Start, DateTimeOffset End, IReadOnlyList<Guid> ArchiveIds)
{
    /// <summary>The command line that brings the range's rows back: <c>financehub-data restore --table ... --from ... --to ...</c>.</summary>
    public string RestoreCommand => $"financehub-data restore --table {Table} --from {Iso(Start)} --to {Iso(End)}";

    internal static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

/// <summary>
/// A query reached rows that are no longer in the database, only in the cold tier (archived and dropped): rather than an
/// answer with fewer rows or candles than the data has, this names the ranges and how to reach them.
/// </summary>
public sealed class ColdTierException(string message, IReadOnlyList<ColdRange> ranges) : InvalidOperationException(message)
{
    /// <summary>The archived ranges the query reached.</summary>
    public IReadOnlyList<ColdRange> Ranges { get; } = ranges;
}

/// <summary>Finds the archived-and-dropped ranges a read of raw rows would reach (one query, the archive catalog's index).</summary>
internal static class ColdTier
{
    /// <summary>
    /// Throws <see cref="ColdTierException"/> when any of <paramref name="ranges"/> (the parts of a request read from raw
    /// rows) overlaps a range whose archives were dropped and are not all back: a range counts as back once every archive
    /// of it that was dropped has been restored into its table since (<c>financehub.archives.restored_at</c>) and the
    /// table still holds as many rows there as the largest of them. Late rows, another asset's backfill or one restored
    /// archive of several do not hide the missing ones. Counting costs a scan of the range's index, paid only for reached
    /// ranges whose archives were all restored. Aggregates keep their candles when rows are dropped, so the parts a
    /// request reads from an aggregate are not checked.
    /// </summary>
    public static async Task RequireInDatabaseAsync(
        NpgsqlDataSource dataSource, HypertableDefinition table, IReadOnlyCollection<(DateTimeOffset Start, DateTimeOffset End)> ranges, string what,
        CancellationToken cancellationToken)
    {
        var parts = ranges.Where(r => r.Start < r.End).ToList();
        if (parts.Count == 0)
        {
            return;
        }

        // financehub.cold_ranges (migration 1100) is the one test of "archived, dropped and not all back"; as-of prices use it too.
        await using var command = dataSource.CreateCommand("SELECT range_start, range_end, archive_ids FROM financehub.cold_ranges($1, $2, $3, $4)");
        command.Parameters.Add(new() { Value = table.Table, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = table.TimeColumn, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = parts.Select(p => p.Start.UtcDateTime).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = parts.Select(p => p.End.UtcDateTime).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        var cold = new List<ColdRange>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                cold.Add(new ColdRange(table.Table, reader.GetFieldValue<DateTimeOffset>(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetFieldValue<Guid[]>(2)));
            }
        }

        if (cold.Count == 0)
        {
            return;
        }

        var span = new ColdRange(table.Table, cold.Min(c => c.Start), cold.Max(c => c.End), [.. cold.SelectMany(c => c.ArchiveIds)]);
        var described = string.Join(", ", cold.Select(c => $"[{ColdRange.Iso(c.Start)}, {ColdRange.Iso(c.End)})"));
        throw new ColdTierException(
            $"{what} reaches rows of {table.Table} that were archived and dropped: {described}. They are in the cold tier, not in the database, " +
            $"so the answer would be incomplete. Restore them ({span.RestoreCommand}), " +
            "query the archives in place (README, \"Querying the cold tier\"), or ask for a range after them.", cold);
    }
}
