using System.CommandLine;
using System.Globalization;
using FinanceHub.Data.Conversion;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace FinanceHub.Data.Cli.Commands;

/// <summary><c>convert check|run|status|validate|swap|rollback|finalize|baseline</c>.</summary>
internal sealed class ConvertCommand(CliContext context) : ICliCommand
{
    private readonly Argument<string> _table = new("table") { Description = "asset_prices_historic, performance_metrics or api_usage_logs." };
    private readonly Option<string> _batchSize = new("--batch-size") { Description = "Rows per batch (50000) or a span of time ('1 day').", DefaultValueFactory = _ => "50000" };
    private readonly Option<bool> _noSwap = new("--no-swap") { Description = "Copy and validate only; swap later with 'convert swap'." };

    public Command Build()
    {
        var table = _table;
        var check = new Command("check", "Check the prerequisites; exit code 1 when something blocks, with the fix.") { table };
        check.SetAction((p, ct) => CheckAsync(p, ct));
        var run = new Command("run", "Copy the table into a hypertable in batches while the application writes, validate, and swap. Resumes a stopped run.")
        {
            table, _batchSize, _noSwap,
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
        var finalize = new Command("finalize", "Drop the old table; no rollback after this.") { table };
        finalize.SetAction((p, ct) => StepAsync(p, (c, t, x) => c.FinalizeAsync(t, x), ct));
        var baseline = new Command("baseline", "Bring a database created by the old application under the migrations, so 'migrate' continues from there.");
        baseline.SetAction((p, ct) => BaselineAsync(p, ct));
        return new Command("convert", "Convert existing plain tables into hypertables, online and reversibly.")
        {
            check, run, status, validate, swap, rollback, finalize, baseline,
        };
    }

    private async Task<int> CheckAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        await using var services = CliContext.CreateServices(parseResult);
        var results = await services.GetRequiredService<IHypertableConverter>().CheckPrerequisitesAsync(parseResult.GetValue(_table)!, cancellationToken);
        var blocked = results.Any(r => r.Blocking && !r.Ok);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(new { blocked, results });
        }
        else
        {
            var grid = new Table().AddColumns("check", "result", "detail");
            foreach (var r in results)
            {
                grid.AddRow(r.Check, r.Ok ? "ok" : r.Blocking ? "BLOCKS" : "note", Format.Escape(r.Detail));
            }

            context.Console.Write(grid);
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
        var text = parseResult.GetValue(_batchSize)!;
        var batch = long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var rows)
            ? rows > 0 ? BatchSize.OfRows(rows) : throw new CliUsageException($"--batch-size must be a positive number of rows or a span of time; got {text}.")
            : BatchSize.OfTime(Parsing.Duration(text, "--batch-size"));
        var table = parseResult.GetValue(_table)!;
        await using var services = CliContext.CreateServices(parseResult);
        var converter = services.GetRequiredService<IHypertableConverter>();
        ConversionStatus status;
        if (context.Interactive && !CliContext.Json(parseResult))
        {
            status = await context.Console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .StartAsync(async progress =>
                {
                    var task = progress.AddTask($"copying {table}");
                    return await converter.ConvertAsync(table, new ConversionOptions
                    {
                        BatchSize = batch,
                        Progress = new Progress<ConversionProgress>(p =>
                        {
                            task.MaxValue = Math.Max(p.RowsTotal, 1);
                            task.Value = p.RowsCopied;
                            task.Description = $"copying {table} ({p.RowsPerSecond:N0} rows/s)";
                        }),
                    }, cancellationToken);
                });
        }
        else
        {
            status = await converter.ConvertAsync(table, new ConversionOptions
            {
                BatchSize = batch,
                Progress = new Progress<ConversionProgress>(p => context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"copied {p.RowsCopied:N0} of {p.RowsTotal:N0} rows through {p.CopiedThrough:O}, {p.RowsPerSecond:N0} rows/s, ETA {p.Remaining?.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) ?? "-"}"))),
            }, cancellationToken);
        }

        if (status.Phase == ConversionPhase.Copied && !parseResult.GetValue(_noSwap))
        {
            status = await converter.SwapAsync(table, cancellationToken);
        }

        return await WriteStatusAsync(parseResult, status);
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
            grid.AddRow(s.Table, s.Phase.ToString(), Format.Escape(s.Path), s.RowsCopied.ToString("N0", CultureInfo.InvariantCulture), Format.Time(s.CopiedThrough), Format.Escape(s.OldTable));
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

    private async Task<int> BaselineAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        await using var services = CliContext.CreateServices(parseResult);
        await using var scope = services.CreateAsyncScope();
        var result = await DatabaseBaseliner.BaselineAsync(scope.ServiceProvider.GetRequiredService<FinanceHubDbContext>(), cancellationToken);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(result);
        }
        else
        {
            foreach (var line in result.Applied)
            {
                await context.Output.WriteLineAsync(line);
            }

            foreach (var line in result.Blocking)
            {
                await context.Error.WriteLineAsync($"blocks: {line}");
            }

            await context.Output.WriteLineAsync(result.Baselined ? "Baselined: 'financehub-data migrate' continues from here." : "Not baselined.");
        }

        return result.Baselined ? ExitCodes.Ok : ExitCodes.Failed;
    }

    private async Task<int> WriteStatusAsync(ParseResult parseResult, ConversionStatus status)
    {
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(status);
        }
        else
        {
            await context.Output.WriteLineAsync($"{status.Table}: {status.Phase} ({status.Path}; {status.RowsCopied:N0} rows copied).");
        }

        return ExitCodes.Ok;
    }
}
