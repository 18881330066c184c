using System.CommandLine;
using System.Globalization;
using FinanceHub.Data.Conversion;
using FinanceHub.Data.Entities;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace FinanceHub.Data.Cli.Commands;

/// <summary><c>convert plan|check|run|status|validate|swap|rollback|finalize|baseline</c>.</summary>
internal sealed class ConvertCommand(CliContext context) : ICliCommand
{
    private readonly Argument<string> _table = new("table") { Description = "asset_prices_historic, performance_metrics or api_usage_logs." };
    private readonly Argument<string?> _tables = new("table")
    {
        Description = "asset_prices_historic, performance_metrics or api_usage_logs; every table when left out.", Arity = ArgumentArity.ZeroOrOne,
    };

    private readonly Option<string> _batchSize = new("--batch-size")
    {
        Description = "'auto' (batches of about 400 ms, the longest a writer waits), a number of rows (50000), or a span of time ('1 day').",
        DefaultValueFactory = _ => "auto",
    };

    private readonly Option<bool> _noSwap = new("--no-swap") { Description = "Copy and validate only; swap later with 'convert swap'." };
    private readonly Option<string[]> _map = new("--map")
    {
        Description = "A column the old application named differently: table.model_column=old_column (cast to the model's type). Repeatable.",
        AllowMultipleArgumentsPerToken = false,
    };

    private readonly Option<string?> _timeZone = new("--time-zone")
    {
        Description = "The zone of a time column of type 'timestamp without time zone' or 'date' (UTC, Europe/Paris); it becomes timestamptz.",
    };

    private readonly Option<string> _key = new("--key")
    {
        Description = "The hypertable's primary key: 'model' (the model's key; the old key stays unique per time) or 'extended' (the old key plus the time column).",
        DefaultValueFactory = _ => "model",
    };

    private readonly Option<bool> _dryRun = new("--dry-run") { Description = "Show what baseline would do; change nothing." };

    public Command Build()
    {
        var table = _table;
        var plan = new Command("plan", "Show every step of the conversion and the SQL it runs, for one table or all; changes nothing.") { _tables, _map, _timeZone, _key, _batchSize };
        plan.SetAction((p, ct) => PlanAsync(p, ct));
        var check = new Command("check", "Check the prerequisites; exit code 1 when something blocks, with the fix.") { table, _map, _timeZone, _key };
        check.SetAction((p, ct) => CheckAsync(p, ct));
        var run = new Command("run", "Copy a table (every table when left out) into a hypertable in batches while the application writes, validate, and swap. Resumes a stopped run.")
        {
            _tables, _batchSize, _noSwap, _map, _timeZone, _key,
        };
        run.SetAction((p, ct) => RunAsync(p, ct));
        var status = new Command("status", "Where each table's conversion stands.");
        status.SetAction((p, ct) => StatusAsync(p, ct));
        var validate = new Command("validate", "Compare rows and checksums per time range between the table and its hypertable.") { table };
        validate.SetAction((p, ct) => ValidateAsync(p, ct));
        var swap = new Command("swap", "Give the hypertable the table's name (refused while validation differs).") { table };
        swap.SetAction((p, ct) => StepAsync(p, (c, t, x) => c.SwapAsync(t, x), ct));
        var rollback = new Command("rollback", "Return to the old table, with every row written since.") { table };
        rollback.SetAction((p, ct) => StepAsync(p, (c, t, x) => c.RollbackAsync(t, x), ct));
        var finalize = new Command("finalize", "Hand the old table's sequences to the hypertable and drop the old table (every swapped table when left out); no rollback after this.")
        {
            _tables,
        };
        finalize.SetAction((p, ct) => FinalizeAsync(p, ct));
        var baseline = new Command("baseline", "Bring a database created by the old application under the migrations, so 'migrate' continues from there.") { _map, _dryRun };
        baseline.SetAction((p, ct) => BaselineAsync(p, ct));
        return new Command("convert", "Convert the old application's plain tables into hypertables, online and reversibly: plan, run, finalize, baseline, then migrate.")
        {
            plan, check, run, status, validate, swap, rollback, finalize, baseline,
        };
    }

    private ConversionOptions Options(ParseResult parseResult)
    {
        var text = parseResult.GetValue(_batchSize) ?? "auto";
        var batch = text == "auto" ? new ConversionOptions().BatchSize
            : long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var rows)
                ? rows > 0 ? BatchSize.OfRows(rows) : throw new CliUsageException($"--batch-size must be 'auto', a positive number of rows or a span of time; got {text}.")
                : BatchSize.OfTime(Parsing.Duration(text, "--batch-size"));
        var key = parseResult.GetValue(_key) switch
        {
            "model" or null => ConversionKey.Model,
            "extended" => ConversionKey.ExtendedOld,
            var other => throw new CliUsageException($"--key must be 'model' or 'extended'; got {other}."),
        };
        return new ConversionOptions { BatchSize = batch, ColumnMaps = Maps(parseResult), TimeZone = parseResult.GetValue(_timeZone), Key = key };
    }

    private IReadOnlyList<ColumnMap> Maps(ParseResult parseResult)
    {
        try
        {
            return [.. (parseResult.GetValue(_map) ?? []).Select(ColumnMap.Parse)];
        }
        catch (FormatException ex)
        {
            throw new CliUsageException($"--map: {ex.Message}");
        }
    }

    private static IReadOnlyList<string> Tables(string? table)
    {
        if (table is null)
        {
            return [.. Hypertables.All.Select(h => h.Table)];
        }

        Hypertables.Get(table);
        return [table];
    }

    private async Task<int> PlanAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var options = Options(parseResult);
        await using var services = CliContext.CreateServices(parseResult);
        var converter = services.GetRequiredService<IHypertableConverter>();
        var plans = new List<ConversionPlan>();
        foreach (var table in Tables(parseResult.GetValue(_tables)))
        {
            plans.Add(await converter.PlanAsync(table, options, cancellationToken));
        }

        var blocked = plans.Any(p => p.Blocked);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(new { blocked, tables = plans });
        }
        else
        {
            foreach (var plan in plans)
            {
                context.Console.Write(new Rule($"{plan.Table}: {plan.Path}{(plan.Blocked ? " (BLOCKED)" : "")}").LeftJustified());
                context.Console.Write(ChecksTable(plan.Checks));
                var number = 0;
                foreach (var step in plan.Steps)
                {
                    await context.Output.WriteLineAsync($"{++number}. {step.Name}: {step.Description}");
                    foreach (var sql in step.Sql)
                    {
                        await context.Output.WriteLineAsync($"     {sql}{(sql.StartsWith("--", StringComparison.Ordinal) ? "" : ";")}");
                    }
                }
            }

            if (parseResult.GetValue(_tables) is null)
            {
                var maps = string.Concat(options.ColumnMaps.Select(m => $" --map {m}"));
                await context.Output.WriteLineAsync();
                await context.Output.WriteLineAsync("Then, for the whole database:");
                await context.Output.WriteLineAsync($"  financehub-data convert run{maps}{(options.TimeZone is null ? "" : $" --time-zone {options.TimeZone}")}   (every table above; resumable)");
                await context.Output.WriteLineAsync("  financehub-data convert finalize          (when satisfied: drops the old tables; no rollback after)");
                await context.Output.WriteLineAsync($"  financehub-data convert baseline{maps}   (adds the model's missing columns, records the first migration)");
                await context.Output.WriteLineAsync("  financehub-data migrate                   (the remaining migrations)");
            }
        }

        if (blocked)
        {
            await context.Error.WriteLineAsync("financehub-data: error: the conversion is blocked; apply the fixes above and plan again");
            return ExitCodes.Failed;
        }

        return ExitCodes.Ok;
    }

    private static Table ChecksTable(IEnumerable<PrerequisiteResult> results)
    {
        var grid = new Table().AddColumns("check", "result", "detail");
        foreach (var r in results)
        {
            grid.AddRow(r.Check, r.Ok ? "ok" : r.Blocking ? "BLOCKS" : "note", Format.Escape(r.Detail));
        }

        return grid;
    }

    private async Task<int> CheckAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var options = Options(parseResult);
        await using var services = CliContext.CreateServices(parseResult);
        var results = await services.GetRequiredService<IHypertableConverter>().CheckPrerequisitesAsync(parseResult.GetValue(_table)!, options, cancellationToken);
        var blocked = results.Any(r => r.Blocking && !r.Ok);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(new { blocked, results });
        }
        else
        {
            context.Console.Write(ChecksTable(results));
        }

        if (blocked)
        {
            await context.Error.WriteLineAsync("financehub-data: error: the conversion is blocked; apply the fixes above and check again");
            return ExitCodes.Failed;
        }

        return ExitCodes.Ok;
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var options = Options(parseResult);
        var tables = Tables(parseResult.GetValue(_tables));
        await using var services = CliContext.CreateServices(parseResult);
        var converter = services.GetRequiredService<IHypertableConverter>();
        var statuses = new List<ConversionStatus>();
        foreach (var table in tables)
        {
            var status = await ConvertAsync(parseResult, converter, table, options, cancellationToken);
            if (status.Phase == ConversionPhase.Copied && !parseResult.GetValue(_noSwap))
            {
                status = await converter.SwapAsync(table, cancellationToken);
            }

            statuses.Add(status);
        }

        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync<object>(parseResult.GetValue(_tables) is null ? statuses : statuses[0]);
            return ExitCodes.Ok;
        }

        foreach (var status in statuses)
        {
            await WriteStatusLineAsync(status);
        }

        return ExitCodes.Ok;
    }

    private async Task<ConversionStatus> ConvertAsync(ParseResult parseResult, IHypertableConverter converter, string table, ConversionOptions options, CancellationToken cancellationToken)
    {
        if (context.Interactive && !CliContext.Json(parseResult))
        {
            return await context.Console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .StartAsync(async progress =>
                {
                    var task = progress.AddTask($"copying {table}");
                    return await converter.ConvertAsync(table, options with
                    {
                        Progress = CliContext.Inline<ConversionProgress>(p =>
                        {
                            task.MaxValue = Math.Max(p.RowsTotal, 1);
                            task.Value = p.RowsCopied;
                            task.Description = $"copying {table} ({p.RowsPerSecond:N0} rows/s)";
                        }),
                    }, cancellationToken);
                });
        }

        // One line per batch on standard error, written from the converter's own thread (no interleaving).
        return await converter.ConvertAsync(table, options with
        {
            Progress = context.ProgressLines<ConversionProgress>(p => string.Create(CultureInfo.InvariantCulture,
                $"{p.Table}: copied {p.RowsCopied:N0} of {p.RowsTotal:N0} rows through {p.Position}, {p.RowsPerSecond:N0} rows/s, batch {p.BatchRows:N0} rows in {p.BatchDuration.TotalMilliseconds:N0} ms, ETA {p.Remaining?.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) ?? "-"}")),
        }, cancellationToken);
    }

    private async Task<int> StatusAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        await using var services = CliContext.CreateServices(parseResult);
        var statuses = await services.GetRequiredService<IHypertableConverter>().GetStatusAsync(cancellationToken);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(statuses);
            return ExitCodes.Ok;
        }

        var grid = new Table().AddColumns("table", "phase", "path", "rows copied", "copied through", "old table");
        foreach (var s in statuses)
        {
            grid.AddRow(s.Table, s.Phase.ToString(), Format.Escape(s.Path), s.RowsCopied.ToString("N0", CultureInfo.InvariantCulture), Format.Escape(s.CopiedThrough), Format.Escape(s.OldTable));
        }

        context.Console.Write(grid);
        return ExitCodes.Ok;
    }

    private async Task<int> ValidateAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        await using var services = CliContext.CreateServices(parseResult);
        var ranges = await services.GetRequiredService<IHypertableConverter>().ValidateAsync(parseResult.GetValue(_table)!, cancellationToken);
        var differ = ranges.Count(r => !r.Matches);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(new { differ, ranges });
        }
        else
        {
            var grid = new Table().AddColumns("from", "to", "old rows", "new rows", "checksum", "match");
            foreach (var r in ranges)
            {
                grid.AddRow(Format.Time(r.Start), Format.Time(r.End), r.OldRows.ToString("N0", CultureInfo.InvariantCulture), r.NewRows.ToString("N0", CultureInfo.InvariantCulture),
                    r.ChecksumsMatch ? "same" : "differs", r.Matches ? "yes" : "NO");
            }

            context.Console.Write(grid);
            await context.Output.WriteLineAsync($"{ranges.Count - differ} of {ranges.Count} range(s) match.");
        }

        return differ == 0 ? ExitCodes.Ok : ExitCodes.Failed;
    }

    private async Task<int> StepAsync(ParseResult parseResult, Func<IHypertableConverter, string, CancellationToken, Task<ConversionStatus>> step, CancellationToken cancellationToken)
    {
        await using var services = CliContext.CreateServices(parseResult);
        return await WriteStatusAsync(parseResult, await step(services.GetRequiredService<IHypertableConverter>(), parseResult.GetValue(_table)!, cancellationToken));
    }

    private async Task<int> FinalizeAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var table = parseResult.GetValue(_tables);
        await using var services = CliContext.CreateServices(parseResult);
        var converter = services.GetRequiredService<IHypertableConverter>();
        if (table is not null)
        {
            return await WriteStatusAsync(parseResult, await converter.FinalizeAsync(table, cancellationToken));
        }

        var finalized = new List<ConversionStatus>();
        foreach (var status in (await converter.GetStatusAsync(cancellationToken)).Where(s => s.Phase == ConversionPhase.Swapped))
        {
            finalized.Add(await converter.FinalizeAsync(status.Table, cancellationToken));
        }

        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(finalized);
        }
        else if (finalized.Count == 0)
        {
            await context.Output.WriteLineAsync("No table is swapped and waiting to be finalized ('convert status' shows each table's phase).");
        }

        foreach (var status in CliContext.Json(parseResult) ? [] : finalized)
        {
            await WriteStatusLineAsync(status);
        }

        return ExitCodes.Ok;
    }

    private async Task<int> BaselineAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var maps = Maps(parseResult);
        var dryRun = parseResult.GetValue(_dryRun);
        await using var services = CliContext.CreateServices(parseResult);
        await using var scope = services.CreateAsyncScope();
        var result = await DatabaseBaseliner.BaselineAsync(scope.ServiceProvider.GetRequiredService<FinanceHubDbContext>(), maps, dryRun, cancellationToken);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(result);
        }
        else
        {
            foreach (var line in result.Applied)
            {
                await context.Output.WriteLineAsync(dryRun ? $"would {line}" : line);
            }

            foreach (var line in result.Blocking)
            {
                await context.Error.WriteLineAsync($"blocks: {line}");
            }

            await context.Output.WriteLineAsync(result.Baselined ? "Baselined: 'financehub-data migrate' continues from here."
                : dryRun && result.Blocking.Count == 0 ? "Nothing changed (--dry-run)." : "Not baselined; nothing was changed.");
        }

        return result.Baselined || (dryRun && result.Blocking.Count == 0) ? ExitCodes.Ok : ExitCodes.Failed;
    }

    private async Task<int> WriteStatusAsync(ParseResult parseResult, ConversionStatus status)
    {
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(status);
        }
        else
        {
            await WriteStatusLineAsync(status);
        }

        return ExitCodes.Ok;
    }

    private Task WriteStatusLineAsync(ConversionStatus status)
        => context.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{status.Table}: {status.Phase} ({status.Path}; {status.RowsCopied:N0} rows copied)."));
}
