using FinanceHub.Data.Entities;
using FinanceHub.Data.Timescale;

namespace FinanceHub.Data.Conversion;

/// <summary>
/// What the hypertable built from an old table looks like, and every statement that builds, fills, checks and swaps it,
/// decided from the table as the catalog describes it (<see cref="TableShape"/>), the model, and the user's options.
/// Pure: the plan shows exactly these statements, and the converter runs exactly these. The parts that later steps need
/// (column expressions, mirror key, batch key) are kept with the conversion's state as <see cref="Stored"/>.
/// </summary>
internal sealed class TableDesign
{
    /// <summary>Stands for the row in column expressions: <c>t.</c> in a copy, <c>($1).</c> in a mirror trigger.</summary>
    public const string Row = "\u0001";

    private readonly HypertableDefinition _definition;
    private readonly TableShape _shape;
    private readonly List<PrerequisiteResult> _checks = [];
    private readonly List<string> _keySql = [];
    private readonly List<string> _inPlaceKeySql = [];
    private readonly List<string> _newKeyNames = [];

    /// <summary>The parts of a design that the steps after the copy need, stored with the conversion's state.</summary>
    /// <param name="Columns">Per column of the new table, in the old table's order: old and new name, and the expressions each way.</param>
    /// <param name="MirrorKey">The old primary key's columns: a mirrored update or delete finds its row by them.</param>
    /// <param name="TimeColumn">The time column's name.</param>
    /// <param name="BatchColumn">The old table's column that batches are ranges of.</param>
    /// <param name="BatchType">Its SQL type.</param>
    /// <param name="OldNames">The old table's keys, constraints and indexes: the swap moves them aside (suffix <c>_pre</c>).</param>
    /// <param name="NewNames">The names the hypertable's keys, constraints and indexes take at the swap (built with suffix <c>_cnv</c>).</param>
    public sealed record Stored(
        IReadOnlyList<MappedColumn> Columns, IReadOnlyList<string> MirrorKey, string TimeColumn, string BatchColumn, string BatchType,
        IReadOnlyList<string> OldNames, IReadOnlyList<string> NewNames)
    {
        /// <summary>The time column of the old table as <c>timestamptz</c>, over <see cref="Row"/>.</summary>
        public string OldTimeAsTimestampTz => Columns.Single(c => c.New == TimeColumn).Forward;
    }

    /// <summary>One column: its name in the old table and the new one, the new value from an old row, and back.</summary>
    public sealed record MappedColumn(string Old, string New, string Forward, string Reverse);

    private TableDesign(HypertableDefinition definition, TableShape shape)
    {
        _definition = definition;
        _shape = shape;
    }

    public string Table => _definition.Table;

    public string NewTable => Names.WithSuffix(Table, "_hypertable_new");

    public string OldTableAfterSwap => Names.WithSuffix(Table, "_pre_hypertable");

    public IReadOnlyList<PrerequisiteResult> Checks => _checks;

    public bool Blocked => _checks.Any(c => c.Blocking && !c.Ok);

    public Stored Parts { get; private set; } = null!;

    /// <summary>The primary key the hypertable gets: constraint name and columns (new names).</summary>
    public (string Name, IReadOnlyList<string> Columns) PrimaryKey { get; private set; }

    /// <summary>Whether the data must be checked for repeated primary key values (the old table does not enforce the new key).</summary>
    public bool KeyNeedsDuplicateCheck { get; private set; }

    /// <summary>Whether batches need an index on the time column that the old table lacks (built concurrently first).</summary>
    public bool NeedsTimeIndex { get; private set; }

    public string TimeIndexName => Names.WithSuffix(Table, "_" + _batchColumn + "_cnv_idx");

    /// <summary>Whether the data can be checked (the table has a primary key and the time column).</summary>
    public bool CanCheckData { get; private set; }

    private string _batchColumn = "";

    /// <summary>Columns renamed or retyped: (old column, its type, new column, its type) for the checks that cast data.</summary>
    public IReadOnlyList<(string Old, string OldType, string New, string NewType)> Retyped { get; private set; } = [];

    /// <summary>Decides the design. Findings that block are in <see cref="Checks"/>; the SQL is only meaningful when none block.</summary>
    public static TableDesign Create(HypertableDefinition definition, TableShape shape, ConversionOptions options, bool zoneKnown)
    {
        var design = new TableDesign(definition, shape);
        design.Decide(options, zoneKnown);
        return design;
    }

    private void Decide(ConversionOptions options, bool zoneKnown)
    {
        var time = _definition.TimeColumn;
        var maps = options.ColumnMaps.Where(m => m.Table == Table).ToList();
        var columns = new List<MappedColumn>();
        var retyped = new List<(string, string, string, string)>();
        if (_shape.Find(time) is null && !maps.Any(m => m.Column == time))
        {
            Block("time column", $"{Table} has no column {time}; the model partitions it by {time}" +
                (maps.Any(m => m.Column == time) ? "" : $" (if the old application named it differently, map it: --map {Table}.{time}=<old name>)"));
        }

        foreach (var column in _shape.Columns)
        {
            // Only maps that are valid apply; the others are blockers below.
            var map = maps.FirstOrDefault(m => m.OldColumn == column.Name && ModelSchema.FindColumn(Table, m.Column) is not null && _shape.Find(m.Column) is null
                && _shape.PrimaryKey?.Columns.Contains(m.OldColumn) != true);
            var newName = map?.Column ?? column.Name;
            var forward = Row + Q(column.Name);
            var reverse = Row + Q(newName);
            if (newName == time)
            {
                (forward, reverse) = TimeExpressions(column, options.TimeZone, zoneKnown);
            }
            else if (map is not null)
            {
                var modelColumn = ModelSchema.FindColumn(Table, map.Column)!;
                forward = $"{Row}{Q(column.Name)}::{modelColumn.StoreType}";
                reverse = $"{Row}{Q(newName)}::{column.Type}";
                retyped.Add((column.Name, column.Type, newName, modelColumn.StoreType));
            }

            columns.Add(new MappedColumn(column.Name, newName, forward, reverse));
        }

        foreach (var map in maps)
        {
            if (ModelSchema.FindColumn(Table, map.Column) is null)
            {
                Block("column map", $"--map {map}: the model's {Table} has no column {map.Column}");
            }
            else if (_shape.Find(map.OldColumn) is null)
            {
                Block("column map", $"--map {map}: {Table} has no column {map.OldColumn}");
            }
            else if (_shape.Find(map.Column) is not null)
            {
                Block("column map", $"--map {map}: {Table} already has a column {map.Column}; drop one of them or leave out the map");
            }
            else if (_shape.PrimaryKey?.Columns.Contains(map.OldColumn) == true)
            {
                Block("column map", $"--map {map}: {map.OldColumn} is part of the primary key, which the conversion needs unchanged; rename it first (ALTER TABLE {Table} RENAME COLUMN {map.OldColumn} TO {map.Column})");
            }
            else
            {
                Pass("column map", $"{map.OldColumn} becomes {map.Column} ({ModelSchema.FindColumn(Table, map.Column)!.StoreType})");
            }
        }

        Retyped = retyped;
        DecideKeys(options.Key);
        if (_shape.ReferencedBy.Count > 0)
        {
            foreach (var reference in _shape.ReferencedBy)
            {
                Block("foreign keys to the table",
                    $"{reference.Table}.{reference.Name} ({reference.Definition}) references {Table}; a hypertable's keys include {time}, so the reference cannot be kept. " +
                    $"fix: ALTER TABLE {reference.Table} DROP CONSTRAINT {Q(reference.Name)}; (the application keeps the values; re-add it as a check in the application if needed)");
            }
        }
        else
        {
            Pass("foreign keys to the table", "none");
        }

        foreach (var key in _shape.UniqueKeys.Where(k => !k.Simple && !k.Columns.Contains(time)))
        {
            Block("keys include the time column", $"unique index {key.Name} ({key.Definition}) has expressions or a predicate and does not include {time}; " +
                $"fix: DROP INDEX {Q(key.Name)}; and create it again with {time} among its columns");
        }

        var (batchColumn, batchType) = ChooseBatchKey(options.BatchSize, columns.FirstOrDefault(c => c.New == time)?.Old ?? time);
        Parts = new Stored(columns, _shape.PrimaryKey?.Columns ?? [], time, batchColumn, batchType, [.. _shape.IndexAndConstraintNames()], [.. SwappedNames()]);
        if (_shape.Sequences.Count > 0)
        {
            Pass("sequences", string.Join(", ", _shape.Sequences.Select(s => $"{s.Sequence} ({s.Column})")) +
                ": the hypertable's defaults keep using them; finalize makes the hypertable their owner");
        }
    }

    private (string Forward, string Reverse) TimeExpressions(TableShape.Column column, string? zone, bool zoneKnown)
    {
        var name = Q(column.Name);
        switch (column.Type)
        {
            case "timestamp with time zone":
                Pass("time column", $"{column.Name} timestamp with time zone");
                return (Row + name, Row + Q(_definition.TimeColumn));
            case "timestamp without time zone" or "date":
                if (zone is null)
                {
                    Block("time column", $"{column.Name} is {column.Type}, which has no time zone; state the zone its values are in (--time-zone UTC, --time-zone America/New_York): " +
                        "it becomes timestamp with time zone in the hypertable, and the old table keeps its values");
                    return (Row + name, Row + name);
                }

                if (!zoneKnown)
                {
                    Block("time column", $"--time-zone {zone} is not a time zone the server knows (see pg_timezone_names); use an IANA name such as UTC or Europe/Paris");
                    return (Row + name, Row + name);
                }

                Pass("time column", $"{column.Name} {column.Type} in {zone} becomes timestamp with time zone");
                var literal = SqlIdentifiers.Literal(zone);
                var newName = Q(_definition.TimeColumn);
                return column.Type == "date"
                    ? ($"({Row}{name}::timestamp AT TIME ZONE {literal})", $"({Row}{newName} AT TIME ZONE {literal})::date")
                    : ($"({Row}{name} AT TIME ZONE {literal})", $"({Row}{newName} AT TIME ZONE {literal})");
            default:
                Block("time column", $"{column.Name} is {column.Type}; a hypertable of the model needs a timestamp (with time zone)");
                return (Row + name, Row + name);
        }
    }

    private void DecideKeys(ConversionKey choice)
    {
        var time = _definition.TimeColumn;
        var old = _shape.PrimaryKey;
        if (old is null)
        {
            Block("primary key", $"{Table} has no primary key; the conversion mirrors updates and deletes by it. fix: ALTER TABLE {Table} ADD PRIMARY KEY (...)");
            return;
        }

        var model = ModelSchema.PrimaryKey(Table);
        var newNames = _shape.Columns.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        if (choice == ConversionKey.Model && model is { } m && m.Columns.All(newNames.Contains) && m.Columns.Contains(time))
        {
            PrimaryKey = (m.Name, m.Columns);
            KeyNeedsDuplicateCheck = !old.Columns.All(m.Columns.Contains);
        }
        else
        {
            var extended = old.Columns.Contains(time) ? old.Columns : [.. old.Columns, time];
            PrimaryKey = (model?.Name ?? old.Name, extended);
            if (choice == ConversionKey.Model)
            {
                Pass("primary key", $"the model's key ({string.Join(", ", model?.Columns ?? [])}) needs columns {Table} lacks; the old key is extended by {time} instead");
            }
        }

        Pass("primary key", $"{PrimaryKey.Name} ({string.Join(", ", PrimaryKey.Columns)})" + (KeyNeedsDuplicateCheck ? " (checked for repeated values)" : ""));
        var keyColumns = PrimaryKey.Columns.ToHashSet(StringComparer.Ordinal);
        _keySql.Add($"ALTER TABLE {Q(NewTable)} ADD CONSTRAINT {Q(Names.WithSuffix(PrimaryKey.Name, "_cnv"))} PRIMARY KEY ({List(PrimaryKey.Columns)})");
        _newKeyNames.Add(PrimaryKey.Name);
        if (!old.Columns.ToHashSet(StringComparer.Ordinal).SetEquals(keyColumns) || old.Name != PrimaryKey.Name)
        {
            _inPlaceKeySql.Add($"ALTER TABLE {Q(Table)} DROP CONSTRAINT {Q(old.Name)}");
            _inPlaceKeySql.Add($"ALTER TABLE {Q(Table)} ADD CONSTRAINT {Q(PrimaryKey.Name)} PRIMARY KEY ({List(PrimaryKey.Columns)})");
        }

        // The old key and every other unique key stay unique, per time: a hypertable's unique keys include its time column.
        IEnumerable<TableShape.Key> others = old.Name == PrimaryKey.Name ? _shape.UniqueKeys : [old, .. _shape.UniqueKeys];
        foreach (var key in others)
        {
            var columns = key.Columns.Contains(time) ? key.Columns : [.. key.Columns, time];
            if (columns.ToHashSet(StringComparer.Ordinal).SetEquals(keyColumns) || (!key.Simple && !key.Columns.Contains(time)))
            {
                if (key != old && key.Simple)
                {
                    _inPlaceKeySql.Add(key.IsConstraint ? $"ALTER TABLE {Q(Table)} DROP CONSTRAINT {Q(key.Name)}" : $"DROP INDEX {Q(key.Name)}");
                }

                continue;
            }

            _newKeyNames.Add(key.Name);
            if (!key.Simple)
            {
                _keySql.Add(IndexOn(key.Definition, Names.WithSuffix(key.Name, "_cnv"), NewTable));
                continue;
            }

            _keySql.Add($"ALTER TABLE {Q(NewTable)} ADD CONSTRAINT {Q(Names.WithSuffix(key.Name, "_cnv"))} UNIQUE ({List(columns)})");
            if (!key.Columns.Contains(time) && key != old)
            {
                _inPlaceKeySql.Add(key.IsConstraint ? $"ALTER TABLE {Q(Table)} DROP CONSTRAINT {Q(key.Name)}" : $"DROP INDEX {Q(key.Name)}");
            }

            if (!key.Columns.Contains(time) || key == old)
            {
                _inPlaceKeySql.Add($"ALTER TABLE {Q(Table)} ADD CONSTRAINT {Q(key.Name)} UNIQUE ({List(columns)})");
            }

            if (key == old)
            {
                Pass("old key kept", $"{key.Name} ({List(key.Columns)}) stays unique per {time}: UNIQUE ({List(columns)})");
            }
        }
    }

    private (string Column, string Type) ChooseBatchKey(BatchSize batchSize, string time)
    {
        _batchColumn = time;
        CanCheckData = _shape.PrimaryKey is not null && _shape.Find(time) is not null;
        var pk = _shape.PrimaryKey;
        if (batchSize.Span is null && pk is { Columns.Count: 1 } && _shape.Find(pk.Columns[0]) is { Type: "bigint" or "integer" or "smallint" } id)
        {
            _batchColumn = id.Name;
            Pass("batches", $"ranges of {id.Name}, read by the primary key's index");
            return (id.Name, id.Type);
        }

        var timeType = _shape.Find(time)?.Type ?? "timestamp with time zone";
        var indexed = _shape.Indexes.Any(i => i.LeadingColumn == time)
            || (_shape.PrimaryKey is { } p && p.Columns.Count > 0 && p.Columns[0] == time)
            || _shape.UniqueKeys.Any(k => k.Simple && k.Columns.Count > 0 && k.Columns[0] == time);
        NeedsTimeIndex = !indexed;
        Pass("batches", indexed
            ? $"ranges of {time}, read by an index on it"
            : $"ranges of {time}; {Table} has no index that starts with it, so one is built first without blocking writes ({TimeIndexName}, CREATE INDEX CONCURRENTLY)");
        return (time, timeType);
    }

    /// <summary>Builds the hypertable beside the table, with the mirror, in one transaction.</summary>
    public IReadOnlyList<string> PrepareSql()
    {
        var sql = new List<string>
        {
            $"DROP TABLE IF EXISTS {Q(NewTable)}",
            $"CREATE TABLE {Q(NewTable)} (LIKE {Q(Table)} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)",
        };
        sql.AddRange(_keySql);
        var time = _definition.TimeColumn;
        foreach (var foreignKey in _shape.ForeignKeys)
        {
            sql.Add($"ALTER TABLE {Q(NewTable)} ADD CONSTRAINT {Q(Names.WithSuffix(foreignKey.Name, "_cnv"))} {foreignKey.Definition}");
        }

        foreach (var index in _shape.Indexes.Where(i => i.Name != TimeIndexName))
        {
            sql.Add(IndexOn(index.Definition, Names.WithSuffix(index.Name, "_cnv"), NewTable));
        }

        sql.AddRange(ColumnChangesSql(NewTable, withUsing: false));
        sql.Add($"SELECT create_hypertable({SqlIdentifiers.Literal(Q(NewTable))}::regclass, by_range({SqlIdentifiers.Literal(time)}::name, {ChunkInterval}), create_default_indexes => false)");
        // Each batch commits, so autovacuum would start on the new chunks while the copy still fills them, competing for
        // the same CPUs; it is back on (and the table analyzed) when the copy ends.
        sql.Add($"ALTER TABLE {Q(NewTable)} SET (autovacuum_enabled = false)");
        sql.AddRange(MirrorSql(Table, NewTable, Parts, toNew: true));
        return sql;
    }

    /// <summary>After the copy: autovacuum back on, statistics for the planner.</summary>
    public static IReadOnlyList<string> AfterCopySql(string newTable) =>
        [$"ALTER TABLE {Q(newTable)} RESET (autovacuum_enabled)", $"ANALYZE {Q(newTable)}"];

    /// <summary>Converts a small table where it is: the same keys and column changes, then <c>migrate_data</c>, in one transaction.</summary>
    public IReadOnlyList<string> InPlaceSql()
    {
        var sql = new List<string>(_inPlaceKeySql);
        sql.AddRange(ColumnChangesSql(Table, withUsing: true));
        sql.Add($"SELECT create_hypertable({SqlIdentifiers.Literal(Q(Table))}::regclass, by_range({SqlIdentifiers.Literal(_definition.TimeColumn)}::name, {ChunkInterval}), migrate_data => true, create_default_indexes => false)");
        return sql;
    }

    /// <summary>The index built first when batches need one on the time column; it does not block writes.</summary>
    public string TimeIndexSql() => $"CREATE INDEX CONCURRENTLY IF NOT EXISTS {Q(TimeIndexName)} ON {Q(Table)} ({Q(Parts.BatchColumn)})";

    /// <summary>Names the new table's keys, constraints and indexes get at the swap (built under the same names plus <c>_cnv</c>).</summary>
    public IEnumerable<string> SwappedNames()
        => _newKeyNames.Concat(_shape.ForeignKeys.Select(f => f.Name)).Concat(_shape.Indexes.Where(i => i.Name != TimeIndexName).Select(i => i.Name));

    /// <summary>Refuses TRUNCATE of <paramref name="table"/> (the old table after the swap: rollback needs its rows).</summary>
    public static string RefuseTruncateSql(string table)
        => $"CREATE TRIGGER {Q(RefuseTruncate)} BEFORE TRUNCATE ON {Q(table)} FOR EACH STATEMENT EXECUTE FUNCTION {HypertableConverter.StateSchema}.refuse_truncate()";

    private IEnumerable<string> ColumnChangesSql(string table, bool withUsing)
    {
        foreach (var column in Parts.Columns)
        {
            var old = _shape.Find(column.Old)!;
            if (column.New == _definition.TimeColumn && old.Type != "timestamp with time zone")
            {
                yield return $"ALTER TABLE {Q(table)} ALTER COLUMN {Q(column.Old)} TYPE timestamp with time zone" +
                    (withUsing ? $" USING {column.Forward.Replace(Row, "", StringComparison.Ordinal)}" : "");
            }

            if (column.New != column.Old)
            {
                yield return $"ALTER TABLE {Q(table)} RENAME COLUMN {Q(column.Old)} TO {Q(column.New)}";
                if (column.New != _definition.TimeColumn)
                {
                    var type = ModelSchema.FindColumn(Table, column.New)!.StoreType;
                    yield return $"ALTER TABLE {Q(table)} ALTER COLUMN {Q(column.New)} TYPE {type} USING {Q(column.New)}::{type}";
                }
            }
        }

        yield return $"ALTER TABLE {Q(table)} ALTER COLUMN {Q(_definition.TimeColumn)} SET NOT NULL";
    }

    private string ChunkInterval => SqlIdentifiers.Interval(Querying.BucketWidth.Parse(_definition.ChunkInterval).Duration);

    /// <summary>
    /// Triggers on <paramref name="source"/> that apply every row change to <paramref name="target"/> (forward: old table
    /// to hypertable, or back after the swap), and refuse TRUNCATE, which no row trigger sees.
    /// </summary>
    public static IReadOnlyList<string> MirrorSql(string source, string target, Stored parts, bool toNew)
    {
        var time = parts.TimeColumn;
        string Over(string expression) => expression.Replace(Row, "($1).", StringComparison.Ordinal);
        string delete, insert;
        if (toNew)
        {
            var keys = parts.MirrorKey.Select(k => parts.Columns.Single(c => c.Old == k)).ToList();
            // The time column in the predicate lets the hypertable look in one chunk only.
            delete = $"DELETE FROM {Q(target)} WHERE ({List(keys.Select(k => k.New))}) = ({string.Join(", ", keys.Select(k => Over(k.Forward)))}) " +
                     $"AND {Q(time)} = {Over(parts.OldTimeAsTimestampTz)}";
            insert = $"INSERT INTO {Q(target)} ({List(parts.Columns.Select(c => c.New))}) OVERRIDING SYSTEM VALUE SELECT {string.Join(", ", parts.Columns.Select(c => Over(c.Forward)))} ON CONFLICT DO NOTHING";
        }
        else
        {
            var keys = parts.MirrorKey.Select(k => parts.Columns.Single(c => c.Old == k)).ToList();
            delete = $"DELETE FROM {Q(target)} WHERE ({List(keys.Select(k => k.Old))}) = ({string.Join(", ", keys.Select(k => Over(k.Reverse)))})";
            insert = $"INSERT INTO {Q(target)} ({List(parts.Columns.Select(c => c.Old))}) OVERRIDING SYSTEM VALUE SELECT {string.Join(", ", parts.Columns.Select(c => Over(c.Reverse)))} ON CONFLICT DO NOTHING";
        }

        var name = toNew ? MirrorToNew : MirrorToOld;
        return
        [
            $"CREATE TRIGGER {Q(name)} AFTER INSERT OR UPDATE OR DELETE ON {Q(source)} FOR EACH ROW EXECUTE FUNCTION {HypertableConverter.StateSchema}.mirror({SqlIdentifiers.Literal(delete)}, {SqlIdentifiers.Literal(insert)})",
            RefuseTruncateSql(source),
        ];
    }

    /// <summary>Drops the triggers of a conversion from <paramref name="table"/>.</summary>
    public static IReadOnlyList<string> DropTriggersSql(string table) =>
    [
        $"DROP TRIGGER IF EXISTS {Q(MirrorToNew)} ON {Q(table)}",
        $"DROP TRIGGER IF EXISTS {Q(MirrorToOld)} ON {Q(table)}",
        $"DROP TRIGGER IF EXISTS {Q(RefuseTruncate)} ON {Q(table)}",
    ];

    public const string MirrorToNew = "financehub_mirror_to_hypertable";

    public const string MirrorToOld = "financehub_mirror_to_old";

    public const string RefuseTruncate = "financehub_refuse_truncate";

    /// <summary>One batch's copy: rows whose batch key is in (<c>$1</c>, <c>$2</c>] (from <c>$1</c> inclusive for the first).</summary>
    public static string CopySql(string table, string newTable, Stored parts, bool first)
    {
        var key = $"t.{Q(parts.BatchColumn)}";
        return $"INSERT INTO {Q(newTable)} ({List(parts.Columns.Select(c => c.New))}) OVERRIDING SYSTEM VALUE " +
               $"SELECT {string.Join(", ", parts.Columns.Select(c => c.Forward.Replace(Row, "t.", StringComparison.Ordinal)))} FROM {Q(table)} t " +
               $"WHERE {key} {(first ? ">=" : ">")} $1::text::{parts.BatchType} AND {key} <= $2::text::{parts.BatchType}";
    }

    /// <summary>The end of the next batch: the batch key <c>$2</c> rows after <c>$1</c>, at most <c>$3</c>.</summary>
    public static string NextBoundarySql(string table, Stored parts, bool first)
    {
        var key = $"t.{Q(parts.BatchColumn)}";
        return $"SELECT least(coalesce((SELECT {key} FROM {Q(table)} t WHERE {key} {(first ? ">=" : ">")} $1::text::{parts.BatchType} ORDER BY {key} OFFSET $2 LIMIT 1), " +
               $"$3::text::{parts.BatchType}), $3::text::{parts.BatchType})::text";
    }

    /// <summary>The end of the next batch of a span of time: <c>$1 + $2</c>, at most <c>$3</c>.</summary>
    public static string NextSpanSql(Stored parts)
        => $"SELECT least(($1::text::{parts.BatchType} + $2::interval)::{parts.BatchType}, $3::text::{parts.BatchType})::text";

    /// <summary>Rows, first and last batch key of the old table.</summary>
    public static string BoundsSql(string table, Stored parts, bool count)
        => $"SELECT {(count ? "count(*)" : "0::bigint")}, min({Q(parts.BatchColumn)})::text, max({Q(parts.BatchColumn)})::text FROM {Q(table)}";

    /// <summary>Rows and a content checksum per time range (<c>$1</c> wide), of the old table (as the hypertable would hold it) or the new.</summary>
    public static string ChecksumSql(string table, Stored parts, bool old)
    {
        var columns = parts.Columns.Select(c => old ? c.Forward.Replace(Row, "t.", StringComparison.Ordinal) : "t." + Q(c.New));
        var time = old ? parts.OldTimeAsTimestampTz.Replace(Row, "t.", StringComparison.Ordinal) : "t." + Q(parts.TimeColumn);
        return $"SELECT time_bucket($1, {time}), count(*), coalesce(sum(hash_record_extended(ROW({string.Join(", ", columns)}), 0)::numeric), 0) FROM {Q(table)} t GROUP BY 1";
    }

    /// <summary>An index definition from <c>pg_get_indexdef</c> built again under <paramref name="name"/> on <paramref name="table"/>.</summary>
    private static string IndexOn(string definition, string name, string table)
    {
        var unique = definition.StartsWith("CREATE UNIQUE INDEX ", StringComparison.Ordinal) ? "UNIQUE " : "";
        return $"CREATE {unique}INDEX {Q(name)} ON {Q(table)} {definition[definition.IndexOf(" USING ", StringComparison.Ordinal)..].TrimStart()}";
    }

    private void Block(string check, string detail) => _checks.Add(new PrerequisiteResult(check, false, true, detail));

    private void Pass(string check, string detail) => _checks.Add(new PrerequisiteResult(check, true, false, detail));

    private static string List(IEnumerable<string> columns) => string.Join(", ", columns.Select(Q));

    private static string Q(string identifier) => SqlIdentifiers.Quote(identifier);
}

/// <summary>Names PostgreSQL accepts (63 bytes at most) with a suffix.</summary>
internal static class Names
{
    /// <summary><paramref name="name"/> cut (by UTF-8 bytes, never inside a character) so that it fits 63 bytes with <paramref name="suffix"/>.</summary>
    public static string WithSuffix(string name, string suffix)
    {
        var limit = 63 - System.Text.Encoding.UTF8.GetByteCount(suffix);
        var end = name.Length;
        while (end > 0 && System.Text.Encoding.UTF8.GetByteCount(name.AsSpan(0, end)) > limit)
        {
            end--;
            if (end > 0 && char.IsLowSurrogate(name[end]))
            {
                end--;
            }
        }

        return name[..end] + suffix;
    }
}
