using System.CommandLine;
using System.Globalization;
using Spectre.Console;

namespace FinanceHub.Data.Cli.Commands;

/// <summary><c>sessions</c>: an exchange calendar's trading sessions over a range of dates.</summary>
internal sealed class SessionsCommand(CliContext context) : ICliCommand
{
    private readonly Argument<string> _calendar = new("calendar") { Description = "XNYS, XLON, XETR, or a calendar defined under FinanceHub:Calendars." };
    private readonly Option<string> _from = new("--from") { Description = "First date, in the exchange's zone.", Required = true };
    private readonly Option<string> _to = new("--to") { Description = "End date (exclusive), in the exchange's zone.", Required = true };

    public Command Build()
    {
        var command = new Command("sessions", "Trading sessions of an exchange calendar: open and close of each day it trades, early closes marked.") { _calendar, _from, _to };
        command.SetAction((parseResult, ct) => RunAsync(parseResult, ct));
        return command;
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        await using var services = CliContext.CreateServices(parseResult, database: false);
        var calendar = OhlcvCommand.Calendar(services, parseResult.GetValue(_calendar)!);
        var from = Parsing.Instant(parseResult.GetValue(_from)!, "--from", calendar.TimeZoneId);
        var to = Parsing.Instant(parseResult.GetValue(_to)!, "--to", calendar.TimeZoneId);
        var sessions = calendar.Sessions(from, to).Where(s => s.Open >= from).ToList();
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(sessions);
            return ExitCodes.Ok;
        }

        var table = new Table().AddColumns("date", "open (local)", "close (local)", "open (UTC)", "close (UTC)", "");
        foreach (var s in sessions)
        {
            table.AddRow(s.Date.ToString("yyyy-MM-dd ddd", CultureInfo.InvariantCulture), Local(s.Open), Local(s.Close), Format.Time(s.Open), Format.Time(s.Close),
                s.IsEarlyClose ? "early close" : "");
        }

        context.Console.Write(table);
        await context.Output.WriteLineAsync($"{sessions.Count} session(s) of {calendar}.");
        return ExitCodes.Ok;

        string Local(DateTimeOffset t) => TimeZoneInfo.ConvertTime(t, calendar.Zone).ToString("HH:mm", CultureInfo.InvariantCulture);
    }
}
