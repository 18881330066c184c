using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace FinanceHub.Data.Replicas;

/// <summary>
/// <see cref="FinanceHubDbContext"/>s for reading: on the read endpoint when it answers and is fresh enough at creation,
/// else on the primary; no change tracking, and SaveChanges refuses. Without a read endpoint they read the primary. A
/// context keeps the server it was made on: create one per unit of work.
/// </summary>
public interface IFinanceHubReadContextFactory
{
    /// <summary>A read-only context; <paramref name="maxStaleness"/> as in <see cref="Querying.OhlcvOptions.MaxStaleness"/>.</summary>
    Task<FinanceHubDbContext> CreateAsync(TimeSpan? maxStaleness = null, CancellationToken cancellationToken = default);
}

/// <inheritdoc />
public sealed class FinanceHubReadContextFactory(ReplicaRouter router) : IFinanceHubReadContextFactory
{
    /// <inheritdoc />
    public async Task<FinanceHubDbContext> CreateAsync(TimeSpan? maxStaleness = null, CancellationToken cancellationToken = default)
    {
        var route = await router.ChooseAsync(maxStaleness, cancellationToken);
        if (route.IsReplica)
        {
            // A context chooses its server once: make sure the replica answers now, or use the primary.
            try
            {
                await using var connection = await route.DataSource.OpenConnectionAsync(cancellationToken);
                await using var ping = new Npgsql.NpgsqlCommand("SELECT 1", connection);
                await ping.ExecuteScalarAsync(cancellationToken);
            }
            catch (Exception ex) when (ReplicaRouter.IsUnavailable(ex) && !cancellationToken.IsCancellationRequested)
            {
                router.ReportFailure(ex);
                route = new ReadRoute(router.Primary, false, $"the read endpoint failed ({ex.Message})");
            }
        }

        var builder = new DbContextOptionsBuilder<FinanceHubDbContext>();
        builder.UseFinanceHubNpgsql(route.DataSource)
            .UseQueryTrackingBehavior(QueryTrackingBehavior.NoTracking)
            .AddInterceptors(ReadOnlyInterceptor.Instance);
        return new FinanceHubDbContext(builder.Options);
    }

    private sealed class ReadOnlyInterceptor : SaveChangesInterceptor
    {
        public static readonly ReadOnlyInterceptor Instance = new();

        private const string Message =
            "This context is for reads (IFinanceHubReadContextFactory, possibly on a read replica); write through FinanceHubDbContext, which uses the primary.";

        public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result) => throw new InvalidOperationException(Message);

        public override ValueTask<InterceptionResult<int>> SavingChangesAsync(
            DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException(Message);
    }
}
