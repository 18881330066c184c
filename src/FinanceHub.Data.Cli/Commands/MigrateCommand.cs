using System.CommandLine;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace FinanceHub.Data.Cli.Commands;

/// <summary><c>migrate</c>: apply the migrations, list them, or go back to one.</summary>
internal sealed class MigrateCommand(CliContext context) : ICliCommand
{
    private readonly Option<bool> _status = new("--status") { Description = "List the migrations and whether each is applied; change nothing." };
    private readonly Option<string?> _to = new("--to") { Description = "Migrate up or down to this migration (name or id); 0 removes them all." };

    public Command Build()
    {
        var command = new Command("migrate", "Apply pending migrations (the same as 'dotnet ef database update'), list them, or roll back.")
        {
            _status, _to,
        };
        command.SetAction((parseResult, ct) => RunAsync(parseResult, ct));
        return command;
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var to = parseResult.GetValue(_to);
        if (parseResult.GetValue(_status) && to is not null)
        {
            throw new CliUsageException("--status lists the migrations and changes nothing; it cannot be combined with --to.");
        }

        await using var services = CliContext.CreateServices(parseResult);
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<FinanceHubDbContext>();
        var all = db.Database.GetMigrations().ToList();
        var applied = (await db.Database.GetAppliedMigrationsAsync(cancellationToken)).ToHashSet(StringComparer.Ordinal);

        if (parseResult.GetValue(_status))
        {
            var states = all.Select(m => new { Migration = m, Applied = applied.Contains(m) }).ToList();
            if (CliContext.Json(parseResult))
            {
                await context.WriteJsonAsync(new { migrations = states, pending = states.Count(s => !s.Applied) });
            }
            else
            {
                var table = new Table().AddColumns("migration", "state");
                foreach (var s in states)
                {
                    table.AddRow(s.Migration, s.Applied ? "applied" : "pending");
                }

                context.Console.Write(table);
            }

            return ExitCodes.Ok;
        }

        string target;
        List<string> steps;
        if (to is null)
        {
            target = all.LastOrDefault() ?? Migration.InitialDatabase;
            steps = [.. all.Where(m => !applied.Contains(m))];
        }
        else
        {
            target = ResolveTarget(all, to);
            var index = target == Migration.InitialDatabase ? -1 : all.IndexOf(target);
            steps = [.. all.Where((m, i) => i > index && !applied.Contains(m)), .. all.Where((m, i) => i > index && applied.Contains(m)).Reverse()];
        }

        // One migration at a time, so the output says what was done, and a failure names the step that failed.
        db.Database.SetCommandTimeout(FinanceHub.Data.Migrations.FinanceHubDesignTimeDbContextFactory.MigrationCommandTimeout);
        var migrator = db.GetService<IMigrator>();
        foreach (var step in steps)
        {
            var reverting = applied.Contains(step);
            var stepTarget = reverting ? PreviousOf(all, step) : step;
            await context.Error.WriteLineAsync(reverting ? $"reverting {step}" : $"applying {step}");
            await migrator.MigrateAsync(stepTarget, cancellationToken);
            await context.Error.WriteLineAsync(reverting ? $"reverted {step}" : $"applied {step}");
        }

        var pending = all.Count - all.IndexOf(target) - 1;
        var result = new { target, steps, upToDate = pending == 0, pending };
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(result);
        }
        else
        {
            await context.Output.WriteLineAsync(steps.Count == 0
                ? "The database is up to date."
                : $"Done: {steps.Count} migration(s) {(to is null ? "applied" : "applied or reverted")}; now at {target}.");
        }

        return ExitCodes.Ok;
    }

    private static string PreviousOf(List<string> all, string migration)
        => all.IndexOf(migration) is > 0 and var i ? all[i - 1] : Migration.InitialDatabase;

    private static string ResolveTarget(List<string> all, string to)
    {
        if (to is "0" || to == Migration.InitialDatabase)
        {
            return Migration.InitialDatabase;
        }

        var matches = all.Where(m => m == to || m.EndsWith("_" + to, StringComparison.OrdinalIgnoreCase)).ToList();
        return matches switch
        {
            [var one] => one,
            [] => throw new CliUsageException($"There is no migration '{to}'. Known: {string.Join(", ", all)} (or 0 for none)."),
            _ => throw new CliUsageException($"'{to}' matches several migrations: {string.Join(", ", matches)}; give the full id."),
        };
    }
}
