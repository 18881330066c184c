using System.CommandLine;
using FinanceHub.Data.Timescale;
using Microsoft.Extensions.DependencyInjection;

namespace FinanceHub.Data.Cli.Commands;

/// <summary><c>retention</c>: set or remove a hypertable's retention, or drop old chunks now.</summary>
internal sealed class RetentionCommand(CliContext context) : ICliCommand
{
    private readonly Argument<string> _table = new("table") { Description = "Hypertable." };
    private readonly Option<string?> _set = new("--set") { Description = "Keep this much history, e.g. '730 days' (a job on community, a project policy on Apache)." };
    private readonly Option<bool> _remove = new("--remove") { Description = "Remove the retention policy." };
    private readonly Option<string?> _dropOlderThan = new("--drop-older-than") { Description = "Drop the chunks older than this now, e.g. '90 days'." };
    private readonly Option<bool> _dryRun = new("--dry-run") { Description = "With --drop-older-than: list the chunks it would drop, and drop nothing." };

    public Command Build()
    {
        var command = new Command("retention",
            "Show, set or remove the retention of a hypertable, or drop its old chunks now (the price aggregates keep their candles).")
        {
            _table, _set, _remove, _dropOlderThan, _dryRun,
        };
        command.SetAction((parseResult, ct) => RunAsync(parseResult, ct));
        return command;
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var (set, remove, drop, dryRun) = (parseResult.GetValue(_set), parseResult.GetValue(_remove), parseResult.GetValue(_dropOlderThan), parseResult.GetValue(_dryRun));
        if ((set is not null ? 1 : 0) + (remove ? 1 : 0) + (drop is not null ? 1 : 0) > 1)
        {
            throw new CliUsageException("retention: give at most one of --set <duration>, --remove, --drop-older-than <duration> (none shows the current retention).");
        }

        if (dryRun && drop is null)
        {
            throw new CliUsageException("retention: --dry-run goes with --drop-older-than.");
        }

        var table = parseResult.GetValue(_table)!;
        await using var services = CliContext.CreateServices(parseResult);
        var manager = services.GetRequiredService<ITimescaleManager>();
        object result;
        string message;
        if (set is null && !remove && drop is null)
        {
            var current = await manager.GetRetentionPolicyAsync(table, cancellationToken);
            (result, message) = (new { table, retention = current is { } c ? Durations.Describe(c) : null },
                current is { } d ? $"Retention of {table}: rows older than {Durations.Describe(d)} are dropped." : $"{table} has no retention policy.");
        }
        else if (drop is not null && dryRun)
        {
            var age = Parsing.Duration(drop, "--drop-older-than");
            var cutoff = DateTimeOffset.UtcNow - age;
            var chunks = (await manager.GetChunksAsync(table, cancellationToken)).Where(c => c.RangeEnd <= cutoff).ToList();
            (result, message) = (new { table, dryRun = true, chunks = chunks.Select(c => new { c.Name, c.RangeStart, c.RangeEnd, c.TotalBytes }) },
                $"Would drop {chunks.Count} chunk(s) of {table} older than {Durations.Describe(age)} " +
                $"({Format.Bytes(chunks.Sum(c => c.TotalBytes))}{(chunks.Count > 0 ? $", {Format.Time(chunks[0].RangeStart)} to {Format.Time(chunks[^1].RangeEnd)}" : "")}); nothing was dropped.");
        }
        else if (set is not null)
        {
            var dropAfter = Parsing.Duration(set, "--set");
            await manager.SetRetentionPolicyAsync(table, dropAfter, cancellationToken);
            (result, message) = (new { table, retention = Durations.Describe(dropAfter) }, $"Retention of {table} is now {Durations.Describe(dropAfter)}.");
        }
        else if (remove)
        {
            var removed = await manager.RemoveRetentionPolicyAsync(table, cancellationToken);
            (result, message) = (new { table, removed }, removed ? $"Retention of {table} removed." : $"{table} had no retention policy.");
        }
        else
        {
            var age = Parsing.Duration(drop!, "--drop-older-than");
            var dropped = await manager.DropChunksOlderThanAsync(table, age, cancellationToken);
            (result, message) = (new { table, droppedChunks = dropped }, $"Dropped {dropped} chunk(s) of {table} older than {Durations.Describe(age)}.");
        }

        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(result);
        }
        else
        {
            await context.Output.WriteLineAsync(message);
        }

        return ExitCodes.Ok;
    }
}
