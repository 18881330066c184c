using System.CommandLine;
using System.Globalization;
using FinanceHub.Data.Timescale;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace FinanceHub.Data.Cli.Commands;

/// <summary><c>chunks</c>: the chunks of a hypertable.</summary>
internal sealed class ChunksCommand(CliContext context) : ICliCommand
{
    private readonly Argument<string> _table = new("table") { Description = "Hypertable, e.g. asset_prices_historic." };

    public Command Build()
    {
        var command = new Command("chunks", "List the chunks of a hypertable: time range, size, compression.") { _table };
        command.SetAction((parseResult, ct) => RunAsync(parseResult, ct));
        return command;
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        await using var services = CliContext.CreateServices(parseResult);
        var chunks = await services.GetRequiredService<ITimescaleManager>().GetChunksAsync(parseResult.GetValue(_table)!, cancellationToken);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(chunks);
            return ExitCodes.Ok;
        }

        var table = new Table().AddColumns("chunk", "from", "to", "compressed", "size", "before", "after");
        foreach (var c in chunks)
        {
            table.AddRow(Format.Escape(c.Name), Format.Time(c.RangeStart), Format.Time(c.RangeEnd), c.IsCompressed ? "yes" : "no",
                Format.Bytes(c.TotalBytes), Format.Bytes(c.BytesBeforeCompression), Format.Bytes(c.BytesAfterCompression));
        }

        context.Console.Write(table);
        await context.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{chunks.Count} chunk(s), {chunks.Count(c => c.IsCompressed)} compressed"));
        return ExitCodes.Ok;
    }
}
