using System.Text.RegularExpressions;

namespace FinanceHub.Data.Conversion;

/// <summary>Which primary key the hypertable built beside an old table gets.</summary>
public enum ConversionKey
{
    /// <summary>
    /// The model's key (for prices <c>(asset_id, date)</c>), which the project's ingest and migrations rely on; the old
    /// key (a surrogate <c>id</c>) stays unique per time as <c>UNIQUE (id, date)</c>. Refused when the data repeats it.
    /// </summary>
    Model,

    /// <summary>The old primary key extended by the time column (<c>(id, date)</c>); the model's key is not enforced.</summary>
    ExtendedOld,
}

/// <summary>A column the old application named differently from the model: <c>table.model_column=old_column</c>.</summary>
/// <param name="Table">The table.</param>
/// <param name="Column">The model's column name.</param>
/// <param name="OldColumn">The old application's column name; its values are cast to the model's type.</param>
public sealed partial record ColumnMap(string Table, string Column, string OldColumn)
{
    /// <summary>Parses <c>table.model_column=old_column</c>.</summary>
    public static ColumnMap Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var match = Pattern().Match(text);
        return match.Success
            ? new ColumnMap(match.Groups[1].Value, match.Groups[2].Value, match.Groups[3].Value)
            : throw new FormatException($"'{text}' is not a column map; write table.model_column=old_column, for example api_usage_logs.duration_ms=response_time_ms.");
    }

    /// <inheritdoc />
    public override string ToString() => $"{Table}.{Column}={OldColumn}";

    [GeneratedRegex(@"^\s*([A-Za-z_][A-Za-z0-9_$]*)\.([A-Za-z_][A-Za-z0-9_$]*)\s*=\s*([A-Za-z_][A-Za-z0-9_$]*)\s*$")]
    private static partial Regex Pattern();
}

/// <summary>One step of a conversion plan and the SQL it runs.</summary>
/// <param name="Name">Short name (<c>prepare</c>, <c>copy</c>, <c>validate</c>, <c>swap</c>, <c>finalize</c>, ...).</param>
/// <param name="Description">What it does, and what it locks.</param>
/// <param name="Sql">The statements, in order (<c>$1</c>, <c>$2</c> are the values it binds per batch).</param>
public sealed record PlanStep(string Name, string Description, IReadOnlyList<string> Sql);

/// <summary>What converting one table will do: the findings (with fixes for what blocks) and every step with its SQL.</summary>
/// <param name="Table">The table.</param>
/// <param name="Path">The path taken: <c>batched copy</c>, <c>in place</c>, or <c>none</c>.</param>
/// <param name="Checks">The prerequisites and what was decided (key, batch key, columns).</param>
/// <param name="Steps">The steps, in order; empty when blocked or when there is nothing to do.</param>
public sealed record ConversionPlan(string Table, string Path, IReadOnlyList<PrerequisiteResult> Checks, IReadOnlyList<PlanStep> Steps)
{
    /// <summary>Whether something blocks the conversion (see the failed blocking checks).</summary>
    public bool Blocked => Checks.Any(c => c.Blocking && !c.Ok);
}
