using System.CommandLine;
using FinanceHub.Data.Timescale;
using FinanceHub.Data.Timescale.Maintenance;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace FinanceHub.Data.Cli.Commands;

/// <summary><c>maintain</c>: run the maintenance policies that are due.</summary>
internal sealed class MaintainCommand(CliContext context) : ICliCommand
{
    private readonly Option<bool> _force = new("--force") { Description = "Run every enabled policy now, due or not (on the community edition: run TimescaleDB's jobs now)." };

    public Command Build()
    {
        var command = new Command("maintain",
            "Run the maintenance that is due: on the Apache edition, the project's retention and aggregate refresh policies. " +
            "Schedule it (cron, a Kubernetes CronJob) every 15-30 minutes. Exit code 1 when a policy failed.")
        {
            _force,
        };
        command.SetAction((parseResult, ct) => RunAsync(parseResult, ct));
        return command;
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        await using var services = CliContext.CreateServices(parseResult);
        var results = await services.GetRequiredService<ITimescaleManager>().RunMaintenanceAsync(parseResult.GetValue(_force), cancellationToken);
        var failed = results.Count(r => r.Outcome == MaintenanceOutcome.Failed);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(new { results, failed });
        }
        else if (results.Count == 0)
        {
            await context.Output.WriteLineAsync("Nothing is due.");
        }
        else
        {
            var table = new Table().AddColumns("policy", "kind", "target", "outcome", "detail", "seconds");
            foreach (var r in results)
            {
                table.AddRow(Format.Escape(r.Policy), Format.Escape(r.Kind), Format.Escape(r.Target), r.Outcome.ToString(), Format.Escape(r.Detail),
                    r.Duration.TotalSeconds.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture));
            }

            context.Console.Write(table);
        }

        if (failed > 0)
        {
            await context.Error.WriteLineAsync($"financehub-data: error: {failed} maintenance policy run(s) failed; see 'financehub-data status'");
            return ExitCodes.Failed;
        }

        return ExitCodes.Ok;
    }
}
