using FinanceHub.Data.Benchmarks;

// Usage: dotnet run -c Release --project benchmarks/FinanceHub.Data.Benchmarks -- ingest|archive|convert|memory|asof|ladder [--rows N] [--results FILE]
// Needs a database (FINANCEHUB_CONNECTION_STRING or TIMESCALE_DB_*, e.g. eval "$(eng/devstack.sh env)") and psql on PATH.
var command = args.FirstOrDefault() ?? "ingest";
var rows = Argument(args, "--rows", 5_000_000);
var results = args.SkipWhile(a => a != "--results").Skip(1).FirstOrDefault() ?? Path.Combine("benchmarks", "RESULTS.md");
return command switch
{
    "ingest" => await IngestBenchmark.RunAsync(rows, results),
    "archive" => await ArchiveBenchmark.RunAsync(rows, results),
    "convert" => await ConvertBenchmark.RunAsync(rows, results),
    "memory" => await MemoryBenchmark.RunAsync(rows, results),
    "asof" => await AsOfBenchmark.RunAsync(rows, results),
    "ladder" => await LadderBenchmark.RunAsync(results),
    _ => Usage(),
};

static int Argument(string[] args, string name, int fallback)
    => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() is { } value ? int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : fallback;

static int Usage()
{
    Console.Error.WriteLine("usage: FinanceHub.Data.Benchmarks ingest|archive|convert|memory|asof|ladder [--rows N] [--results FILE]");
    return 2;
}
