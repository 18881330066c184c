using System.CommandLine;
using System.Globalization;
using FinanceHub.Data.Querying;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace FinanceHub.Data.Cli.Commands;

/// <summary><c>asof</c>: the latest price of each asset at or before an instant.</summary>
internal sealed class AsOfCommand(CliContext context) : ICliCommand
{
    private readonly Argument<string> _symbols = new("symbols") { Description = "Comma-separated symbols, e.g. BTC,ETH." };
    private readonly Option<string> _at = new("--at") { Description = "The instant (2026-03-01T16:00:00Z), or a date or wall time read in --time-zone; default now." };
    private readonly Option<string> _timeZone = new("--time-zone") { Description = "IANA zone that --at without an offset is read in.", DefaultValueFactory = _ => "UTC" };
    private readonly Option<string?> _maxAge = new("--max-age") { Description = "How old a price may be and still count, e.g. '1 day', '15 minutes'; older ones are reported stale." };

    public Command Build()
    {
        var command = new Command("asof", "The latest price of each asset at or before an instant (as-of prices).") { _symbols, _at, _timeZone, _maxAge };
        command.SetAction((parseResult, ct) => RunAsync(parseResult, ct));
        return command;
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var symbols = parseResult.GetValue(_symbols)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (symbols.Length == 0)
        {
            throw new CliUsageException("symbols: give at least one symbol, e.g. BTC,ETH.");
        }

        var at = parseResult.GetValue(_at) is { } text ? Parsing.Instant(text, "--at", parseResult.GetValue(_timeZone)) : DateTimeOffset.UtcNow;
        var maxAge = parseResult.GetValue(_maxAge) is { } age ? Parsing.Duration(age, "--max-age") : (TimeSpan?)null;
        await using var services = CliContext.CreateServices(parseResult);
        var prices = await services.GetRequiredService<IAsOfPriceRepository>().GetPricesAsOfAsync(symbols, at, new AsOfOptions { MaxAge = maxAge }, cancellationToken);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(prices);
            return ExitCodes.Ok;
        }

        var table = new Table().AddColumns("symbol", "status", "price time", "age", "open", "high", "low", "close", "volume");
        foreach (var p in prices)
        {
            table.AddRow(p.Symbol, p.Status.ToString().ToLowerInvariant(), Format.Time(p.LatestDate), p.Age is { } a ? Age(a) : "-",
                N(p.Price?.Open), N(p.Price?.High), N(p.Price?.Low), N(p.Price?.Close), N(p.Price?.Volume));
        }

        context.Console.Write(table);
        await context.Output.WriteLineAsync($"{prices.Count(p => p.Status == AsOfStatus.Found)} of {prices.Count} asset(s) priced as of {Format.Time(at)}" +
            (maxAge is { } m ? $"; prices older than {Age(m)} count as missing." : "."));
        var archived = prices.Where(p => p.Archived is not null).ToList();
        if (archived.Count > 0)
        {
            var span = new ColdRange(archived[0].Archived!.Table, archived.Min(p => p.Archived!.Start), archived.Max(p => p.Archived!.End),
                [.. archived.SelectMany(p => p.Archived!.ArchiveIds).Distinct()]);
            await context.Output.WriteLineAsync(
                $"{archived.Count} asset(s) ({string.Join(", ", archived.Select(p => p.Symbol))}) may have a later price in rows that were archived and dropped " +
                $"between {Format.Time(span.Start)} and {Format.Time(span.End)}; restore them to price these: {span.RestoreCommand}");
        }

        return ExitCodes.Ok;
    }

    private static string N(decimal? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "-";

    private static string Age(TimeSpan age) => age switch
    {
        { TotalDays: >= 1 } => string.Create(CultureInfo.InvariantCulture, $"{age.TotalDays:0.#} d"),
        { TotalHours: >= 1 } => string.Create(CultureInfo.InvariantCulture, $"{age.TotalHours:0.#} h"),
        { TotalMinutes: >= 1 } => string.Create(CultureInfo.InvariantCulture, $"{age.TotalMinutes:0.#} min"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{age.TotalSeconds:0.#} s"),
    };
}
