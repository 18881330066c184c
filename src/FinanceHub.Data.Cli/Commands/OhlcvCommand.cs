using System.CommandLine;
using System.Globalization;
using FinanceHub.Data.Querying;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace FinanceHub.Data.Cli.Commands;

/// <summary><c>ohlcv</c>: candles of one asset.</summary>
internal sealed class OhlcvCommand(CliContext context) : ICliCommand
{
    private readonly Argument<string> _symbol = new("symbol") { Description = "Asset symbol, e.g. BTC." };
    private readonly Option<string> _interval = new("--interval", "-i") { Description = "1min, 5min, 15min, 30min, 1hour, 4hour, 1day, 1week, 1month.", DefaultValueFactory = _ => "1day" };
    private readonly Option<string> _from = new("--from") { Description = "Start, inclusive: a date (the start of that day in --time-zone), a wall time there (2026-01-01T09:30), or an instant (2026-01-01T00:00:00Z).", Required = true };
    private readonly Option<string> _to = new("--to") { Description = "End, exclusive; read like --from." , Required = true };
    private readonly Option<string> _timeZone = new("--time-zone") { Description = "IANA zone for daily and coarser buckets.", DefaultValueFactory = _ => "UTC" };
    private readonly Option<bool> _fill = new("--fill-gaps") { Description = "Include empty buckets with the previous close carried forward." };
    private readonly Option<bool> _raw = new("--raw") { Description = "Read raw rows only (skip the aggregates)." };
    private readonly Option<string?> _session = new("--session")
    {
        Description = "Candles of an exchange's trading sessions (XNYS, XLON, XETR, or one defined under FinanceHub:Calendars): a day is one session, closed days have none.",
    };
    private readonly Option<bool> _adjusted = new("--adjusted")
    {
        Description = "Adjust for splits (prices and volumes) and cash dividends (the adjusted close) after each row, from corporate_actions.",
    };

    public Command Build()
    {
        var command = new Command("ohlcv", "OHLCV candles of one asset over [--from, --to).") { _symbol, _interval, _from, _to, _timeZone, _fill, _raw, _adjusted, _session };
        command.SetAction((parseResult, ct) => RunAsync(parseResult, ct));
        return command;
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        // Dates mean the start of that day in the candles' zone: 2026-01-01 in New York is 05:00 UTC, so the first
        // daily candle is a whole day, not the tail of the previous one.
        await using var services = CliContext.CreateServices(parseResult);
        var calendar = parseResult.GetValue(_session) is { } name ? Calendar(services, name) : null;
        // With a session, dates are the exchange's days.
        var zone = calendar?.TimeZoneId ?? parseResult.GetValue(_timeZone)!;
        var from = Parsing.Instant(parseResult.GetValue(_from)!, "--from", zone);
        var to = Parsing.Instant(parseResult.GetValue(_to)!, "--to", zone);
        var result = await services.GetRequiredService<ITimeSeriesRepository>().GetOhlcvAsync(
            parseResult.GetValue(_symbol)!, parseResult.GetValue(_interval)!, from, to,
            new OhlcvOptions
            {
                TimeZone = zone, FillGaps = parseResult.GetValue(_fill),
                Source = parseResult.GetValue(_raw) ? CandleSource.Raw : CandleSource.Auto, Adjusted = parseResult.GetValue(_adjusted), Session = calendar,
            }, cancellationToken);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(result);
            return ExitCodes.Ok;
        }

        var adjusted = parseResult.GetValue(_adjusted);
        var table = new Table().AddColumns("bucket", "open", "high", "low", "close", "volume", "trades");
        if (adjusted)
        {
            table.AddColumn("adj close");
        }

        foreach (var c in result.Candles)
        {
            string[] cells = [Format.Time(c.Bucket) + (c.IsFilled ? " (filled)" : ""), N(c.Open), N(c.High), N(c.Low), N(c.Close), N(c.Volume),
                c.TradeCount.ToString(CultureInfo.InvariantCulture)];
            table.AddRow(adjusted ? [.. cells, c.AdjustedClose is { } adj ? N(adj) : "-"] : cells);
        }

        context.Console.Write(table);
        await context.Output.WriteLineAsync($"{result.Candles.Count} candle(s) of {result.Symbol}, {result.Interval} in {result.TimeZone}; " +
            $"{(result.AggregateUsed is { } a ? $"whole buckets from {a}" : "from raw rows")}{(adjusted ? ", adjusted for corporate actions" : "")}{(calendar is null ? "" : $", {calendar.Name} sessions")}.");
        return ExitCodes.Ok;
    }

    private static string N(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    internal static Data.Querying.Sessions.ExchangeCalendar Calendar(IServiceProvider services, string name)
    {
        try
        {
            return services.GetRequiredService<Data.Querying.Sessions.ExchangeCalendars>().Get(name);
        }
        catch (ArgumentException ex)
        {
            throw new CliUsageException(ex.Message);
        }
    }
}
