using System.CommandLine;
using FinanceHub.Data.Cli.Commands;
using Npgsql;

namespace FinanceHub.Data.Cli;

/// <summary>The <c>financehub-data</c> command line, runnable in-process (tests) or as the tool's entry point.</summary>
public static class CliApplication
{
    /// <summary>Parses <paramref name="args"/>, runs the command, and returns its exit code (see <see cref="ExitCodes"/>).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, bool interactive, CancellationToken cancellationToken = default)
        => await RunAsync(args, output, error, interactive, Console.In, cancellationToken);

    /// <inheritdoc cref="RunAsync(string[], TextWriter, TextWriter, bool, CancellationToken)"/>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, bool interactive, TextReader input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(input);
        var context = new CliContext(output, error, interactive);
        var root = BuildRootCommand(context);
        var parseResult = root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            // Bad usage is exit code 2, whatever System.CommandLine's default: an unknown command or option, a missing value.
            foreach (var parseError in parseResult.Errors)
            {
                await error.WriteLineAsync($"financehub-data: error: {parseError.Message}");
            }

            await error.WriteLineAsync($"Run '{string.Join(' ', CommandPath(parseResult).Prepend("financehub-data"))} --help' for usage.");
            return ExitCodes.Usage;
        }

        if (parseResult.GetValue(GlobalOptions.PasswordStdin))
        {
            if (await input.ReadLineAsync(cancellationToken) is not { } line)
            {
                await error.WriteLineAsync("financehub-data: error: --password-stdin: standard input ended before a password line; pipe it in, e.g. printf '%s\\n' \"$PW\" | financehub-data ... --password-stdin");
                return ExitCodes.Usage;
            }

            CliContext.StdinPassword.Value = line.TrimEnd('\r');
        }

        try
        {
            return await parseResult.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false }, cancellationToken);
        }
        catch (Exception ex) when (ExitCodes.Classify(ex) is var (code, reason))
        {
            await error.WriteLineAsync($"financehub-data: error: {reason}");
            if (parseResult.GetValue(GlobalOptions.Verbose))
            {
                // The whole chain, for a bug report; without --verbose one line says what happened and what to do.
                await error.WriteLineAsync(ex.ToString());
            }
            else if (ex is not (NpgsqlException or InvalidOperationException or ArgumentException or CliUsageException or IOException
                         or OperationCanceledException or Microsoft.Extensions.Options.OptionsValidationException))
            {
                // Something unforeseen: the one line may not be enough. Foreseen failures stay one line (pipelines parse it).
                await error.WriteLineAsync("(--verbose shows the exception's detail)");
            }

            return code;
        }
    }

    private static List<string> CommandPath(ParseResult parseResult)
    {
        var names = new List<string>();
        for (var result = parseResult.CommandResult; result?.Parent is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
        {
            names.Insert(0, result.Command.Name);
        }

        return names;
    }

    internal static RootCommand BuildRootCommand(CliContext context)
    {
        var root = new RootCommand(
            "FinanceHub.Data: migrate, inspect and maintain the FinanceHub time-series database (PostgreSQL + TimescaleDB).\n" +
            "Connection: --connection, else FINANCEHUB_CONNECTION_STRING, else TIMESCALE_DB_HOST/PORT/NAME/USER/PASSWORD.\n" +
            "Password: --password-stdin, TIMESCALE_DB_PASSWORD, PGPASSWORD or PGPASSFILE (keep it out of --connection).\n" +
            "Exit codes: 0 ok, 1 the operation failed, 2 bad usage or configuration, 3 the database cannot be reached or the connection was lost, 4 a statement timed out.");
        root.Options.Add(GlobalOptions.Connection);
        root.Options.Add(GlobalOptions.Json);
        root.Options.Add(GlobalOptions.Verbose);
        root.Options.Add(GlobalOptions.PasswordStdin);
        foreach (var command in new ICliCommand[]
                 {
                     new StatusCommand(context), new MigrateCommand(context), new MaintainCommand(context), new ChunksCommand(context),
                     new CompressCommand(context), new RetentionCommand(context), new IngestCommand(context), new OhlcvCommand(context), new AsOfCommand(context), new SessionsCommand(context),
                     new BucketCommand(context), new ArchiveCommand(context), new RestoreCommand(context), new ArchivesCommand(context),
                     new ConvertCommand(context), new DemoCommand(context),
                 })
        {
            root.Subcommands.Add(command.Build());
        }

        return root;
    }
}

/// <summary>Options every command takes.</summary>
internal static class GlobalOptions
{
    public static readonly Option<string?> Connection = new("--connection", "-c")
    {
        Description = "Npgsql connection string (overrides FINANCEHUB_CONNECTION_STRING and TIMESCALE_DB_*).",
        Recursive = true,
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Write machine-readable JSON to standard output instead of tables.",
        Recursive = true,
    };

    public static readonly Option<bool> PasswordStdin = new("--password-stdin")
    {
        Description = "Read the database password from the first line of standard input (not from --connection, where the process list and shell history would show it).",
        Recursive = true,
    };

    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Log what the library does (to standard error).",
        Recursive = true,
    };
}

/// <summary>Exit codes that pipelines can rely on.</summary>
public static class ExitCodes
{
    /// <summary>Everything worked.</summary>
    public const int Ok = 0;

    /// <summary>The operation ran and failed (a failed policy, a refused step).</summary>
    public const int Failed = 1;

    /// <summary>Bad arguments or configuration.</summary>
    public const int Usage = 2;

    /// <summary>The database cannot be reached, or the connection was lost in the middle of the operation.</summary>
    public const int Unreachable = 3;

    /// <summary>A statement timed out (the command timeout, or the server's statement_timeout).</summary>
    public const int Timeout = 4;

    private const string Resume = "nothing half-done was kept: run the command again once the database is back, and it continues where it stopped";

    internal static (int Code, string Reason)? Classify(Exception exception) => exception switch
    {
        OperationCanceledException => (Failed, "cancelled"),
        // After a load's rows were sent for commit: its own words say what is known and what to run.
        FinanceHub.Data.Ingest.LoadInterruptedException e => (Unreachable, OneLine(CliWording.Of(e.Message))),
        PostgresException { SqlState: PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification } e =>
            (Usage, OneLine($"the database refused the login ({e.SqlState}: {e.MessageText}); check the user and password in --connection, " +
                            "FINANCEHUB_CONNECTION_STRING or TIMESCALE_DB_USER/TIMESCALE_DB_PASSWORD")),
        NpgsqlException e when e.Message.StartsWith("No password has been provided", StringComparison.Ordinal) =>
            (Usage, "the database asks for a password and none was given: pipe it to --password-stdin, or set TIMESCALE_DB_PASSWORD, PGPASSWORD or a PGPASSFILE (not in --connection, where the process list shows it)"),
        PostgresException { SqlState: PostgresErrorCodes.InvalidCatalogName } e =>
            (Usage, OneLine($"{e.MessageText}; check the database name in --connection, FINANCEHUB_CONNECTION_STRING or TIMESCALE_DB_NAME")),
        // The project's own argument checks are bad usage; an ArgumentException from deeper down (a driver, the runtime) in
        // the middle of an operation is a failure of the operation, not of what the user typed.
        ArgumentException e when IsOurs(e) => (Usage, OneLine(CliWording.Of(e.ParamName is { } name ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message))),
        CliUsageException e => (Usage, OneLine(e.Message)),
        Microsoft.Extensions.Options.OptionsValidationException e => (Usage, OneLine(string.Join(" ", e.Failures))),
        // The server's statement_timeout, or Npgsql cancelling a statement past its command timeout ("user request"); a
        // cancellation the user asked for (Ctrl+C) is an OperationCanceledException instead.
        PostgresException { SqlState: PostgresErrorCodes.QueryCanceled } e =>
            (Timeout, OneLine($"a statement timed out ({e.SqlState}: {e.MessageText}); raise statement_timeout, or run it when the database is less busy")),
        PostgresException { SqlState: PostgresErrorCodes.CannotConnectNow } e =>
            (Unreachable, OneLine($"the database is starting up or shutting down ({e.SqlState}: {e.MessageText}); try again in a moment")),
        PostgresException { SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown } e =>
            (Unreachable, OneLine($"the connection to the database was lost in the middle of the operation ({e.SqlState}: {e.MessageText}); {Resume}")),
        NpgsqlException { InnerException: TimeoutException } e when IsDuringStatement(e) =>
            (Timeout, OneLine($"a statement timed out ({e.InnerException!.Message}); raise the command timeout ('Command Timeout=...' in the connection string), or run it when the database is less busy")),
        NpgsqlException { InnerException: EndOfStreamException or IOException or System.Net.Sockets.SocketException } e when IsDuringStatement(e) =>
            (Unreachable, OneLine($"the connection to the database was lost in the middle of the operation ({e.InnerException!.Message}); {Resume}")),
        NpgsqlException { InnerException: System.Net.Sockets.SocketException or TimeoutException } e => (Unreachable, OneLine($"cannot reach the database: {e.Message}")),
        PostgresException e => (Failed, OneLine($"{e.SqlState}: {e.MessageText}{(e.Hint is null ? "" : $" ({e.Hint})")}")),
        InvalidOperationException e => (Failed, OneLine(CliWording.Of(e.Message))),
        IOException e => (Failed, OneLine(e.Message)),
        _ => (Failed, OneLine($"{exception.GetType().Name}: {exception.Message}")),
    };

    /// <summary>Whether the first frame outside the runtime's own throw helpers (<c>ArgumentException.ThrowIf...</c>) is the project's.</summary>
    private static bool IsOurs(Exception exception)
        => new System.Diagnostics.StackTrace(exception, false).GetFrames()
               .Select(f => f.GetMethod()?.DeclaringType?.Assembly)
               .FirstOrDefault(a => a is not null && a != typeof(object).Assembly) is { } assembly
           && (assembly == typeof(ExitCodes).Assembly || assembly == typeof(FinanceHubDbContext).Assembly);

    /// <summary>Npgsql's words for a failure while a statement was being sent or its result read (not while connecting).</summary>
    private static bool IsDuringStatement(NpgsqlException exception)
        => exception.Message.StartsWith("Exception while reading from stream", StringComparison.Ordinal)
           || exception.Message.StartsWith("Exception while writing to stream", StringComparison.Ordinal)
           || exception.Message.StartsWith("Exception while flushing stream", StringComparison.Ordinal);

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}

/// <summary>
/// The library's messages name its API (<c>UnknownSymbolMode.Create</c>); on the command line the same advice names the
/// flag that does it.
/// </summary>
internal static class CliWording
{
    private static readonly (string Api, string Cli)[] Phrases =
    [
        ("load with UnknownSymbolMode.Create", "pass --create-symbols"),
        ("load its prices with UnknownSymbolMode.Create", "load its prices with --create-symbols"),
        ("Load with ConflictMode.Skip to keep the rows that are there, or ConflictMode.Update to replace them.",
         "Pass --on-conflict Skip to keep the rows that are there, or --on-conflict Update to replace them."),
        ("(ITimescaleManager.CreateHypertableAsync or 'financehub-data convert')", "(financehub-data convert check, then convert run)"),
        ("load with one stream (Parallelism = 1)", "load with --parallel 1"),
        ("the same load key (the command line's is the file's SHA-256)", "the same file (or --load-key)"),
    ];

    public static string Of(string message)
    {
        foreach (var (api, cli) in Phrases)
        {
            message = message.Replace(api, cli, StringComparison.Ordinal);
        }

        return message;
    }
}

/// <summary>Bad usage found after parsing (a combination of options that makes no sense).</summary>
public sealed class CliUsageException(string message) : Exception(message);
