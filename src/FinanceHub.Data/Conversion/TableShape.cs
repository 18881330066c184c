using FinanceHub.Data.Infrastructure;
using Npgsql;

namespace FinanceHub.Data.Conversion;

/// <summary>
/// A plain table as the catalog describes it: columns, keys, indexes, foreign keys both ways, and the sequences it owns.
/// Read once per step, so every decision of the conversion is made from the table as it is, not as the model says.
/// </summary>
internal sealed record TableShape(
    string Table,
    IReadOnlyList<TableShape.Column> Columns,
    TableShape.Key? PrimaryKey,
    IReadOnlyList<TableShape.Key> UniqueKeys,
    IReadOnlyList<TableShape.Index> Indexes,
    IReadOnlyList<TableShape.ForeignKey> ForeignKeys,
    IReadOnlyList<TableShape.ForeignKey> ReferencedBy,
    IReadOnlyList<TableShape.OwnedSequence> Sequences)
{
    /// <summary>A column: name, type as SQL, NOT NULL, identity kind (<c>a</c>, <c>d</c> or empty), default.</summary>
    public sealed record Column(string Name, string Type, bool NotNull, string Identity, string? Default);

    /// <summary>A primary key or unique constraint/index. <see cref="Simple"/>: plain columns, no predicate.</summary>
    public sealed record Key(string Name, IReadOnlyList<string> Columns, bool IsConstraint, bool Simple, string Definition);

    /// <summary>A non-unique index that is not a constraint, with its leading column.</summary>
    public sealed record Index(string Name, string Definition, string? LeadingColumn);

    /// <summary>A foreign key: name, the referencing table, and its definition.</summary>
    public sealed record ForeignKey(string Name, string Table, string Definition);

    /// <summary>A sequence owned by a column of the table (serial, bigserial), not an identity's own.</summary>
    public sealed record OwnedSequence(string Sequence, string Column);

    /// <summary>Names of the table's keys, constraints and indexes (which a swap renames).</summary>
    public IEnumerable<string> IndexAndConstraintNames()
        => new[] { PrimaryKey?.Name }.OfType<string>().Concat(UniqueKeys.Select(k => k.Name)).Concat(ForeignKeys.Select(f => f.Name)).Concat(Indexes.Select(i => i.Name));

    /// <summary>The column named <paramref name="name"/>, or null.</summary>
    public Column? Find(string name) => Columns.FirstOrDefault(c => c.Name == name);

    /// <summary>Reads <paramref name="table"/> (in the search path); null when there is no such table.</summary>
    public static async Task<TableShape?> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string table, CancellationToken cancellationToken)
    {
        if (await connection.ScalarAsync<string>(transaction, "SELECT to_regclass(quote_ident($1))::text", [table], cancellationToken) is null)
        {
            return null;
        }

        object?[] name = [table];
        var columns = await connection.QueryAsync(transaction,
            """
            SELECT attname::text, format_type(atttypid, atttypmod), attnotnull, attidentity::text, pg_get_expr(d.adbin, d.adrelid)
            FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = quote_ident($1)::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """, name, r => new Column(r.GetString(0), r.GetString(1), r.GetBoolean(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4)), cancellationToken);
        var keys = await connection.QueryAsync(transaction,
            """
            SELECT coalesce(k.conname, c.relname)::text, i.indisprimary, k.oid IS NOT NULL,
                   i.indexprs IS NULL AND i.indpred IS NULL AND NOT (0 = ANY (i.indkey)),
                   coalesce(pg_get_constraintdef(k.oid), pg_get_indexdef(i.indexrelid)),
                   ARRAY(SELECT a.attname::text FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY u(attnum, n)
                         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.attnum ORDER BY u.n)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.contype IN ('p', 'u')
            WHERE i.indrelid = quote_ident($1)::regclass AND i.indisunique ORDER BY i.indisprimary DESC, 1
            """, name, r => (Primary: r.GetBoolean(1),
                Key: new Key(r.GetString(0), r.GetFieldValue<string[]>(5), r.GetBoolean(2), r.GetBoolean(3), r.GetString(4))), cancellationToken);
        var indexes = await connection.QueryAsync(transaction,
            """
            SELECT c.relname::text, pg_get_indexdef(i.indexrelid),
                   (SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[0] AND i.indkey[0] <> 0)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = quote_ident($1)::regclass AND NOT i.indisunique ORDER BY 1
            """, name, r => new Index(r.GetString(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2)), cancellationToken);
        var foreignKeys = await connection.QueryAsync(transaction,
            """
            SELECT conname::text, conrelid::regclass::text, pg_get_constraintdef(oid), conrelid = quote_ident($1)::regclass
            FROM pg_constraint WHERE contype = 'f' AND (conrelid = quote_ident($1)::regclass OR confrelid = quote_ident($1)::regclass) ORDER BY 1
            """, name, r => (From: r.GetBoolean(3), Key: new ForeignKey(r.GetString(0), r.GetString(1), r.GetString(2))), cancellationToken);
        var sequences = await connection.QueryAsync(transaction,
            """
            SELECT d.objid::regclass::text, a.attname::text
            FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = quote_ident($1)::regclass
              AND d.deptype = 'a' AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S'
            ORDER BY 2
            """, name, r => new OwnedSequence(r.GetString(0), r.GetString(1)), cancellationToken);
        return new TableShape(table, columns, keys.FirstOrDefault(k => k.Primary).Key, [.. keys.Where(k => !k.Primary).Select(k => k.Key)], indexes,
            [.. foreignKeys.Where(f => f.From).Select(f => f.Key)], [.. foreignKeys.Where(f => !f.From && f.Key.Table != table).Select(f => f.Key)], sequences);
    }
}
