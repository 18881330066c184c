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
        await RenameIndexesAsync(connection, transaction, table, name => Names.WithSuffix(name, "_pre"), cancellationToken);
        await connection.ExecuteAsync(transaction, $"ALTER TABLE {Q(table)} RENAME TO {Q(oldTable)}", [], cancellationToken);
        await RenameIndexesAsync(connection, transaction, newTable, name => name.EndsWith("_cnv", StringComparison.Ordinal) ? name[..^4] : name, cancellationToken);
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
        var timeIndex = status.Phase is ConversionPhase.Copying or ConversionPhase.Copied or ConversionPhase.Swapped
            ? Names.WithSuffix(table, "_" + (await StoredDesignAsync(table, cancellationToken)).BatchColumn + "_cnv_idx")
            : null;
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
                await RenameIndexesAsync(connection, transaction, table, name => Names.WithSuffix(name, "_cnv"), cancellationToken);
                await connection.ExecuteAsync(transaction, $"ALTER TABLE {Q(table)} RENAME TO {Q(newTable)}", [], cancellationToken);
                await RenameIndexesAsync(connection, transaction, oldTable, name => name.EndsWith("_pre", StringComparison.Ordinal) ? name[..^4] : name, cancellationToken);
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

    private static async Task RenameIndexesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string table, Func<string, string> rename, CancellationToken cancellationToken)
    {
        var objects = await connection.QueryAsync(transaction,
            """
            SELECT conname::text, true FROM pg_constraint WHERE conrelid = quote_ident($1)::regclass AND contype IN ('p', 'u', 'f', 'x')
            UNION ALL
            SELECT c.relname::text, false FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = quote_ident($1)::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)
            """, [table], r => (Name: r.GetString(0), IsConstraint: r.GetBoolean(1)), cancellationToken);
        foreach (var (name, isConstraint) in objects)
        {
            var target = rename(name);
            if (target != name)
            {
                await connection.ExecuteAsync(transaction, isConstraint
                    ? $"ALTER TABLE {Q(table)} RENAME CONSTRAINT {Q(name)} TO {Q(target)}"
                    : $"ALTER INDEX {Q(name)} RENAME TO {Q(target)}", [], cancellationToken);
            }
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
