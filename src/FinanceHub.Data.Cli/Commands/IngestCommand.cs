using System.CommandLine;
using System.Globalization;
using System.Runtime.CompilerServices;
using CsvHelper;
using FinanceHub.Data.Ingest;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace FinanceHub.Data.Cli.Commands;

/// <summary><c>ingest</c>: load a CSV file of prices through binary COPY, with progress.</summary>
internal sealed class IngestCommand(CliContext context) : ICliCommand
{
    private readonly Argument<FileInfo> _file = new("file") { Description = "CSV with a header: symbol,date,open,high,low,close,volume[,adjusted_close,trade_count,source]; '-' reads standard input." };
    private readonly Option<ConflictMode> _onConflict = new("--on-conflict") { Description = "Rows already present: Error, Skip or Update.", DefaultValueFactory = _ => ConflictMode.Error };
    private readonly Option<bool> _createSymbols = new("--create-symbols") { Description = "Create assets for unknown symbols instead of failing." };
    private readonly Option<int> _parallel = new("--parallel")
    {
        Description = "Price loads: COPY streams at once (1-64, default 1). Above 1 the streams commit together once all have written: " +
                      "a bad row or duplicate still leaves nothing, but created symbols stay; a connection lost during the final commits " +
                      "can leave part of the load, which running the same command again completes.",
        DefaultValueFactory = _ => 1,
    };
    private readonly Option<string?> _loadKey = new("--load-key")
    {
        Description = "Price loads: the name under which the load is recorded when it commits (default: the file's SHA-256; none for standard " +
                      "input). Run again with the same key, a load that is in loads nothing and says so, and one interrupted between its " +
                      "streams' commits loads the rest. Give another key to load the same rows again on purpose.",
    };
    private readonly Option<string> _table = new("--table")
    {
        Description = "Where the rows go: asset_prices_historic (price bars, the default), performance_metrics " +
                      "(created_at,metric_name,value[,unit,service,host]) or api_usage_logs " +
                      "(created_at,endpoint,method,status_code,duration_ms[,caller_id,client_ip,user_agent,request_bytes,response_bytes]) or " +
                      "corporate_actions (symbol,kind,effective,value[,source]: kind split or dividend; effective a date, the start of that " +
                      "day in UTC, or an instant; value new:old shares for a split (2, 3:2, 1:10) or the dividend per share; upserted).",
        DefaultValueFactory = _ => "asset_prices_historic",
    };

    public Command Build()
    {
        var command = new Command("ingest", "Load a CSV file into a hypertable through binary COPY (all or nothing). Timestamps must carry an offset (Z or +hh:mm).")
        {
            _file, _onConflict, _createSymbols, _table, _parallel, _loadKey,
        };
        _parallel.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 64)
            {
                result.AddError("--parallel takes a number of COPY streams from 1 to 64.");
            }
        });
        _table.AcceptOnlyFromAmong("asset_prices_historic", "performance_metrics", "api_usage_logs", "corporate_actions");
        command.SetAction((parseResult, ct) => RunAsync(parseResult, ct));
        return command;
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var file = parseResult.GetValue(_file)!;
        if (file.Name != "-" && !file.Exists)
        {
            throw new CliUsageException($"ingest: there is no file '{file.FullName}'.");
        }

        await using var services = CliContext.CreateServices(parseResult);
        var ingestor = services.GetRequiredService<IBulkIngestor>();
        var total = file.Name == "-" ? 0 : file.Length;
        var table = parseResult.GetValue(_table)!;
        var loadKey = parseResult.GetValue(_loadKey);
        if (loadKey is not null && table != "asset_prices_historic")
        {
            throw new CliUsageException($"ingest: --load-key applies to price loads; {table} loads are not recorded (run such a file once).");
        }

        if (loadKey is null && file.Name != "-" && table == "asset_prices_historic")
        {
            // The file's content names the load: the same file run again is the same load, wherever it lies.
            await using var hashed = File.OpenRead(file.FullName);
            loadKey = "sha256:" + Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(hashed, cancellationToken));
        }

        await using var input = file.Name == "-" ? Console.OpenStandardInput() : File.OpenRead(file.FullName);
        var options = new IngestOptions
        {
            OnConflict = parseResult.GetValue(_onConflict),
            OnUnknownSymbol = parseResult.GetValue(_createSymbols) ? UnknownSymbolMode.Create : UnknownSymbolMode.Reject,
            Parallelism = parseResult.GetValue(_parallel),
            LoadKey = loadKey,
        };

        IngestResult result;
        var progressLines = context.ProgressLines<long>(n => $"loaded {n:N0} rows");
        if (table == "performance_metrics")
        {
            result = await ingestor.IngestMetricsAsync(ReadMetricsAsync(input, cancellationToken), progressLines, cancellationToken);
        }
        else if (table == "api_usage_logs")
        {
            result = await ingestor.IngestApiUsageAsync(ReadApiUsageAsync(input, cancellationToken), progressLines, cancellationToken);
        }
        else if (table == "corporate_actions")
        {
            result = await ingestor.IngestCorporateActionsAsync(ReadCorporateActionsAsync(input, cancellationToken), cancellationToken);
        }
        else if (context.Interactive && total > 0 && !CliContext.Json(parseResult))
        {
            result = await context.Console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .StartAsync(async progress =>
                {
                    var task = progress.AddTask($"loading {file.Name}", maxValue: total);
                    return await ingestor.IngestPricesAsync(ReadAsync(input, cancellationToken),
                        options with { Progress = CliContext.Inline<long>(_ => task.Value = input.Position) }, cancellationToken);
                });
        }
        else
        {
            // Redirected output: a plain line every 100,000 rows.
            result = await ingestor.IngestPricesAsync(ReadAsync(input, cancellationToken),
                options with { Progress = context.ProgressLines<long>(n => $"loaded {n:N0} rows") }, cancellationToken);
        }

        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(result);
        }
        else if (result is { State: IngestLoadState.AlreadyLoaded, Earlier: { } earlier })
        {
            await context.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"Nothing left to load: this load ({options.LoadKey}) committed {earlier.Rows:N0} rows at {Format.Time(earlier.LoadedAt)}; nothing was written now."));
        }
        else
        {
            var created = result.AssetsCreated.Count > 0 ? $"; created {string.Join(", ", result.AssetsCreated)}" : "";
            var completed = result.State == IngestLoadState.Completed
                ? "; an earlier run of this load had committed only some of its streams: the rest is in now, the rows it committed kept"
                : "";
            await context.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"Loaded {result.RowsRead:N0} rows ({result.RowsWritten:N0} written, {result.RowsSkipped:N0} skipped) in {result.Elapsed.TotalSeconds:N1} s, {result.RowsPerSecond:N0} rows/s{created}{completed}."));
        }

        foreach (var line in Format.PendingRefreshes(result.AggregateRefreshes))
        {
            await context.Error.WriteLineAsync(line);
        }

        return ExitCodes.Ok;
    }

    private static readonly string[] Required = ["symbol", "date", "open", "high", "low", "close", "volume"];

    private static async IAsyncEnumerable<Entities.PerformanceMetric> ReadMetricsAsync(Stream input, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (row, field) in ReadRowsAsync(input, ["created_at", "metric_name", "value"], ["unit", "service", "host"], cancellationToken))
        {
            yield return new Entities.PerformanceMetric
            {
                CreatedAt = Instant(row, field("created_at")!), MetricName = field("metric_name")!, Value = Number(row, "value", field("value")!),
                Unit = field("unit"), Service = field("service"), Host = field("host"),
            };
        }
    }

    private static async IAsyncEnumerable<Entities.ApiUsageLog> ReadApiUsageAsync(Stream input, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (row, field) in ReadRowsAsync(input, ["created_at", "endpoint", "method", "status_code", "duration_ms"],
                           ["caller_id", "client_ip", "user_agent", "request_bytes", "response_bytes"], cancellationToken))
        {
            yield return new Entities.ApiUsageLog
            {
                CreatedAt = Instant(row, field("created_at")!), Endpoint = field("endpoint")!, Method = field("method")!,
                StatusCode = short.TryParse(field("status_code"), CultureInfo.InvariantCulture, out var code) ? code
                    : throw new InvalidRowException(row, field("endpoint")!, $"status_code '{field("status_code")}' is not a status code"),
                DurationMs = Number(row, "duration_ms", field("duration_ms")!), CallerId = field("caller_id"),
                ClientIp = field("client_ip") is { } ip ? System.Net.IPAddress.TryParse(ip, out var address) ? address
                    : throw new InvalidRowException(row, ip, "client_ip is not an IP address") : null,
                UserAgent = field("user_agent"),
                RequestBytes = field("request_bytes") is { } req ? (long)Number(row, "request_bytes", req) : null,
                ResponseBytes = field("response_bytes") is { } resp ? (long)Number(row, "response_bytes", resp) : null,
            };
        }
    }

    /// <summary>Rows of a CSV with a header: the row number and its fields by column name (null when absent or empty).</summary>
    private static async IAsyncEnumerable<(long Row, Func<string, string?> Field)> ReadRowsAsync(
        Stream input, string[] required, string[] optional, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var csv = CsvReader.Create(input, new CsvReaderOptions { HasHeader = true, TrimWhitespace = true }, true);
        if (!await csv.ReadAsync(cancellationToken))
        {
            yield break;
        }

        var columns = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var name in required.Concat(optional))
        {
            if (csv.TryGetFieldIndex(name, out var index))
            {
                columns[name] = index;
            }
            else if (required.Contains(name))
            {
                throw new CliUsageException($"ingest: the CSV header has no '{name}' column; expected {string.Join(',', required)}[,{string.Join(',', optional)}].");
            }
        }

        long row = 0;
        do
        {
            row++;
            yield return (row, name => columns.TryGetValue(name, out var i) && csv.GetString(i) is { Length: > 0 } text ? text : null);
        }
        while (await csv.ReadAsync(cancellationToken));
    }

    private static async IAsyncEnumerable<CorporateActionRow> ReadCorporateActionsAsync(Stream input, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (row, field) in ReadRowsAsync(input, ["symbol", "kind", "effective", "value"], ["source"], cancellationToken))
        {
            var symbol = field("symbol") ?? "";
            var kind = field("kind")?.ToLowerInvariant() switch
            {
                "split" => Entities.CorporateActionKind.Split,
                "dividend" => Entities.CorporateActionKind.Dividend,
                var other => throw new InvalidRowException(row, symbol, $"kind '{other}' is neither split nor dividend"),
            };
            var text = field("effective") ?? "";
            DateTimeOffset effective;
            try
            {
                effective = Parsing.Instant(text, "effective");
            }
            catch (CliUsageException)
            {
                throw new InvalidRowException(row, symbol,
                    $"effective '{text}' is neither a date (2026-06-10, its first moment in UTC) nor a time (2026-06-10T13:30:00Z; without an offset, UTC)");
            }

            // A split is new:old shares (3:2, 1:10) or one number of new shares per old one (2); a dividend an amount.
            var valueText = field("value") ?? "";
            var parts = valueText.Split(':');
            if (parts.Length > 2 || (parts.Length == 2 && kind != Entities.CorporateActionKind.Split))
            {
                throw new InvalidRowException(row, symbol, $"value '{valueText}' is not {(kind == Entities.CorporateActionKind.Split ? "a split such as 2, 3:2 or 1:10" : "an amount")}");
            }

            yield return new CorporateActionRow(symbol, kind, effective, Dec(parts[0]), field("source"), parts.Length == 2 ? Dec(parts[1]) : 1);

            decimal Dec(string text) => decimal.TryParse(text, NumberStyles.Number | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var v)
                ? v
                : throw new InvalidRowException(row, symbol, $"value '{valueText}' is not {(kind == Entities.CorporateActionKind.Split ? "a split such as 2, 3:2 or 1:10" : "a number")}");
        }
    }

    private static DateTimeOffset Instant(long row, string text)
        => Parsing.HasOffset(text) && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var t)
            ? t
            : throw new InvalidRowException(row, text, "created_at has no offset (or is not a time); write it with Z or +hh:mm, e.g. 2026-01-31T14:00:00Z");

    private static double Number(long row, string column, string text)
        => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new InvalidRowException(row, text, $"{column} '{text}' is not a number");

    private static async IAsyncEnumerable<PriceRow> ReadAsync(Stream input, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (row, field) in ReadRowsAsync(input, Required, ["adjusted_close", "trade_count", "source"], cancellationToken))
        {
            var symbol = field("symbol") ?? "";
            var dateText = field("date") ?? "";
            if (!Parsing.HasOffset(dateText) || !DateTimeOffset.TryParse(dateText, CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
            {
                throw new InvalidRowException(row, $"{symbol} {dateText}",
                    "the date has no offset (or is not a date); write it with Z or +hh:mm, e.g. 2026-01-31T14:00:00Z");
            }

            yield return new PriceRow(symbol, date, Dec("open"), Dec("high"), Dec("low"), Dec("close"), Dec("volume"),
                field("adjusted_close") is not null ? Dec("adjusted_close") : null,
                field("trade_count") is { } trades
                    ? int.TryParse(trades, CultureInfo.InvariantCulture, out var t) ? t : throw new InvalidRowException(row, symbol, $"trade_count '{trades}' is not a whole number")
                    : null,
                field("source"));

            decimal Dec(string name)
            {
                var text = field(name) ?? "";
                return decimal.TryParse(text, NumberStyles.Number | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var value)
                    ? value
                    : throw new InvalidRowException(row, symbol, $"{name} '{text}' is not a number");
            }
        }
    }
}
