using FinanceHub.Data.Entities;
using FinanceHub.Data.Infrastructure;
using Npgsql;

namespace FinanceHub.Data.Conversion;

/// <summary>Swap, rollback and finalize: short transactions under the conversion lock, each moving the phase by compare and set.</summary>
public sealed partial class HypertableConverter
{
    /// <inheritdoc />
    public async Task<ConversionStatus> SwapAsync(string table, CancellationToken cancellationToken = default)
    {
        Hypertables.Get(table);
        await using var conversionLock = await LockAsync(table, cancellationToken);
        var status = await GetStatusAsync(table, cancellationToken);
        if (status.Phase is not (ConversionPhase.Copied or ConversionPhase.Copying))
        {
            throw new InvalidOperationException($"{table} is in phase {status.Phase}; only a copied conversion can be swapped ('convert run' first).");
        }

        var mismatches = (await ValidateAsync(table, cancellationToken)).Where(v => !v.Matches).ToList();
        if (mismatches.Count > 0)
        {
            throw new InvalidOperationException(
                $"Refusing to swap {table}: {mismatches.Count} time range(s) differ between the table and the hypertable (first: {mismatches[0].Start:O}, " +
                $"{mismatches[0].OldRows} vs {mismatches[0].NewRows} rows). Run 'convert run' again to finish the copy, then 'convert validate'.");
        }

        var parts = await StoredDesignAsync(table, cancellationToken);
        var newTable = Names.WithSuffix(table, "_hypertable_new");
        var oldTable = Names.WithSuffix(table, "_pre_hypertable");
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Writers wait at most for this short transaction; a lock that cannot be had soon fails the swap instead of queueing.
        await connection.ExecuteAsync(transaction, "SET LOCAL lock_timeout = '10s'", [], cancellationToken);
        await connection.ExecuteAsync(transaction, $"LOCK TABLE {Q(table)}, {Q(newTable)} IN ACCESS EXCLUSIVE MODE", [], cancellationToken);
        // Validation compared every row just before; since then only the mirror can have kept them equal. Counting both
        // tables again here would hold writers for seconds on a big table, so what is checked under the lock is that the
        // mirror was in force all along (not dropped or disabled, which would let writes bypass it).
        if (await connection.ScalarAsync<string>(transaction, "SELECT tgenabled::text FROM pg_trigger WHERE tgrelid = quote_ident($1)::regclass AND tgname = $2",
                [table, TableDesign.MirrorToNew], cancellationToken) is not ("O" or "A"))
        {
            throw new InvalidOperationException(
                $"Refusing to swap {table}: its mirror trigger {TableDesign.MirrorToNew} was dropped or disabled, so writes may be missing from the hypertable; " +
                $"run 'convert rollback {table}' and convert again.");
        }

        await ExecuteAllAsync(connection, transaction, TableDesign.DropTriggersSql(table), cancellationToken);
        // By the names recorded when the hypertable was built: a cut name cannot be told back from its suffix alone.
        await RenameAllAsync(connection, transaction, table, parts.OldNames.Select(n => (n, Names.WithSuffix(n, "_pre"))), cancellationToken);
        await connection.ExecuteAsync(transaction, $"ALTER TABLE {Q(table)} RENAME TO {Q(oldTable)}", [], cancellationToken);
        await RenameAllAsync(connection, transaction, newTable, parts.NewNames.Select(n => (Names.WithSuffix(n, "_cnv"), n)), cancellationToken);
        await connection.ExecuteAsync(transaction, $"ALTER TABLE {Q(newTable)} RENAME TO {Q(table)}", [], cancellationToken);
        await SyncIdentityAsync(connection, transaction, table, cancellationToken);
        // Until finalize, writes to the hypertable reach the old table too: a rollback loses nothing.
        await ExecuteAllAsync(connection, transaction, TableDesign.MirrorSql(table, oldTable, parts, toNew: false), cancellationToken);
        await connection.ExecuteAsync(transaction, TableDesign.RefuseTruncateSql(oldTable), [], cancellationToken);
        await CompareAndSetPhaseAsync(connection, transaction, table, status.Phase, ConversionPhase.Swapped, cancellationToken, oldTable);
        await transaction.CommitAsync(cancellationToken);
        LogConverted(table, "swapped");
        return await GetStatusAsync(table, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<ConversionStatus> RollbackAsync(string table, CancellationToken cancellationToken = default)
    {
        Hypertables.Get(table);
        await using var conversionLock = await LockAsync(table, cancellationToken);
        var status = await GetStatusAsync(table, cancellationToken);
        var newTable = Names.WithSuffix(table, "_hypertable_new");
        var parts = status.Phase is ConversionPhase.Copying or ConversionPhase.Copied or ConversionPhase.Swapped ? await StoredDesignAsync(table, cancellationToken) : null;
        var timeIndex = parts is null ? null : Names.WithSuffix(table, "_" + parts.BatchColumn + "_cnv_idx");
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        switch (status.Phase)
        {
            case ConversionPhase.Copying or ConversionPhase.Copied:
                await ExecuteAllAsync(connection, transaction, TableDesign.DropTriggersSql(table), cancellationToken);
                await connection.ExecuteAsync(transaction, $"DROP TABLE IF EXISTS {Q(newTable)}", [], cancellationToken);
                break;
            case ConversionPhase.Swapped:
                var oldTable = status.OldTable!;
                await connection.ExecuteAsync(transaction, "SET LOCAL lock_timeout = '10s'", [], cancellationToken);
                await connection.ExecuteAsync(transaction, $"LOCK TABLE {Q(table)}, {Q(oldTable)} IN ACCESS EXCLUSIVE MODE", [], cancellationToken);
                await ExecuteAllAsync(connection, transaction, TableDesign.DropTriggersSql(table), cancellationToken);
                await ExecuteAllAsync(connection, transaction, TableDesign.DropTriggersSql(oldTable), cancellationToken);
                await RenameAllAsync(connection, transaction, table, parts!.NewNames.Select(n => (n, Names.WithSuffix(n, "_cnv"))), cancellationToken);
                await connection.ExecuteAsync(transaction, $"ALTER TABLE {Q(table)} RENAME TO {Q(newTable)}", [], cancellationToken);
                await RenameAllAsync(connection, transaction, oldTable, parts.OldNames.Select(n => (Names.WithSuffix(n, "_pre"), n)), cancellationToken);
                await connection.ExecuteAsync(transaction, $"ALTER TABLE {Q(oldTable)} RENAME TO {Q(table)}", [], cancellationToken);
                await SyncIdentityAsync(connection, transaction, table, cancellationToken);
                await connection.ExecuteAsync(transaction, $"DROP TABLE {Q(newTable)}", [], cancellationToken);
                break;
            default:
                throw new InvalidOperationException($"{table} is in phase {status.Phase}: there is nothing to roll back" +
                    (status.Phase == ConversionPhase.Finalized ? " (the old table was dropped by finalize)." : "."));
        }

        if (timeIndex is not null)
        {
            // The index the conversion built for its batches goes too: the table is as it was.
            await connection.ExecuteAsync(transaction, $"DROP INDEX IF EXISTS {Q(timeIndex)}", [], cancellationToken);
        }

        await CompareAndSetPhaseAsync(connection, transaction, table, status.Phase, ConversionPhase.RolledBack, cancellationToken, resetCopy: true);
        await transaction.CommitAsync(cancellationToken);
        LogConverted(table, "rolled back");
        return await GetStatusAsync(table, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<ConversionStatus> FinalizeAsync(string table, CancellationToken cancellationToken = default)
    {
        Hypertables.Get(table);
        await using var conversionLock = await LockAsync(table, cancellationToken);
        var status = await GetStatusAsync(table, cancellationToken);
        if (status.Phase != ConversionPhase.Swapped)
        {
            throw new InvalidOperationException($"{table} is in phase {status.Phase}; finalize drops the old table after a swap.");
        }

        var parts = await StoredDesignAsync(table, cancellationToken);
        var oldTable = status.OldTable!;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAllAsync(connection, transaction, TableDesign.DropTriggersSql(table), cancellationToken);
        await ExecuteAllAsync(connection, transaction, TableDesign.DropTriggersSql(oldTable), cancellationToken);
        // The old table owns its serial sequences, which the hypertable's defaults use: hand them over, or the drop fails
        // (and a drop with CASCADE would take the hypertable's defaults with it).
        var shape = (await TableShape.ReadAsync(connection, transaction, oldTable, cancellationToken))!;
        foreach (var sequence in shape.Sequences)
        {
            var column = parts.Columns.FirstOrDefault(c => c.Old == sequence.Column)?.New;
            await connection.ExecuteAsync(transaction, column is null
                ? $"ALTER SEQUENCE {sequence.Sequence} OWNED BY NONE"
                : $"ALTER SEQUENCE {sequence.Sequence} OWNED BY {Q(table)}.{Q(column)}", [], cancellationToken);
        }

        await connection.ExecuteAsync(transaction, $"DROP TABLE {Q(oldTable)}", [], cancellationToken);
        await CompareAndSetPhaseAsync(connection, transaction, table, ConversionPhase.Swapped, ConversionPhase.Finalized, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        LogConverted(table, "finalized");
        return await GetStatusAsync(table, cancellationToken);
    }

    private static async Task ExecuteAllAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IEnumerable<string> statements, CancellationToken cancellationToken)
    {
        foreach (var sql in statements)
        {
            await connection.ExecuteAsync(transaction, sql, [], cancellationToken);
        }
    }

    /// <summary>Renames each key, constraint or index of <paramref name="table"/> from its first name to its second.</summary>
    private static async Task RenameAllAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string table, IEnumerable<(string From, string To)> renames, CancellationToken cancellationToken)
    {
        foreach (var (from, to) in renames.Where(r => r.From != r.To))
        {
            var isConstraint = await connection.ScalarAsync<bool>(transaction,
                "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = quote_ident($1)::regclass AND conname = $2)", [table, from], cancellationToken);
            await connection.ExecuteAsync(transaction, isConstraint
                ? $"ALTER TABLE {Q(table)} RENAME CONSTRAINT {Q(from)} TO {Q(to)}"
                : $"ALTER INDEX {Q(from)} RENAME TO {Q(to)}", [], cancellationToken);
        }
    }

    /// <summary>Identity columns get their own sequence per table: the one now in use continues after the highest value.</summary>
    private static async Task SyncIdentityAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string table, CancellationToken cancellationToken)
    {
        var columns = await connection.QueryAsync(transaction,
            "SELECT attname::text FROM pg_attribute WHERE attrelid = quote_ident($1)::regclass AND attidentity <> '' AND NOT attisdropped", [table],
            r => r.GetString(0), cancellationToken);
        foreach (var column in columns)
        {
            await connection.ExecuteLongAsync(transaction,
                $"SELECT setval(pg_get_serial_sequence(quote_ident($1), $2), coalesce((SELECT max({Q(column)}) FROM {Q(table)}), 0) + 1, false)",
                [table, column], cancellationToken);
        }
    }
}
