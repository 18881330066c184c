using System.Text.Json;
using FinanceHub.Data.Infrastructure;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace FinanceHub.Data.Conversion;

/// <summary>
/// Turns the old application's plain tables into FinanceHub's hypertables while the application keeps writing (the
/// seed's <c>TimescaleMigration</c>): a hypertable is built beside the table with a key hypertables accept, a trigger
/// mirrors every insert, update and delete into it, history is copied in batches by the table's own index, the copy is
/// validated per time range, and a short swap gives the hypertable the table's name. Until <see cref="FinalizeAsync"/>
/// the old table is kept up to date, so <see cref="RollbackAsync"/> returns to it without losing a row.
/// </summary>
public interface IHypertableConverter
{
    /// <summary>Checks what a conversion of <paramref name="table"/> needs; blocking findings say how to fix them.</summary>
    Task<IReadOnlyList<PrerequisiteResult>> CheckPrerequisitesAsync(string table, ConversionOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>What converting <paramref name="table"/> will do: the findings and every step with the SQL it runs. Changes nothing.</summary>
    Task<ConversionPlan> PlanAsync(string table, ConversionOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Copies the table into a hypertable (or converts it in place when small). Resumes a stopped run.</summary>
    Task<ConversionStatus> ConvertAsync(string table, ConversionOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Compares rows and content checksums per chunk-sized time range between the old table and the hypertable.</summary>
    Task<IReadOnlyList<RangeValidation>> ValidateAsync(string table, CancellationToken cancellationToken = default);

    /// <summary>Gives the hypertable the table's name, keeping the old table mirrored. Refuses while validation differs.</summary>
    Task<ConversionStatus> SwapAsync(string table, CancellationToken cancellationToken = default);

    /// <summary>Returns to the old table, with every row written since the conversion started.</summary>
    Task<ConversionStatus> RollbackAsync(string table, CancellationToken cancellationToken = default);

    /// <summary>Makes the hypertable the owner of the old table's sequences and drops the old table: no rollback after this.</summary>
    Task<ConversionStatus> FinalizeAsync(string table, CancellationToken cancellationToken = default);

    /// <summary>Where each table's conversion stands.</summary>
    Task<IReadOnlyList<ConversionStatus>> GetStatusAsync(CancellationToken cancellationToken = default);
}

/// <inheritdoc />
/// <remarks>
/// The parts: <c>HypertableConverter.Plan.cs</c> (checks and plan), <c>.Copy.cs</c> (in place, prepare, batched copy),
/// <c>.Validate.cs</c>, <c>.Swap.cs</c> (swap, rollback, finalize); the table's design and its SQL in
/// <see cref="TableDesign"/>. Every step takes the table's conversion lock, and changes the phase only from the one it
/// read (compare and set), so two processes can never act on one conversion at once.
/// </remarks>
public sealed partial class HypertableConverter(NpgsqlDataSource dataSource, ILogger<HypertableConverter> logger) : IHypertableConverter
{
    internal const string StateSchema = "financehub_convert";

    private const string SetupSql = """
        SELECT pg_advisory_xact_lock(hashtextextended('financehub.convert:setup', 0));
        CREATE SCHEMA IF NOT EXISTS financehub_convert;
        CREATE TABLE IF NOT EXISTS financehub_convert.conversions (
          table_name text PRIMARY KEY, phase text NOT NULL, path text NOT NULL, rows_copied bigint NOT NULL DEFAULT 0,
          copied_through timestamptz, old_table text, updated_at timestamptz NOT NULL DEFAULT now());
        ALTER TABLE financehub_convert.conversions
          ADD COLUMN IF NOT EXISTS position text, ADD COLUMN IF NOT EXISTS copy_until text, ADD COLUMN IF NOT EXISTS rows_total bigint,
          ADD COLUMN IF NOT EXISTS design jsonb;
        -- Mirrors a row change into another table: TG_ARGV[0] deletes the old row's key there, TG_ARGV[1] inserts the new row.
        CREATE OR REPLACE FUNCTION financehub_convert.mirror() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
          IF TG_OP IN ('DELETE', 'UPDATE') THEN EXECUTE TG_ARGV[0] USING OLD; END IF;
          IF TG_OP IN ('INSERT', 'UPDATE') THEN EXECUTE TG_ARGV[1] USING NEW; END IF;
          RETURN NULL;
        END
        $fn$;
        -- No row trigger sees a TRUNCATE: while a table is converted it would silently make the two copies differ.
        CREATE OR REPLACE FUNCTION financehub_convert.refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
          RAISE EXCEPTION 'TRUNCATE of % is refused while it is being converted to a hypertable', TG_TABLE_NAME
            USING ERRCODE = 'object_in_use',
                  HINT = 'Finish the conversion (financehub-data convert finalize) or roll it back (convert rollback) first, or remove the rows with DELETE.';
        END
        $fn$;
        """;

    /// <inheritdoc />
    public async Task<ConversionStatus> ConvertAsync(string table, ConversionOptions? options = null, CancellationToken cancellationToken = default)
    {
        var definition = Entities.Hypertables.Get(table);
        options ??= new ConversionOptions();
        await using var conversionLock = await LockAsync(table, cancellationToken);
        var status = await GetStatusAsync(table, cancellationToken);
        if (status.Phase is ConversionPhase.Swapped or ConversionPhase.Finalized or ConversionPhase.ConvertedInPlace or ConversionPhase.Copied)
        {
            return status;
        }

        TableDesign.Stored parts;
        if (status.Phase != ConversionPhase.Copying)
        {
            var (plan, design, rows) = await PlanCoreAsync(definition, options, withStatistics: false, cancellationToken);
            if (plan.Blocked)
            {
                throw new InvalidOperationException(
                    $"{table} cannot be converted: {string.Join("; ", plan.Checks.Where(c => c.Blocking && !c.Ok).Select(c => c.Detail))}. Nothing was changed.");
            }

            if (design is null)
            {
                return status with { Path = "none: " + plan.Checks[^1].Detail };
            }

            if (rows < options.InPlaceThresholdRows)
            {
                return await ConvertInPlaceAsync(design, rows, cancellationToken);
            }

            await PrepareCopyAsync(design!, rows, cancellationToken);
            parts = design!.Parts;
            status = await GetStatusAsync(table, cancellationToken);
        }
        else
        {
            parts = await StoredDesignAsync(table, cancellationToken);
        }

        var newTable = Names.WithSuffix(table, "_hypertable_new");
        await CopyAsync(table, newTable, parts, status, options, cancellationToken);
        foreach (var sql in TableDesign.AfterCopySql(newTable))
        {
            await dataSource.ExecuteAsync(sql, [], cancellationToken);
        }

        // Validation is its own step (ValidateAsync), and the swap refuses to happen until it passes.
        await CompareAndSetPhaseAsync(null, null, table, ConversionPhase.Copying, ConversionPhase.Copied, cancellationToken);
        return await GetStatusAsync(table, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ConversionStatus>> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        var list = new List<ConversionStatus>();
        foreach (var definition in Entities.Hypertables.All)
        {
            list.Add(await GetStatusAsync(definition.Table, cancellationToken));
        }

        return list;
    }

    private async Task<ConversionStatus> GetStatusAsync(string table, CancellationToken cancellationToken)
    {
        if (await dataSource.ScalarAsync<string>($"SELECT to_regclass('{StateSchema}.conversions')::text", [], cancellationToken) is null)
        {
            return new ConversionStatus(table, ConversionPhase.NotStarted, "-", 0, null, null, null);
        }

        var rows = await dataSource.QueryAsync(
            $"SELECT phase, path, rows_copied, position, old_table, updated_at FROM {StateSchema}.conversions WHERE table_name = $1", [table],
            r => new ConversionStatus(table, Enum.Parse<ConversionPhase>(r.GetString(0)), r.GetString(1), r.GetInt64(2),
                r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4), r.GetFieldValue<DateTimeOffset>(5)), cancellationToken);
        return rows.Count > 0 ? rows[0] : new ConversionStatus(table, ConversionPhase.NotStarted, "-", 0, null, null, null);
    }

    private async Task<TableDesign.Stored> StoredDesignAsync(string table, CancellationToken cancellationToken)
    {
        var json = await dataSource.ScalarAsync<string>($"SELECT design::text FROM {StateSchema}.conversions WHERE table_name = $1", [table], cancellationToken);
        return json is null
            ? throw new InvalidOperationException($"The conversion state of {table} has no design (it was started by an older version); roll it back ('convert rollback {table}') and run it again.")
            : JsonSerializer.Deserialize<TableDesign.Stored>(json)!;
    }

    /// <summary>
    /// Moves the phase from <paramref name="expected"/> to <paramref name="next"/> only if it still is
    /// <paramref name="expected"/>; otherwise throws <see cref="ConversionPhaseChangedException"/> (rolling back the caller's transaction).
    /// </summary>
    private async Task CompareAndSetPhaseAsync(
        NpgsqlConnection? connection, NpgsqlTransaction? transaction, string table, ConversionPhase expected, ConversionPhase next, CancellationToken cancellationToken,
        string? oldTable = null, bool resetCopy = false)
    {
        var sql = $"""
            UPDATE {StateSchema}.conversions SET phase = $3, old_table = $4, updated_at = now(){(resetCopy ? ", rows_copied = 0, position = NULL, copy_until = NULL, design = NULL" : "")}
            WHERE table_name = $1 AND phase = $2
            """;
        object?[] parameters = [table, expected.ToString(), next.ToString(), NpgsqlCommands.Text(oldTable)];
        var changed = connection is null
            ? await dataSource.ExecuteAsync(sql, parameters, cancellationToken)
            : await connection.ExecuteAsync(transaction, sql, parameters, cancellationToken);
        if (changed != 1)
        {
            throw new ConversionPhaseChangedException(table, expected, (await GetStatusAsync(table, cancellationToken)).Phase);
        }
    }

    /// <summary>
    /// The table's conversion lock, held by a session of its own until disposed: one step of one conversion at a time,
    /// whichever process runs it. Also creates the state table and the trigger functions.
    /// </summary>
    private async Task<ConversionLock> LockAsync(string table, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            if (await connection.ScalarAsync<bool>(null, "SELECT pg_try_advisory_lock(hashtextextended('financehub.convert:' || $1, 0))", [table], cancellationToken) is not true)
            {
                throw new ConversionInProgressException(table);
            }

            await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
            {
                await connection.ExecuteAsync(transaction, SetupSql, [], cancellationToken);
                await transaction.CommitAsync(cancellationToken);
            }

            return new ConversionLock(connection, table);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private sealed class ConversionLock(NpgsqlConnection connection, string table) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await connection.ExecuteAsync(null, "SELECT pg_advisory_unlock(hashtextextended('financehub.convert:' || $1, 0))", [table], CancellationToken.None);
            }
            finally
            {
                await connection.DisposeAsync();
            }
        }
    }

    private static string Q(string identifier) => Timescale.SqlIdentifiers.Quote(identifier);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Conversion of {Table}: {What}")]
    private partial void LogConverted(string table, string what);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Copied {Rows} rows of {Table} into its hypertable in {ElapsedMs} ms")]
    private partial void LogCopied(string table, long rows, long elapsedMs);
}
