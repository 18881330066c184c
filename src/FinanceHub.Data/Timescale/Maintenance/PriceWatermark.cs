using Npgsql;

namespace FinanceHub.Data.Timescale.Maintenance;

/// <summary>
/// The watermark of an emulated price view: the newest price time it was refreshed over, read before the refresh
/// (so the refresh, which starts later, saw every row up to it). Like a continuous aggregate's watermark it is a data
/// time: rows newer than it are read from the raw table. Rows inserted later but older than it (a backfill) need a
/// refresh, which <c>IBulkIngestor</c> does after a load.
/// </summary>
internal static class PriceWatermark
{
    public static async Task<DateTimeOffset?> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT max(date) FROM asset_prices_historic", connection, transaction);
        return await command.ExecuteScalarAsync(cancellationToken) is DateTime t ? new DateTimeOffset(t, TimeSpan.Zero) : null;
    }
}
