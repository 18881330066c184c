using FinanceHub.Data;
using FinanceHub.Data.Archiving;
using FinanceHub.Data.Configuration;
using FinanceHub.Data.Conversion;
using FinanceHub.Data.Ingest;
using FinanceHub.Data.Querying;
using FinanceHub.Data.Replicas;
using FinanceHub.Data.Timescale;
using FinanceHub.Data.Timescale.Maintenance;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

// ReSharper disable once CheckNamespace
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers FinanceHub.Data.</summary>
public static class FinanceHubServiceCollectionExtensions
{
    /// <summary>
    /// Registers one <see cref="NpgsqlDataSource"/>, <see cref="FinanceHubDbContext"/> over it, and the project's services.
    /// Database settings come from <c>FinanceHub:Database</c> in <paramref name="configuration"/>, overlaid by the seed's
    /// environment variables (<c>TIMESCALE_DB_*</c>) and <c>FINANCEHUB_CONNECTION_STRING</c>. Registrations use
    /// <c>TryAdd</c>, so anything registered before this call wins.
    /// </summary>
    public static IServiceCollection AddFinanceHubData(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        // The services log through ILogger<T>; a console app that never called AddLogging must still resolve them.
        services.AddLogging();

        services.AddOptions<DatabaseOptions>()
            .Bind(configuration.GetSection(DatabaseOptions.SectionName))
            .PostConfigure(o => o.ApplyEnvironment(Environment.GetEnvironmentVariable))
            .Validate(o => o.IsConfigured, DatabaseOptions.NotConfiguredMessage)
            .ValidateOnStart();

        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            return new NpgsqlDataSourceBuilder(options.BuildConnectionString()).Build();
        });
        services.AddDbContext<FinanceHubDbContext>((sp, builder) => builder.UseFinanceHubNpgsql(sp.GetRequiredService<NpgsqlDataSource>()));
        services.AddOptions<ArchiveOptions>()
            .Bind(configuration.GetSection(ArchiveOptions.SectionName))
            .PostConfigure(o => o.ApplyEnvironment(Environment.GetEnvironmentVariable));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IDataArchiver, DataArchiver>();
        services.TryAddSingleton<IHypertableConverter, HypertableConverter>();
        services.TryAddSingleton<IMaintenanceRunner, MaintenanceRunner>();
        services.TryAddSingleton<ITimescaleManager, TimescaleManager>();
        services.TryAddSingleton<IBulkIngestor, BulkIngestor>();
        // Reads: the read endpoint (FINANCEHUB_READ_CONNECTION_STRING) when configured, through the router; else the primary.
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            var read = options.BuildReadConnectionString();
            return new ReplicaRouter(sp.GetRequiredService<NpgsqlDataSource>(), read is null ? null : new NpgsqlDataSourceBuilder(read).Build(),
                options.MaxReplicaLag, options.ReplicaRetryAfter, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ReplicaRouter>>());
        });
        services.TryAddSingleton<IFinanceHubReadContextFactory, FinanceHubReadContextFactory>();
        services.TryAddSingleton<ITimeSeriesRepository>(sp =>
        {
            var router = sp.GetRequiredService<ReplicaRouter>();
            var primary = new TimeSeriesRepository(router.Primary, sp.GetRequiredService<ITimescaleManager>());
            return router.Replica is null ? primary : new RoutedTimeSeriesRepository(router, primary, new TimeSeriesRepository(router.Replica, ReplicaManager(sp, router.Replica)));
        });
        services.TryAddSingleton<IAsOfPriceRepository>(sp =>
        {
            var router = sp.GetRequiredService<ReplicaRouter>();
            var primary = new AsOfPriceRepository(router.Primary);
            return router.Replica is null ? primary : new RoutedAsOfPriceRepository(router, primary, new AsOfPriceRepository(router.Replica));
        });
        services.TryAddSingleton(_ => new FinanceHub.Data.Querying.Sessions.ExchangeCalendars(configuration));
        return services;
    }

    /// <summary>A manager over the read endpoint, for what reads ask of the catalog there (edition, aggregate watermarks).</summary>
    private static TimescaleManager ReplicaManager(IServiceProvider sp, NpgsqlDataSource replica)
    {
        var options = sp.GetRequiredService<IOptions<DatabaseOptions>>();
        return new TimescaleManager(replica,
            new MaintenanceRunner(replica, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<MaintenanceRunner>>(), options),
            sp.GetRequiredService<ILogger<TimescaleManager>>(), options);
    }
}
