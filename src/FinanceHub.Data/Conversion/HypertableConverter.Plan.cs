using System.Globalization;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Infrastructure;
using FinanceHub.Data.Timescale.Catalog;
using Npgsql;

namespace FinanceHub.Data.Conversion;

/// <summary>Checks and plan: what a conversion needs, what it decides, and the SQL of every step.</summary>
public sealed partial class HypertableConverter
{
    /// <inheritdoc />
    public async Task<IReadOnlyList<PrerequisiteResult>> CheckPrerequisitesAsync(string table, ConversionOptions? options = null, CancellationToken cancellationToken = default)
        => (await PlanAsync(table, options, cancellationToken)).Checks;

    /// <inheritdoc />
    public async Task<ConversionPlan> PlanAsync(string table, ConversionOptions? options = null, CancellationToken cancellationToken = default)
        => (await PlanCoreAsync(Hypertables.Get(table), options ?? new ConversionOptions(), withStatistics: true, cancellationToken)).Plan;

    private async Task<(ConversionPlan Plan, TableDesign? Design, long Rows)> PlanCoreAsync(
        HypertableDefinition definition, ConversionOptions options, bool withStatistics, CancellationToken cancellationToken)
    {
        foreach (var map in options.ColumnMaps.Where(m => Hypertables.All.All(h => h.Table != m.Table) && ModelSchema.FindTable(m.Table) is null))
        {
            throw new ArgumentException($"--map {map}: the model has no table {map.Table}.", nameof(options));
        }

        var table = definition.Table;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var checks = new List<PrerequisiteResult>();
        var version = await connection.ScalarAsync<int>(null, "SELECT current_setting('server_version_num')::int", [], cancellationToken);
        checks.Add(new("server version", version >= 140000, true,
            version >= 140000 ? $"PostgreSQL {version / 10000}" : $"PostgreSQL {version / 10000} is too old; TimescaleDB 2.x conversions need 14 or later"));
        var available = await connection.ScalarAsync<string>(null, "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'", [], cancellationToken);
        var license = await connection.ScalarAsync<string>(null, "SELECT current_setting('timescaledb.license', true)", [], cancellationToken);
        checks.Add(new("timescaledb available", available is not null, true, available is null
            ? "the server has no timescaledb extension: install it and add it to shared_preload_libraries"
            : $"version {available}, {(license == "timescale" ? "community" : "Apache-2")} edition"));
        var status = await GetStatusAsync(table, cancellationToken);
        if (status.Phase is ConversionPhase.Copying or ConversionPhase.Copied or ConversionPhase.Swapped)
        {
            checks.Add(new("conversion", true, false, $"already {status.Phase}: continue with 'convert run', 'swap', 'finalize' or 'rollback'"));
            return (new ConversionPlan(table, "in progress", checks, []), null, 0);
        }

        var shape = await TableShape.ReadAsync(connection, null, table, cancellationToken);
        if (shape is null)
        {
            checks.Add(new("table exists", false, true, $"there is no table {table}"));
            return (new ConversionPlan(table, "none", checks, []), null, 0);
        }

        var installed = await connection.ScalarAsync<bool>(null, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')", [], cancellationToken);
        if (installed && await new TimescaleCatalog(dataSource).IsHypertableAsync(null, table, cancellationToken))
        {
            checks.Add(new("not yet a hypertable", true, false, "already a hypertable: nothing to convert"));
            return (new ConversionPlan(table, "none", checks, []), null, 0);
        }

        checks.Add(new("not yet a hypertable", true, false, "plain table"));
        var owner = await connection.ScalarAsync<bool>(null,
            "SELECT pg_has_role(current_user, c.relowner, 'USAGE') AND has_schema_privilege(c.relnamespace, 'CREATE') FROM pg_class c WHERE c.oid = quote_ident($1)::regclass",
            [table], cancellationToken);
        checks.Add(new("permissions", owner, true, owner
            ? "owner of the table, may create tables in its schema"
            : $"connect as the owner of {table} (or a member of its role) with CREATE on its schema"));
        var zoneKnown = options.TimeZone is { } zone
            && await connection.ScalarAsync<bool>(null, "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)", [zone], cancellationToken);
        var design = TableDesign.Create(definition, shape, options, zoneKnown);
        checks.AddRange(design.Checks);
        if (design.CanCheckData)
        {
            checks.AddRange(await DataChecksAsync(connection, design, shape, definition, cancellationToken));
        }

        var rows = await connection.ScalarAsync<long>(null, $"SELECT count(*) FROM {Q(table)}", [], cancellationToken);
        if (withStatistics)
        {
            var time = design.Parts.OldTimeAsTimestampTz.Replace(TableDesign.Row, "t.", StringComparison.Ordinal);
            const string Utc = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'";
            var stats = await connection.QueryAsync(null,
                $"SELECT to_char(min({time}) AT TIME ZONE 'UTC', {Utc}), to_char(max({time}) AT TIME ZONE 'UTC', {Utc}), pg_total_relation_size(quote_ident($1)::regclass) FROM {Q(table)} t",
                [table], r => (Min: r.IsDBNull(0) ? "-" : r.GetString(0), Max: r.IsDBNull(1) ? "-" : r.GetString(1), Bytes: r.GetInt64(2)), cancellationToken);
            var (min, max, bytes) = stats[0];
            checks.Add(new("rows and time range", true, false, rows == 0 ? "empty" :
                string.Create(CultureInfo.InvariantCulture, $"{rows:N0} rows from {min} to {max}")));
            checks.Add(new("disk headroom", true, false,
                string.Create(CultureInfo.InvariantCulture, $"the copy needs about {bytes / 1048576.0:N0} MiB free (the table and its indexes once more) until finalize")));
        }

        var inPlace = rows < options.InPlaceThresholdRows;
        var plan = new ConversionPlan(table, inPlace ? "in place" : "batched copy", checks,
            design.Blocked || checks.Any(c => c.Blocking && !c.Ok) ? [] : inPlace ? InPlaceSteps(design, rows) : CopySteps(design, shape, options));
        return (plan, design, rows);
    }

    /// <summary>What the data must satisfy before anything starts, so that no run fails halfway.</summary>
    private static async Task<List<PrerequisiteResult>> DataChecksAsync(
        NpgsqlConnection connection, TableDesign design, TableShape shape, HypertableDefinition definition, CancellationToken cancellationToken)
    {
        var checks = new List<PrerequisiteResult>();
        var table = definition.Table;
        var time = design.Parts.Columns.Single(c => c.New == definition.TimeColumn).Old;
        if (shape.Find(time) is { NotNull: false }
            && await connection.ScalarAsync<bool>(null, $"SELECT EXISTS (SELECT 1 FROM {Q(table)} WHERE {Q(time)} IS NULL)", [], cancellationToken))
        {
            checks.Add(new("time column", false, true, $"{table} has rows without {time}, which a hypertable cannot hold; " +
                $"fix: give them a time (UPDATE {table} SET {time} = ... WHERE {time} IS NULL) or delete them, then ALTER TABLE {table} ALTER COLUMN {time} SET NOT NULL"));
        }

        if (design.KeyNeedsDuplicateCheck)
        {
            // The key as the hypertable will hold it: a converted time can repeat (a wall time that a clock change skipped).
            var key = string.Join(", ", design.PrimaryKey.Columns.Select(c => design.Parts.Columns.Single(m => m.New == c).Forward.Replace(TableDesign.Row, "t.", StringComparison.Ordinal)));
            var repeated = await connection.ScalarAsync<long>(null,
                $"SELECT count(*) FROM (SELECT 1 FROM {Q(table)} t GROUP BY {key} HAVING count(*) > 1) d", [], cancellationToken);
            checks.Add(repeated == 0
                ? new("primary key values", true, false, $"({string.Join(", ", design.PrimaryKey.Columns)}) is unique in the data")
                : new("primary key values", false, true,
                    $"{repeated:N0} value(s) of ({string.Join(", ", design.PrimaryKey.Columns)}) occur more than once, so the model's key cannot be the hypertable's; " +
                    $"see them with SELECT {key}, count(*) FROM {table} t GROUP BY {key} HAVING count(*) > 1; delete the extra rows, or keep the old key extended by the time column (--key extended)"));
        }

        foreach (var (old, oldType, @new, newType) in design.Retyped)
        {
            try
            {
                // Every value, not only the type: a value that does not cast would stop the copy halfway.
                await connection.ExecuteLongAsync(null, $"SELECT count({Q(old)}::{newType}) FROM {Q(table)}", [], cancellationToken);
                checks.Add(new("column values", true, false, $"every {old} ({oldType}) converts to {@new} ({newType})"));
            }
            catch (PostgresException ex)
            {
                checks.Add(new("column values", false, true, $"{old} ({oldType}) does not convert to {@new} ({newType}): {ex.MessageText}; fix the values first, or add {@new} by hand"));
            }
        }

        return checks;
    }

    private static List<PlanStep> InPlaceSteps(TableDesign design, long rows) =>
    [
        new("convert in place", string.Create(CultureInfo.InvariantCulture,
            $"{rows:N0} rows: one transaction that holds an ACCESS EXCLUSIVE lock on {design.Table} (writers wait) while it changes the keys and columns and moves the rows into chunks"),
            design.InPlaceSql()),
    ];

    private static List<PlanStep> CopySteps(TableDesign design, TableShape shape, ConversionOptions options)
    {
        var steps = new List<PlanStep>();
        if (design.NeedsTimeIndex)
        {
            steps.Add(new("index", $"an index for the batches, built without blocking writes (dropped again by rollback, with the old table by finalize)", [design.TimeIndexSql()]));
        }

        steps.Add(new("prepare", $"one short transaction: the hypertable {design.NewTable} beside the table, and triggers on {design.Table} that mirror every insert, update and delete into it and refuse TRUNCATE",
            design.PrepareSql()));
        var parts = design.Parts;
        steps.Add(new("copy", $"in batches by {parts.BatchColumn} ({options.BatchSize}), each in its own transaction that holds a SHARE lock on {design.NewTable} " +
            $"(a writer's mirrored change waits for the batch, never longer), checkpointed so a stopped run resumes",
            [
                $"LOCK TABLE {Q(design.NewTable)} IN SHARE MODE",
                TableDesign.NextBoundarySql(design.Table, parts, first: false),
                TableDesign.CopySql(design.Table, design.NewTable, parts, first: false),
            ]));
        steps.Add(new("validate", "rows and a checksum of every column per chunk-sized range, old table against hypertable (the swap repeats it and refuses on a difference)",
            [TableDesign.ChecksumSql(design.Table, parts, old: true), TableDesign.ChecksumSql(design.NewTable, parts, old: false)]));
        var swap = new List<string>
        {
            "SET LOCAL lock_timeout = '10s'",
            $"LOCK TABLE {Q(design.Table)} IN ACCESS EXCLUSIVE MODE",
        };
        swap.AddRange(TableDesign.DropTriggersSql(design.Table));
        swap.AddRange(shape.IndexAndConstraintNames().Select(n => $"-- rename {n} to {Names.WithSuffix(n, "_pre")}"));
        swap.Add($"ALTER TABLE {Q(design.Table)} RENAME TO {Q(design.OldTableAfterSwap)}");
        swap.AddRange(design.SwappedNames().Select(n => $"-- rename {Names.WithSuffix(n, "_cnv")} to {n}"));
        swap.Add($"ALTER TABLE {Q(design.NewTable)} RENAME TO {Q(design.Table)}");
        swap.AddRange(TableDesign.MirrorSql(design.Table, design.OldTableAfterSwap, parts, toNew: false));
        swap.Add(TableDesign.RefuseTruncateSql(design.OldTableAfterSwap));
        steps.Add(new("swap", $"one transaction of milliseconds: the hypertable takes the name {design.Table}; the old table is kept as {design.OldTableAfterSwap} and mirrored until finalize, so rollback loses nothing",
            swap));
        var finalize = new List<string>(TableDesign.DropTriggersSql(design.Table));
        finalize.AddRange(TableDesign.DropTriggersSql(design.OldTableAfterSwap));
        finalize.AddRange(shape.Sequences.Select(s => $"ALTER SEQUENCE {s.Sequence} OWNED BY {Q(design.Table)}.{Q(parts.Columns.Single(c => c.Old == s.Column).New)}"));
        finalize.Add($"DROP TABLE {Q(design.OldTableAfterSwap)}");
        steps.Add(new("finalize", "when you are satisfied: the hypertable owns the sequences, the old table is dropped; no rollback after this", finalize));
        return steps;
    }
}
