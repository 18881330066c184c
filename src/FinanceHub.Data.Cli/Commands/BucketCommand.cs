using System.CommandLine;
using System.Globalization;
using FinanceHub.Data.Querying;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace FinanceHub.Data.Cli.Commands;

/// <summary><c>bucket</c>: per-bucket aggregates of a hypertable.</summary>
internal sealed class BucketCommand(CliContext context) : ICliCommand
{
    private readonly Argument<string> _table = new("table") { Description = "asset_prices_historic, performance_metrics or api_usage_logs." };
    private readonly Option<string> _bucket = new("--bucket", "-b") { Description = "Bucket width: '1 hour', '15 minutes', 1day...", DefaultValueFactory = _ => "1 hour" };
    private readonly Option<string> _from = new("--from") { Description = "Start, inclusive.", Required = true };
    private readonly Option<string> _to = new("--to") { Description = "End, exclusive.", Required = true };
    private readonly Option<bool> _perSeries = new("--per-series") { Description = "One row per asset / metric / endpoint." };
    private readonly Option<string?> _series = new("--series") { Description = "Only this symbol / metric / endpoint." };

    public Command Build()
    {
        var command = new Command("bucket", "Count, average, min, max and sum per time bucket of a hypertable.") { _table, _bucket, _from, _to, _perSeries, _series };
        command.SetAction((parseResult, ct) => RunAsync(parseResult, ct));
        return command;
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var query = new TimeBucketQuery(parseResult.GetValue(_table)!, BucketWidth.Parse(parseResult.GetValue(_bucket)!),
            Parsing.Instant(parseResult.GetValue(_from)!, "--from"), Parsing.Instant(parseResult.GetValue(_to)!, "--to"),
            parseResult.GetValue(_perSeries), parseResult.GetValue(_series));
        await using var services = CliContext.CreateServices(parseResult);
        var rows = await services.GetRequiredService<ITimeSeriesRepository>().GetTimeBucketedDataAsync(query, cancellationToken);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(rows);
            return ExitCodes.Ok;
        }

        // Which column the aggregates are of, per table (the repository's measure), so nobody has to guess.
        var (measure, summed) = query.Table switch
        {
            "asset_prices_historic" => ("close", "volume"),
            "api_usage_logs" => ("duration_ms", "duration_ms"),
            _ => ("value", "value"),
        };
        var table = new Table().AddColumns("bucket", "series", "count", $"avg({measure})", $"min({measure})", $"max({measure})", $"sum({summed})");
        foreach (var r in rows)
        {
            table.AddRow(Format.Time(r.Bucket), Format.Escape(r.Series), r.Count.ToString(CultureInfo.InvariantCulture), N(r.Average), N(r.Minimum), N(r.Maximum), N(r.Sum));
        }

        context.Console.Write(table);
        return ExitCodes.Ok;
    }

    private static string N(decimal? value) => value is { } v ? Math.Round(v, 8).ToString(CultureInfo.InvariantCulture) : "-";
}
