using System.CommandLine;
using FinanceHub.Data.Timescale;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace FinanceHub.Data.Cli.Commands;

/// <summary><c>compress</c>: compression statistics, compress or decompress chunks now (community edition).</summary>
internal sealed class CompressCommand(CliContext context) : ICliCommand
{
    private readonly Argument<string> _table = new("table") { Description = "Hypertable." };
    private readonly Option<string?> _olderThan = new("--older-than") { Description = "Compress the chunks older than this now, e.g. '30 days'." };
    private readonly Option<bool> _decompress = new("--decompress") { Description = "Decompress every compressed chunk (or those newer than --newer-than)." };
    private readonly Option<string?> _newerThan = new("--newer-than") { Description = "With --decompress: only chunks newer than this." };

    public Command Build()
    {
        var command = new Command("compress",
            "Show compression statistics of a hypertable, or compress / decompress chunks now. Needs the community edition.")
        {
            _table, _olderThan, _decompress, _newerThan,
        };
        command.SetAction((parseResult, ct) => RunAsync(parseResult, ct));
        return command;
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var table = parseResult.GetValue(_table)!;
        var (olderThan, decompress, newerThan) = (parseResult.GetValue(_olderThan), parseResult.GetValue(_decompress), parseResult.GetValue(_newerThan));
        if (olderThan is not null && decompress)
        {
            throw new CliUsageException("compress: --older-than compresses and --decompress decompresses; give one of them.");
        }

        await using var services = CliContext.CreateServices(parseResult);
        var manager = services.GetRequiredService<ITimescaleManager>();
        int? changed = null;
        if (olderThan is not null)
        {
            changed = await manager.CompressChunksAsync(table, Parsing.Duration(olderThan, "--older-than"), cancellationToken);
        }
        else if (decompress)
        {
            changed = await manager.DecompressChunksAsync(table, newerThan is null ? null : Parsing.Duration(newerThan, "--newer-than"), cancellationToken);
        }

        var stats = await manager.GetCompressionStatsAsync(table, cancellationToken);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(new { changedChunks = changed, stats });
            return ExitCodes.Ok;
        }

        if (changed is { } n)
        {
            await context.Output.WriteLineAsync($"{(decompress ? "Decompressed" : "Compressed")} {n} chunk(s) of {table}.");
        }

        var grid = new Table().AddColumns("hypertable", "chunks", "compressed", "before", "after", "ratio");
        grid.AddRow(Format.Escape(stats.Hypertable), stats.TotalChunks.ToString(System.Globalization.CultureInfo.InvariantCulture),
            stats.CompressedChunks.ToString(System.Globalization.CultureInfo.InvariantCulture), Format.Bytes(stats.BytesBeforeCompression),
            Format.Bytes(stats.BytesAfterCompression), Format.Ratio(stats.Ratio));
        context.Console.Write(grid);
        return ExitCodes.Ok;
    }
}
