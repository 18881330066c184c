using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using FinanceHub.Data.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace FinanceHub.Data.Cli;

/// <summary>Where a command writes, and how it gets the library's services.</summary>
internal sealed class CliContext(TextWriter output, TextWriter error, bool interactive)
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public TextWriter Output { get; } = output;

    public TextWriter Error { get; } = error;

    /// <summary>Whether a person watches a terminal (progress bars) or output is redirected (plain lines).</summary>
    public bool Interactive { get; } = interactive;

    /// <summary>A console for tables, writing to <see cref="Output"/>.</summary>
    public IAnsiConsole Console { get; } = CreateConsole(output, interactive);

    private static IAnsiConsole CreateConsole(TextWriter output, bool interactive)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Yes : InteractionSupport.No,
        });
        if (!interactive)
        {
            // Redirected output goes to logs and files: do not wrap tables at 80 columns.
            console.Profile.Width = 200;
        }

        return console;
    }

    /// <summary>A password read from standard input (<c>--password-stdin</c>) for this run, kept out of the process list.</summary>
    internal static readonly AsyncLocal<string?> StdinPassword = new();

    private readonly Lock _errorLock = new();

    /// <summary>
    /// Progress that writes a line to standard error on the caller's thread, one line at a time: reports from background
    /// callbacks never interleave (<see cref="Progress{T}"/> would post them to the thread pool).
    /// </summary>
    public IProgress<T> ProgressLines<T>(Func<T, string> line) => new LineProgress<T>(value =>
    {
        lock (_errorLock)
        {
            Error.WriteLine(line(value));
        }
    });

    /// <summary>Progress that runs <paramref name="report"/> on the caller's thread (for progress bars).</summary>
    public static IProgress<T> Inline<T>(Action<T> report) => new LineProgress<T>(report);

    private sealed class LineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    /// <summary>The library's services for the connection the command line asks for.</summary>
    public static ServiceProvider CreateServices(ParseResult parseResult, bool database = true, Action<IServiceCollection>? configure = null)
    {
        var settings = new Dictionary<string, string?>();
        if (parseResult.GetValue(GlobalOptions.Connection) is { Length: > 0 } connection)
        {
            settings[$"{DatabaseOptions.SectionName}:ConnectionString"] = connection;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging(logging =>
        {
            logging.AddSimpleConsole(o => o.SingleLine = true);
            logging.AddFilter((category, level) => parseResult.GetValue(GlobalOptions.Verbose)
                ? level >= LogLevel.Information
                : level >= LogLevel.Warning && category?.StartsWith("Microsoft.EntityFrameworkCore", StringComparison.Ordinal) != true);
            logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        });
        // Trading calendars come from environment variables in .NET's form (FinanceHub__Calendars__XTKS__TimeZone=Asia/Tokyo),
        // and only they: the database keeps its own variables and options.
        services.AddSingleton(new Data.Querying.Sessions.ExchangeCalendars(new ConfigurationBuilder().AddEnvironmentVariables().Build()));
        services.AddFinanceHubData(configuration);
        if (StdinPassword.Value is { } password)
        {
            services.PostConfigure<DatabaseOptions>(o => o.Password = password);
        }

        // A --connection given on the command line wins over the environment, which AddFinanceHubData overlays.
        if (settings.Count > 0)
        {
            // The read endpoint of the environment belongs to the server the environment names, not to this one.
            services.PostConfigure<DatabaseOptions>(o => (o.ConnectionString, o.ReadConnectionString) = (settings[$"{DatabaseOptions.SectionName}:ConnectionString"], null));
        }

        configure?.Invoke(services);
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        if (database && !provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<DatabaseOptions>>().Value.IsConfigured)
        {
            throw new CliUsageException(DatabaseOptions.NotConfiguredMessage);
        }

        return provider;
    }

    public static bool Json(ParseResult parseResult) => parseResult.GetValue(GlobalOptions.Json);

    public Task WriteJsonAsync<T>(T value) => Output.WriteLineAsync(JsonSerializer.Serialize(value, JsonOptions));
}
