using System.Diagnostics;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Infrastructure;
using NpgsqlTypes;

namespace FinanceHub.Data.Ingest;

/// <summary>A split or cash dividend to load (<see cref="IBulkIngestor.IngestCorporateActionsAsync"/>).</summary>
/// <param name="Symbol">The asset.</param>
/// <param name="Kind">Split or dividend.</param>
/// <param name="EffectiveAt">The first instant the action is in effect (the ex-date's first moment).</param>
/// <param name="Value">Splits: the new shares for <paramref name="Per"/> old ones (2 for 2-for-1); dividends: the amount per share.</param>
/// <param name="Source">Where it came from.</param>
/// <param name="Per">Splits: the old shares (1 unless given: 1-for-3 is Value 1, Per 3). Dividends: 1.</param>
public sealed record CorporateActionRow(string Symbol, CorporateActionKind Kind, DateTimeOffset EffectiveAt, decimal Value, string? Source = null, decimal Per = 1);

// Corporate actions: few rows, corrected by their providers now and then, so a load upserts them in one statement.
public sealed partial class BulkIngestor
{
    private const decimal MaxShares = 9_999_999_999.9999999999m;

    /// <inheritdoc />
    public async Task<IngestResult> IngestCorporateActionsAsync(IAsyncEnumerable<CorporateActionRow> rows, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var stopwatch = Stopwatch.StartNew();
        var list = new List<CorporateActionRow>();
        var keys = new HashSet<(string, CorporateActionKind, DateTimeOffset)>();
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            var n = list.Count + 1;
            var symbol = row.Symbol?.Trim().ToUpperInvariant() ?? "";
            var what = $"{symbol} {row.Kind} {row.EffectiveAt:O}";
            if (symbol.Length == 0)
            {
                throw new InvalidRowException(n, what, "the symbol is missing");
            }

            if (row.Kind == CorporateActionKind.Split
                    ? row.Value <= 0 || row.Per <= 0 || row.Value > MaxShares || row.Per > MaxShares || row.Value.Scale > 10 || row.Per.Scale > 10
                    : row.Value <= 0 || row.Value > MaxPrice || row.Value.Scale > 8 || row.Per != 1)
            {
                throw new InvalidRowException(n, what, row.Kind == CorporateActionKind.Split
                    ? $"the split {row.Value}:{row.Per} must be two positive share counts of at most 10 decimals (new:old, 2:1 for 2-for-1, 1:3 for 1-for-3)"
                    : $"the dividend amount {row.Value} must be positive and fit numeric(20,8) (at most 8 decimals)");
            }

            if (row.Source is { Length: > 64 })
            {
                throw new InvalidRowException(n, what, "the source is longer than 64 characters");
            }

            if (!keys.Add((symbol, row.Kind, row.EffectiveAt.ToUniversalTime())))
            {
                throw new InvalidRowException(n, what, "the same action appears twice in the load");
            }

            list.Add(row with { Symbol = symbol });
        }

        if (list.Count == 0)
        {
            return new IngestResult(0, 0, 0, [], null, null, stopwatch.Elapsed);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var unknown = await connection.QueryAsync(transaction,
            "SELECT s FROM unnest($1::text[]) s WHERE NOT EXISTS (SELECT 1 FROM assets a WHERE a.symbol = s) ORDER BY s",
            [list.Select(r => r.Symbol).Distinct().ToArray()], r => r.GetString(0), cancellationToken);
        if (unknown.Count > 0)
        {
            throw new UnknownSymbolException(string.Join(", ", unknown), "Corporate actions are loaded for existing assets only; load their prices first.");
        }

        // An action already stored with the same values is left alone (and not counted as written).
        var written = await connection.QueryAsync(transaction,
            """
            INSERT INTO corporate_actions (asset_id, kind, effective_at, new_shares, old_shares, amount, source)
            SELECT a.id, r.kind, r.effective_at, CASE WHEN r.kind = 'split' THEN r.value END, CASE WHEN r.kind = 'split' THEN r.per END,
                   CASE WHEN r.kind = 'dividend' THEN r.value END, r.source
            FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::numeric[], $5::text[], $6::numeric[]) AS r (symbol, kind, effective_at, value, source, per)
            JOIN assets a ON a.symbol = r.symbol
            ON CONFLICT (asset_id, kind, effective_at) DO UPDATE
              SET new_shares = excluded.new_shares, old_shares = excluded.old_shares, amount = excluded.amount, source = excluded.source
            WHERE (corporate_actions.new_shares, corporate_actions.old_shares, corporate_actions.amount, corporate_actions.source)
                  IS DISTINCT FROM (excluded.new_shares, excluded.old_shares, excluded.amount, excluded.source)
            RETURNING 1
            """,
            [
                list.Select(r => r.Symbol).ToArray(), list.Select(r => r.Kind == CorporateActionKind.Split ? "split" : "dividend").ToArray(),
                list.Select(r => r.EffectiveAt.UtcDateTime).ToArray(), list.Select(r => r.Value).ToArray(), list.Select(r => r.Source).ToArray(),
                list.Select(r => r.Per).ToArray(),
            ],
            r => r.GetInt32(0), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new IngestResult(list.Count, written.Count, list.Count - written.Count, [],
            list.Min(r => r.EffectiveAt), list.Max(r => r.EffectiveAt), stopwatch.Elapsed);
    }
}
